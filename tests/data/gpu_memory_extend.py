"""Extends the oracle's LSTM and CNN grids (issue 17) for a later session with a GPU.

The protocol is the oracle's, unchanged: `measure` of tests/data/gpu_memory.py (a copy of
../shared/oracle/gpu_memory.py), on cases of the same form. What is new is the grid:
  LSTMs: hidden, layers, seq, batch, embed (a multiple of 128 or not: PyTorch's
         persistent-kernel rule), bidirectional, precision (fp32, amp_bf16, bf16), mode;
  CNNs:  fp32 training at small images (16-64 px; image, stages, convs, filters,
         batchnorm, batch, optimizer), with a few amp_bf16 and inference steps beside.
and, for every case, what the allocator held at the step's peak: the allocator's history
(torch.cuda.memory._record_memory_history) replayed to the highest allocated total, the
blocks alive there grouped by size and by the Python frames that allocated them. The
raw torch.cuda.memory._snapshot() is kept too for the cases named in SNAPSHOT (the
nearest relatives of the dev misses: fp32 CNN training at 32 px, fp32 two-layer LSTM
inference at batch 32, the persistent-kernel LSTM).

Run (one go, about 8 minutes of an H100/H200; stops starting cases after --budget-s):
    OUT=/some/dir python3 tests/data/gpu_memory_extend.py [--budget-s 420]
writes $OUT/memory_cases_extend.json ({"env", "protocol", "cases": [{"case", "measured",
"peak_blocks"}]}: the form of tests/data/gpu_memory_dev.json plus the peak's blocks) and
$OUT/snapshot_<id>.pickle for the SNAPSHOT cases. To add them to the tests' data, append
their "case"/"measured" pairs to tests/data/gpu_memory_dev.json (or a held-out file).
    python3 tests/data/gpu_memory_extend.py --dry-run
runs on the CPU: every case is built and shrunk ones take a training step, and the peak
replay is checked on a made-up history, so that the GPU run meets no shape or syntax
error.
"""
import argparse
import itertools
import json
import os
import pickle
import random
import sys
import time
from collections import defaultdict

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_memory as oracle  # noqa: E402  (the oracle's protocol, unchanged)

SEED = 20261130
# The dev misses' nearest relatives, whose whole snapshots come back (at most 7 files
# of 16 MiB, beside the results).
SNAPSHOT = ("lstmx-000", "lstmx-001", "lstmx-002", "cnnx-000", "cnnx-001", "cnnx-002")


class LSTMNet(oracle.LSTMNet):
    """The oracle's LSTMNet, optionally bidirectional (its head then reads 2·hidden)."""

    def __init__(self, c):
        super().__init__(c)
        if c.get("bidirectional"):
            self.lstm = nn.LSTM(c["embed"], c["hidden"], num_layers=c["layers"], batch_first=True,
                                bidirectional=True)
            self.head = nn.Linear(2 * c["hidden"], c["classes"])


oracle.LSTMNet = LSTMNet


def lstm(hidden, layers, seq, batch, embed, bidirectional, precision, mode):
    return dict(family="lstm", vocab=20000, embed=embed, hidden=hidden, layers=layers, classes=5, seq=seq,
                batch=batch, bidirectional=bidirectional, optimizer="adam", precision=precision, mode=mode)


def cnn(image, stages, convs, filters, batchnorm, batch, optimizer, precision, mode):
    return dict(family="cnn", channels=3, image=image, stages=stages, convs=convs, filters=filters,
                batchnorm=batchnorm, classes=100, batch=batch, optimizer=optimizer, precision=precision, mode=mode)


def cases():
    rnd = random.Random(SEED)
    # first the dev misses' relatives (SNAPSHOT), then one-axis sweeps around the dev grid,
    # then random points of the wider grids: the budget cuts from the end
    lstms = [
        lstm(1024, 2, 64, 32, 256, False, "fp32", "infer"),  # lstm-408
        lstm(1024, 2, 256, 128, 256, False, "amp_bf16", "infer"),  # lstm-441
        lstm(256, 1, 256, 32, 256, False, "amp_bf16", "infer"),  # lstm-432, persistent kernel
    ]
    cnns = [
        cnn(32, 4, 2, 32, False, 128, "adamw", "fp32", "train"),  # cnn-367
        cnn(32, 2, 2, 64, False, 32, "adamw", "fp32", "train"),  # cnn-331
        cnn(32, 4, 2, 32, False, 32, "sgd_momentum", "fp32", "train"),  # cnn-207
        # where the calibrated Winograd bounds reach without dev evidence: 8×8 layers at
        # batch 128 (512 rows) and 96 (384 rows), 192 and 256 output channels
        cnn(32, 3, 2, 48, False, 128, "adamw", "fp32", "train"),
        cnn(32, 3, 1, 64, True, 96, "sgd_momentum", "fp32", "train"),
    ]
    base = dict(hidden=512, layers=2, seq=128, batch=64, embed=256, bidirectional=False)
    sweep = dict(hidden=[128, 256, 384, 768, 1024], layers=[1, 3], seq=[16, 64, 256, 512],
                 batch=[8, 32, 96, 128, 256], embed=[128, 300], bidirectional=[True])
    for axis, values in sweep.items():
        for v in values:
            for precision, mode in itertools.product(["fp32", "amp_bf16"], ["train", "infer"]):
                lstms.append(lstm(**{**base, axis: v}, precision=precision, mode=mode))
    grid = list(itertools.product([128, 256, 512, 768, 1024], [1, 2, 3], [32, 64, 128, 256, 512],
                                  [8, 32, 64, 96, 128, 256], [256, 300], [False, True],
                                  ["fp32", "amp_bf16", "bf16"], ["train", "infer"]))
    lstms += [lstm(*p) for p in rnd.sample(grid, 120)]
    cbase = dict(image=32, stages=3, convs=2, filters=32, batchnorm=True, batch=64, optimizer="adamw")
    csweep = dict(image=[16, 24, 48, 64], stages=[1, 2, 4], convs=[1, 3], filters=[16, 48, 64, 96],
                  batchnorm=[False], batch=[8, 16, 32, 128, 256], optimizer=["sgd_momentum"])
    for axis, values in csweep.items():
        for v in values:
            cnns.append(cnn(**{**cbase, axis: v}, precision="fp32", mode="train"))
    grid = [p for p in itertools.product([16, 24, 32, 48, 64], [1, 2, 3, 4], [1, 2, 3], [16, 32, 48, 64, 96],
                                         [False, True], [8, 16, 32, 64, 128, 256], ["sgd_momentum", "adamw"])
            if p[0] >> p[1] >= 2]  # at least 2×2 left after the pools
    picked = rnd.sample(grid, 110)
    cnns += [cnn(*p, precision="fp32", mode="train") for p in picked[:80]]
    cnns += [cnn(*p, precision="amp_bf16", mode="train") for p in picked[80:95]]
    cnns += [cnn(*p, precision="fp32", mode="infer") for p in picked[95:]]
    for i, c in enumerate(lstms):
        c["id"] = f"lstmx-{i:03d}"
    for i, c in enumerate(cnns):
        c["id"] = f"cnnx-{i:03d}"
    # interleaved, so that a budget cut leaves both families
    out = []
    for a, b in itertools.zip_longest(lstms, cnns):
        out += [x for x in (a, b) if x is not None]
    return out


def frames_key(frames):
    """The innermost Python frames of an allocation, as file:line:function."""
    py = [f for f in frames if f.get("filename", "").endswith(".py")]
    return " < ".join(f"{os.path.basename(f['filename'])}:{f['line']}:{f['name']}" for f in py[:4])


def peak_blocks(snapshot, top=40):
    """Replays the allocator's history to its highest allocated total; the blocks alive
    there, grouped by (size, frames), largest first. `allocated` falls when a block is
    freed (free_requested, or free_completed when no request was recorded), as
    torch.cuda.max_memory_allocated counts it; blocks allocated before the history
    began are not in it, so totals are relative to the case's start."""
    live, total, best, best_live, requested = {}, 0, -1, {}, set()
    for trace in snapshot["device_traces"]:
        for e in trace:
            a = e["action"]
            if a == "alloc":
                live[e["addr"]] = e
                total += e["size"]
                if total > best:
                    best, best_live = total, dict(live)
            elif a in ("free_requested", "free_completed") and e["addr"] in live:
                if a == "free_completed" and e["addr"] in requested:
                    requested.discard(e["addr"])
                    continue
                if a == "free_requested":
                    requested.add(e["addr"])
                total -= live.pop(e["addr"])["size"]
    groups = defaultdict(lambda: [0, 0])
    for e in best_live.values():
        g = groups[(e["size"], frames_key(e.get("frames", [])))]
        g[0] += 1
        g[1] += e["size"]
    rows = sorted(groups.items(), key=lambda kv: -kv[1][1])
    return dict(peak_allocated=best, blocks=[dict(size=s, count=n, bytes=b, frames=f)
                                             for (s, f), (n, b) in rows[:top]])


def run(budget_s):
    out_dir = os.environ.get("OUT", "/tmp/out")
    os.makedirs(out_dir, exist_ok=True)
    import transformers
    env = dict(torch=torch.__version__, transformers=transformers.__version__,
               device=torch.cuda.get_device_name(), cuda=torch.version.cuda,
               cudnn=torch.backends.cudnn.version())
    print(env, flush=True)
    results, t0 = [], time.time()
    for c in cases():
        if time.time() - t0 > budget_s:
            print(f"budget spent: {len(results)} cases measured", flush=True)
            break
        r = dict(case=c)
        torch.cuda.memory._record_memory_history("all", stacks="python", max_entries=200_000, clear_history=True)
        try:
            r["measured"] = oracle.measure(c)
            snap = torch.cuda.memory._snapshot()
            r["peak_blocks"] = peak_blocks(snap)
            if c["id"] in SNAPSHOT:
                with open(os.path.join(out_dir, f"snapshot_{c['id']}.pickle"), "wb") as f:
                    pickle.dump(snap, f)
        except torch.cuda.OutOfMemoryError:
            r["error"] = "oom"
        except Exception as e:  # one broken case must not lose the others
            r["error"] = repr(e)[:300]
        torch.cuda.memory._record_memory_history(None)
        torch.cuda.empty_cache()
        results.append(r)
        m = r.get("measured", {})
        print(c["id"], m.get("peak_bytes"), r.get("peak_blocks", {}).get("peak_allocated"), r.get("error", ""),
              f"{time.time() - t0:.0f}s", flush=True)
        with open(os.path.join(out_dir, "memory_cases_extend.json"), "w") as f:
            json.dump(dict(env=env, protocol=oracle.__doc__, cases=results), f)


def dry_run():
    """On the CPU: every case builds, shrunk copies take a training step, and the peak
    replay finds the right blocks in a made-up history."""
    oracle.DEV = "cpu"
    all_cases = cases()
    ids = [c["id"] for c in all_cases]
    assert len(ids) == len(set(ids)) and all(s in ids for s in SNAPSHOT)
    for c in all_cases:
        small = dict(c, batch=2, seq=min(c.get("seq", 1), 4), vocab=50)
        with torch.device("meta"):
            oracle.build(c)
        model = oracle.build(small)
        if c["precision"] == "bf16":
            model = model.to(torch.bfloat16)
        x, y = oracle.make_batch(small)
        if c["precision"] == "bf16" and x.is_floating_point():
            x = x.to(torch.bfloat16)
        loss = oracle.loss_of(small, model, x, y)
        loss.backward()
        oracle.make_opt(c, model).step()
    fake = {"device_traces": [[
        dict(action="alloc", addr=1, size=100, frames=[dict(filename="a.py", line=1, name="f")]),
        dict(action="alloc", addr=2, size=50, frames=[]),
        dict(action="free_requested", addr=1, size=100),
        dict(action="free_completed", addr=1, size=100),
        dict(action="alloc", addr=3, size=20, frames=[]),
    ]]}
    p = peak_blocks(fake)
    assert p["peak_allocated"] == 150 and {b["size"] for b in p["blocks"]} == {100, 50}, p
    n = defaultdict(int)
    for c in all_cases:
        n[(c["family"], c["precision"], c["mode"])] += 1
    print(f"{len(all_cases)} cases build and step on the CPU:", dict(n))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget-s", type=float, default=420.0)
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    if a.dry_run:
        dry_run()
    else:
        run(a.budget_s)
