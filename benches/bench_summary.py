"""`summary` of the bundled Keras Applications, in-process, beside Python's own
`json.loads` of the same text (issue 14's goal: a summary at most 1x that) and Keras's
time to build the same model (when keras is installed).

usage: python benches/bench_summary.py [--repeat N] [--largest K] [NAME ...]
       (default: every Application; --largest K: the K largest JSON texts)
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
    parser.add_argument("--largest", type=int, help="only the K largest JSON texts")
    parser.add_argument("--no-keras", action="store_true", help="leave out Keras's build time")
    parser.add_argument("names", nargs="*", help="only these models (e.g. ResNet50)")
    args = parser.parse_args()
    texts = {name: json.dumps(model_json) for name, model_json in applications().items()
             if not args.names or name in args.names}
    if args.largest:
        texts = dict(sorted(texts.items(), key=lambda kv: -len(kv[1]))[: args.largest])
    print(f"{'model':<26}{'MB':>6}{'params':>13}{'summary':>11}{'json.loads':>12}{'ratio':>7}{'keras build':>13}")
    for name, text in sorted(texts.items()):
        params = archbudget.summary(text).total_params
        # alternately, so that the load of a busy machine falls on both alike
        ours, loads = [], []
        for _ in range(args.repeat):
            ours.append(median_seconds(lambda: archbudget.summary(text), 1))
            loads.append(median_seconds(lambda: json.loads(text), 1))
        ours, loads = statistics.median(ours), statistics.median(loads)
        build = None if args.no_keras else keras_builder(name)
        theirs = f"{median_seconds(build, 3) * 1e3:10.1f} ms" if build else f"{'n/a':>13}"
        print(f"{name:<26}{len(text) / 1e6:6.2f}{params:>13,}{ours * 1e3:8.2f} ms{loads * 1e3:9.2f} ms"
              f"{ours / loads:7.2f}{theirs}")


if __name__ == "__main__":
    main()
