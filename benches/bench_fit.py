"""`archbudget.fit` of a transformers config through the Python API (the core's search
plus the boundary), beside its baseline: the same search done in Python, one
`archbudget.memory` call per probe (what a user's loop over `memory` would cost).
Goal: a fit under 50 ms.

usage: python benches/bench_fit.py [--repeat N]
"""
import argparse
import statistics
import time
from pathlib import Path

import archbudget

LLAMA = str(Path(__file__).parent.parent / "examples" / "llama-3-8b.json")
CASES = [
    ("batch (train)", dict(mode="train", seq=4096, precision="bf16", grad_ckpt=True), "batch"),
    ("seq (train)", dict(mode="train", batch=1, precision="bf16", grad_ckpt=True), "seq"),
    ("batch (generate)", dict(mode="generate", seq=1024, new_tokens=512, precision="bf16"), "batch"),
    ("new-tokens", dict(mode="generate", seq=1024, precision="bf16"), "new-tokens"),
    ("gpus (ZeRO-3)", dict(mode="train", batch=16, seq=4096, precision="bf16", grad_ckpt=True, zero_stage=3), "gpus"),
]


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def python_search(run: dict, vary: str, budget: int) -> int:
    """Doubling then bisection in Python over `archbudget.memory` (the baseline)."""
    key = {"batch": "batch", "seq": "seq", "new-tokens": "new_tokens", "gpus": "gpus"}[vary]

    def fits(v: int) -> bool:
        return (archbudget.memory(LLAMA, **{**run, key: v}).peak_bytes <= budget) != (vary == "gpus")

    # the config's max_position_embeddings bounds the prompt and what is decoded after it
    limit = {"seq": 8192, "new-tokens": 8192 - run.get("seq", 0)}.get(vary, 1 << 40)
    good, step = 1, 1
    if vary == "gpus" and not fits(1):
        return 1
    while good < limit and fits(min(good + step, limit)):
        good, step = min(good + step, limit), step * 2
    bad = min(good + step, limit)
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if fits(mid) else (good, mid)
    return good + 1 if vary == "gpus" else good


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    budget = archbudget.gpu_budget_bytes("h200")
    print("llama-3-8b on an H200; goal: a fit under 50 ms")
    print(f"{'fit --vary':<18} {'value':>7} {'fit ms':>9} {'python loop ms':>15}")
    for name, run, vary in CASES:
        value = archbudget.fit(LLAMA, gpu="h200", vary=vary, **run).value
        fit_s = median_seconds(lambda: archbudget.fit(LLAMA, gpu="h200", vary=vary, **run), args.repeat)
        loop_s = median_seconds(lambda: python_search(run, vary, budget), max(1, args.repeat // 5))
        print(f"{name:<18} {value:>7} {fit_s * 1e3:>9.2f} {loop_s * 1e3:>15.2f}")


if __name__ == "__main__":
    main()
