"""Accuracy of archbudget's peak-memory estimate against the oracle (305 measured H100
steps, tests/data/gpu_memory_dev.json), beside two rules of thumb.

Runs the Rust oracle test (which writes target/memory_oracle.json) unless --no-run, then
prints per family x mode: n, fraction within 10% of the measured peak, median |error|,
for archbudget and for:
  thumb-accelerate: weights x (1 + 1 grad + optimizer multiple), fp32 bytes per param
                    (accelerate's estimate-memory style: Adam 2 states, momentum 1, sgd 0);
                    inference: weights only.
  thumb-deepspeed:  16 bytes/param for training (mixed-precision Adam), 4 bytes/param
                    for inference (weights only).
Then the leave-one-out tables of what is calibrated (the cuDNN RNN spaces, cuDNN's
convolution workspace; tests/memory_leave_one_out.rs, target/memory_leave_one_out.json):
for each LSTM and CNN group, each step predicted by the constants calibrated without it
(the held-out set's steps are other combinations of the same grids, so this is how one
of them is predicted), and for each value of each grid axis, the constants calibrated
without that slice, and how well they predict it.
--cases GROUP (e.g. lstm/infer, cnn/train): also every case of that group, measured and
estimated peak, error and the estimate's breakdown at its peak (MiB), worst first.
Stdlib only.
"""
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JSON = os.path.join(ROOT, "target", "memory_oracle.json")
LOO_JSON = os.path.join(ROOT, "target", "memory_leave_one_out.json")
DATA = os.path.join(ROOT, "tests", "data", "gpu_memory_dev.json")


def run_tests():
    for test in ("memory_oracle", "memory_leave_one_out"):
        cmd = ["cargo", "test", "--release", "-p", "archbudget-core", "--test", test, "--", "--nocapture"]
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def thumb_accelerate(case, params):
    if case["mode"] == "infer":
        return 4 * params
    states = {"sgd": 0, "sgd_momentum": 1, "adam": 2, "adamw": 2}[case["optimizer"]]
    return 4 * params * (1 + 1 + states)


def thumb_deepspeed(case, params):
    return (16 if case["mode"] == "train" else 4) * params


def stats(errs):
    errs = [abs(e) for e in errs]
    if not errs:
        return 0, 0.0, 0.0
    return len(errs), sum(e <= 0.10 for e in errs) / len(errs), statistics.median(errs)


def main():
    if "--no-run" not in sys.argv:
        run_tests()
    est = {c["id"]: c for c in json.load(open(JSON))["cases"]}
    cases = {c["id"]: c["case"] for c in json.load(open(DATA))["cases"]}
    groups = defaultdict(lambda: defaultdict(list))
    flops = defaultdict(lambda: [0, 0])
    for cid, row in est.items():
        case, meas = cases[cid], row["measured"]
        peak = meas["peak_bytes"]
        params = meas["params"]
        for g in (row["group"], "all"):
            groups[g]["archbudget"].append(row["estimate"]["peak_bytes"] / peak - 1)
            groups[g]["accelerate"].append(thumb_accelerate(case, params) / peak - 1)
            groups[g]["deepspeed"].append(thumb_deepspeed(case, params) / peak - 1)
            if row["group"] != "lstm/train":  # torch's counter missed cuDNN's LSTM there
                for k in ("flops_fwd", "flops_fwd_bwd"):
                    if meas.get(k):
                        flops[g][0] += 1
                        flops[g][1] += abs(row["estimate"][k] / meas[k] - 1) <= 0.01
    head = f"{'family/mode':<12} {'n':>4} | {'archbudget':^19} | {'accelerate rule':^19} | {'16 B/param rule':^19} | {'FLOPs ±1%':>10}"
    print(head)
    print(f"{'':<12} {'':>4} | {'≤10%':>8} {'median':>9} | {'≤10%':>8} {'median':>9} | {'≤10%':>8} {'median':>9} |")
    print("-" * len(head))
    order = sorted(g for g in groups if g != "all") + ["all"]
    for g in order:
        cols = []
        for k in ("archbudget", "accelerate", "deepspeed"):
            n, w, m = stats(groups[g][k])
            cols.append(f"{100 * w:7.1f}% {100 * m:8.2f}%")
        fn, fok = flops[g]
        fl = f"{100 * fok / fn:6.1f}% /{fn}" if fn else "n/a"
        print(f"{g:<12} {n:>4} | " + " | ".join(cols) + f" | {fl:>10}")
    print_leave_one_out()
    if "--cases" in sys.argv:
        print_cases(est, cases, sys.argv[sys.argv.index("--cases") + 1])


def print_cases(est, cases, group):
    """Every case of `group`, worst first: what the estimate charges at its peak."""
    rows = [r for r in est.values() if r["group"] == group]
    rows.sort(key=lambda r: -abs(r["estimate"]["peak_bytes"] / r["measured"]["peak_bytes"] - 1))
    axes = {"lstm": ("precision", "hidden", "layers", "seq", "batch"),
            "cnn": ("precision", "image", "stages", "convs", "filters", "batchnorm", "batch", "optimizer"),
            "mlp": ("precision", "input_dim", "depth", "width", "batch", "optimizer")}.get(group.split("/")[0], ("precision", "batch"))
    mib = 2 ** 20
    print()
    print(f"{group}: every case, worst first (MiB; the breakdown is the estimate's at its peak)")
    for r in rows:
        case, m, e = cases[r["id"]], r["measured"]["peak_bytes"], r["estimate"]["peak_bytes"]
        what = " ".join(f"{a}={case[a]}" for a in axes if a in case)
        parts = " ".join(f"{k}={v / mib:.1f}" for k, v in r["estimate"]["breakdown"].items() if v)
        print(f"{r['id']:<9} {what:<62} measured {m / mib:8.1f} estimate {e / mib:8.1f} {100 * (e / m - 1):+6.1f}% | {parts}")


def print_leave_one_out():
    tables = json.load(open(LOO_JSON))
    print()
    print("Leave one step out: each LSTM and CNN step predicted by what is calibrated without it")
    head = f"{'group':<11} {'n':>4} | {'≤10%':>7} {'median':>8} | missed by more than 10%"
    print(head)
    print("-" * len(head))
    for r in tables["steps"]:
        missed = " ".join(f"{m['id']} {100 * m['error']:+.1f}%" for m in r["misses"])
        print(f"{r['group']:<11} {r['n']:>4} | {100 * r['within10']:>6.1f}% {100 * r['median']:>7.2f}% | {missed}")
    slices = tables["slices"]
    print()
    print("Leave one grid slice out: what is calibrated (LSTM: the cuDNN RNN workspaces; CNN: cuDNN's")
    print("convolution workspace per output element and the bounds of fp32 Winograd), calibrated without")
    print("the slice, predicting it")
    head = f"{'group':<11} {'held out':<24} {'n':>3} | {'calibrated without it':<66} | {'≤10%':>7} {'median':>8}"
    print(head)
    print("-" * len(head))
    for r in slices:
        held = f"{r['axis']}={r['held_out']}"
        print(f"{r['group']:<11} {held:<24} {r['n']:>3} | {r['calibration']:<66} |"
              f" {100 * r['within10']:>6.1f}% {100 * r['median']:>7.2f}%")


if __name__ == "__main__":
    main()
