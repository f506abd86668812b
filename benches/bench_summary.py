"""`summary` of the bundled Keras Applications, in-process, beside Keras's own time to
build the same model (when keras is installed).

usage: python benches/bench_summary.py [--repeat N] [NAME ...]   (default: every Application)
"""
import argparse
import gzip
import json
import statistics
import time
from pathlib import Path

import archbudget

DATA = Path(__file__).parent.parent / "tests" / "data"


def applications() -> dict[str, dict]:
    models = {}
    for name in ("keras_models_dev.json.gz", "keras_models_extra.json.gz"):
        path = DATA / name
        if path.exists():
            with gzip.open(path, "rt") as f:
                for m in json.load(f)["models"]:
                    if m.get("kind") == "application" and m.get("name"):
                        models[m["name"]] = m["model_json"]
    return models


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def keras_builder(name: str):
    """The keras.applications constructor of an oracle model name, or None."""
    try:
        import os

        os.environ.setdefault("KERAS_BACKEND", "jax")
        import keras
    except ImportError:
        return None
    base = name.split("_")[0]
    ctor = getattr(keras.applications, base, None)
    if ctor is None or base != name:  # variants with custom arguments: skip the baseline
        return None
    return lambda: (ctor(weights=None), keras.backend.clear_session())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("names", nargs="*", help="only these models (e.g. ResNet50)")
    args = parser.parse_args()
    print(f"{'model':<24}{'params':>14}{'archbudget (JSON text)':>26}{'keras build':>16}{'speed-up':>10}")
    for name, model_json in sorted(applications().items()):
        if args.names and name not in args.names:
            continue
        text = json.dumps(model_json)
        params = archbudget.summary(text).total_params
        ours = median_seconds(lambda: archbudget.summary(text), args.repeat)
        build = keras_builder(name)
        theirs = median_seconds(build, 3) if build else None
        theirs_text = f"{theirs * 1e3:13.1f} ms" if theirs else f"{'n/a':>16}"
        speedup = f"{theirs / ours:9.0f}x" if theirs else ""
        print(f"{name:<24}{params:>14,}{ours * 1e3:23.3f} ms{theirs_text}{speedup}")


if __name__ == "__main__":
    main()
