"""The Ray backend beside the single-process sweep, in the same run, on this machine.

1. A 2x10^9-candidate mlp space (input_dim 1..5000 x depth 1..20 x width 1..20000),
   top 100 by params: one process (rayon on every core) beside a local Ray with as many
   CPUs, the space cut into --shards tasks. Both results are checked equal.
2. Ray's overhead on a small sweep (the 80-candidate keras example): starting a local
   Ray, and a sweep on an already started Ray, beside the single-process sweep.

usage: python benches/bench_ray.py [--width-stop 20000] [--shards N]
(a smaller --width-stop scales part 1 down on a slow or busy machine)
"""
import argparse
import os
import statistics
import time
from pathlib import Path

import ray
from polars.testing import assert_frame_equal

import archbudget

ROOT = Path(__file__).parent.parent


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def huge_space(width_stop: int) -> dict:
    return {
        "family": "mlp",
        "fixed": {"classes": 10},
        "axes": {"input_dim": {"start": 1, "stop": 5000}, "depth": {"start": 1, "stop": 20}, "width": {"start": 1, "stop": width_stop}},
        "run": {"batch": 256},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--width-stop", type=int, default=20000, help="the width axis's last value (20000: 2e9 candidates)")
    parser.add_argument("--shards", type=int, default=None, help="Ray tasks (default: 4 per CPU)")
    args = parser.parse_args()
    cpus = os.cpu_count()
    space = huge_space(args.width_stop)
    size = 5000 * 20 * args.width_stop
    ranking = {"sort": "params", "descending": True, "top": 100}

    _, init_s = timed(lambda: ray.init(address="local", num_cpus=cpus, logging_level="ERROR", log_to_driver=False))
    local, local_s = timed(lambda: archbudget.sweep(space, **ranking))
    on_ray, ray_s = timed(lambda: archbudget.sweep(space, **ranking, backend="ray", shards=args.shards))
    assert_frame_equal(on_ray, local)
    print(f"1. {size:.1e}-candidate mlp space, top 100 by params, {cpus} CPUs (results equal)")
    print(f"   single process (rayon)        {local_s:8.2f} s  {size / local_s:>16,.0f} candidates/s")
    print(f"   Ray backend, local Ray        {ray_s:8.2f} s  {size / ray_s:>16,.0f} candidates/s")
    print(f"   ratio Ray / single process: {ray_s / local_s:.2f}x")

    keras = ROOT / "examples" / "keras_space.toml"
    small_local = [timed(lambda: archbudget.sweep(keras))[1] for _ in range(5)]
    small_ray = [timed(lambda: archbudget.sweep(keras, backend="ray"))[1] for _ in range(5)]
    print("2. overhead of Ray on a small sweep (80 keras candidates, all rows)")
    print(f"   starting a local Ray (ray.init, once per process)  {init_s:8.2f} s")
    print(f"   single process, median of 5                        {statistics.median(small_local) * 1e3:8.1f} ms")
    print(f"   Ray backend on a started Ray, median of 5          {statistics.median(small_ray) * 1e3:8.1f} ms")
    ray.shutdown()


if __name__ == "__main__":
    main()
