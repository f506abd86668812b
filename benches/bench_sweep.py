"""Sweep benchmarks, each printed beside its baseline in the same run.

1. The 25.6M-candidate mlp space (input_dim 1..5000 × depth 1..20 × width 16..4096 step
   16) with a params budget and top-100, beside numpy's vectorized parameter formula
   over the same grid (params only, no memory).
2. Candidates per second per core for each family (one rayon thread).
3. A 2e8-candidate space with --top 100: peak RSS of the process, beside the bytes the
   grid would take as a frame.
4. A one-candidate sweep: the fixed cost per call (a NAS loop pays it every step).
5. The 1,048,576-candidate llama space (examples/llama_1m_space.toml) with --max-memory
   and --top 100 by params: the sweep (lower bound, counts per structure, lazy top-K)
   beside the plain per-candidate path, each candidate that passes the constraints
   evaluated in full, timed over 4 spread shards of 1/256 each and scaled to the space.

usage: python benches/bench_sweep.py [--quick]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import archbudget
from archbudget import api

ROOT = Path(__file__).parent.parent

MLP_GRID = {
    "family": "mlp",
    "fixed": {"classes": 10},
    "axes": {"input_dim": {"start": 1, "stop": 5000}, "depth": {"start": 1, "stop": 20}, "width": {"start": 16, "stop": 4096, "step": 16}},
    "run": {"batch": 256},
}


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def numpy_params():
    i = np.arange(1, 5001, dtype=np.int64)[:, None, None]
    d = np.arange(1, 21, dtype=np.int64)[None, :, None]
    w = np.arange(16, 4097, 16, dtype=np.int64)[None, None, :]
    params = (i + 1) * w + (w + 1) * w * (d - 1) + (w + 1) * 10
    return np.flatnonzero(params <= 1_000_000)


def bench_grid(repeat):
    ours = best_of(lambda: archbudget.sweep(MLP_GRID, max_params=1_000_000, sort="params", descending=True, top=100), repeat)
    theirs = best_of(numpy_params, repeat)
    print("1. 25.6M-candidate mlp space, params <= 1M, top 100 by params")
    print(f"   archbudget (params, memory, FLOPs; {os.cpu_count()} cores)  best {ours[0]:.3f} s  median {ours[1]:.3f} s")
    print(f"   numpy vectorized params formula only            best {theirs[0]:.3f} s  median {theirs[1]:.3f} s")
    print(f"   ratio numpy / archbudget (best): {theirs[0] / ours[0]:.2f}x")


FAMILIES = {
    "mlp": MLP_GRID | {"axes": {"input_dim": {"start": 1, "stop": 100}, "depth": {"start": 1, "stop": 20}, "width": {"start": 16, "stop": 2048, "step": 16}}},
    "cnn": {"family": "cnn", "fixed": {"channels": 3, "classes": 100}, "axes": {"image": [32, 64, 96, 128], "stages": [1, 2, 3, 4], "convs": [1, 2, 3], "filters": {"start": 8, "stop": 128, "step": 8}, "batchnorm": [True, False]}, "run": {"batch": [32, 64]}},
    "lstm": {"family": "lstm", "fixed": {"vocab": 20000, "classes": 5}, "axes": {"embed": [64, 128, 256], "hidden": {"start": 64, "stop": 1024, "step": 64}, "layers": [1, 2, 3], "seq": [64, 128, 256]}, "run": {"batch": [32, 128]}},
    "hf": {"family": "hf", "constraints": ["hidden_size % num_attention_heads == 0"], "fixed": {"model_type": "llama", "vocab_size": 32000}, "axes": {"hidden_size": {"start": 256, "stop": 4096, "step": 256}, "num_hidden_layers": [4, 8, 16, 32], "num_attention_heads": [8, 16, 32], "intermediate_size": [1024, 4096, 11008]}, "run": {"batch": 4, "seq": 2048, "precision": "bf16"}},
    "keras": {"family": "keras", "template": str(ROOT / "examples" / "mlp_keras.json"), "axes": {"dense.units": {"start": 64, "stop": 2048, "step": 64}, "dense_1.units": {"start": 32, "stop": 1024, "step": 32}}, "run": {"batch": [32, 256]}},
}

PER_CORE = """
import json, sys, time, archbudget
space = json.loads(sys.argv[1])
from archbudget import api
n = api.search_space(space).size
t0 = time.perf_counter(); archbudget.sweep(space, top=10, sort="peak_bytes"); dt = time.perf_counter() - t0
print(json.dumps({"n": n, "s": dt}))
"""


def bench_families():
    print("2. candidates per second per core (one rayon thread, full metrics, top 10 by peak)")
    env = os.environ | {"RAYON_NUM_THREADS": "1"}
    for name, space in FAMILIES.items():
        out = subprocess.run([sys.executable, "-c", PER_CORE, json.dumps(space)], env=env, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        print(f"   {name:<6} {r['n']:>10,} candidates  {r['s']:8.3f} s  {r['n'] / r['s']:>14,.0f} candidates/s/core")


# The child's peak RSS from /proc (VmHWM reset at its start): getrusage's maxrss would
# inherit the parent's high-water mark through fork.
HUGE = """
import re, time, archbudget
open("/proc/self/clear_refs", "w").write("5")
t0 = time.perf_counter()
frame = archbudget.sweep({"family": "mlp", "fixed": {"classes": 10},
    "axes": {"input_dim": {"start": 1, "stop": 5000}, "depth": {"start": 1, "stop": 20}, "width": {"start": 1, "stop": 2000}},
    "run": {"batch": 256}}, sort="params", descending=True, top=100)
hwm_kb = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(f"{frame.height} {time.perf_counter() - t0:.2f} {hwm_kb / 1024:.0f}")
"""


def bench_huge():
    out = subprocess.run([sys.executable, "-c", HUGE], capture_output=True, text=True, check=True).stdout.split()
    rows, seconds, rss = int(out[0]), float(out[1]), float(out[2])
    grid = 5000 * 20 * 2000
    print(f"3. {grid:.1e}-candidate mlp space, top 100 by params: {rows} rows in {seconds:.1f} s")
    print(f"   peak RSS of the process {rss:,.0f} MB  vs  the grid as a 17-column frame {grid * 17 * 8 / 2**20:,.0f} MB")


def bench_single(repeat):
    one = {"family": "mlp", "fixed": {"input_dim": 784, "depth": 4, "width": 512, "classes": 10}, "axes": {}, "run": {"batch": 256}}
    best, median = best_of(lambda: archbudget.sweep(one), repeat)
    model = {"class_name": "Sequential", "config": {"name": "m", "layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [None, 784]}}] + [{"class_name": "Dense", "config": {"name": f"d{i}", "units": 512}} for i in range(4)] + [{"class_name": "Dense", "config": {"name": "head", "units": 10}}]}}
    m_best, m_median = best_of(lambda: archbudget.memory(model, batch=256), repeat)
    print(f"4. one-candidate sweep: best {best * 1e3:.2f} ms, median {median * 1e3:.2f} ms  (archbudget.memory of the same model: median {m_median * 1e3:.2f} ms)")


LLAMA_1M = ROOT / "examples" / "llama_1m_space.toml"

# The plain path: every candidate's full metrics (no top, no budget), over shards
# spread across the space so that every size of model is sampled.
PLAIN = """
import json, sys, time, archbudget
space, shards = sys.argv[1], [int(i) for i in sys.argv[2:]]
n = 0
t0 = time.perf_counter()
for i in shards:
    n += archbudget.sweep(space, shard=f"{i}/256").height
print(json.dumps({"rows": n, "s": time.perf_counter() - t0}))
"""


def bench_llama_1m(repeat):
    space = api.search_space(str(LLAMA_1M))
    valid = space.count(0, space.size)["satisfying_constraints"]
    print(f"5. {space.size:,}-candidate llama space ({valid:,} satisfy its constraints), top 100 by params, descending")
    for budget in ("80GiB", "24GiB"):
        cpu = time.process_time()  # every thread's: what an idle machine's cores would spend
        frame = archbudget.sweep(str(LLAMA_1M), max_memory=budget, sort="params", descending=True, top=100)
        cpu = time.process_time() - cpu
        best, median = best_of(lambda: archbudget.sweep(str(LLAMA_1M), max_memory=budget, sort="params", descending=True, top=100), repeat)
        print(f"   --max-memory {budget}: {frame.height} rows, largest {frame['params'][0] / 1e9:.2f}B params   "
              f"best {best:.2f} s  median {median:.2f} s  ({os.cpu_count()} cores; {cpu:.2f} s of CPU)")
    shards = ["3", "70", "140", "250"]
    out = subprocess.run([sys.executable, "-c", PLAIN, str(LLAMA_1M), *shards], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    rate = r["rows"] / r["s"]
    print(f"   plain per-candidate path: {r['rows']:,} full evaluations in {r['s']:.2f} s = {rate:,.0f}/s on {os.cpu_count()} cores"
          f"  -> {valid / rate:.0f} s for the {valid:,} candidates (rate x N)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat = 2 if args.quick else 5
    bench_grid(repeat)
    bench_families()
    bench_huge()
    bench_single(50)
    bench_llama_1m(repeat)


if __name__ == "__main__":
    main()
