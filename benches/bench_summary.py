"""`summary` of the bundled Keras Applications, in-process, beside Python's own
`json.loads` of the same text (issue 14's goal: a summary at most 1x that), beside another
build of archbudget (issue 11: reading within 2x of the session-start code) and Keras's
time to build the same model (when keras is installed). Besides the Applications: the
largest KerasHub text and vision models of the fixtures, a model with a custom layer read
on past (`?` rows, route c of issue 11) and one with `keras.ops` nodes.

usage: python benches/bench_summary.py [--repeat N] [--largest K] [--baseline-python PY] [NAME ...]
       (default: every Application; --largest K: the K largest Application JSON texts)

The baseline is any interpreter with another archbudget installed, e.g. main at e8af316:
    git archive e8af316 | tar -x -C /tmp/base && python -m venv /tmp/base/venv
    /tmp/base/venv/bin/pip install /tmp/base
    python benches/bench_summary.py --baseline-python /tmp/base/venv/bin/python
It runs in a child process that times each call itself, in turn with this process's
calls, so that the load of a busy machine falls on all alike.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import archbudget
from archbudget.errors import UnknownLayerError

DATA = Path(__file__).parent.parent / "tests" / "data"

# (fixture, model name, label): models of the other readers
OTHERS = [
    ("keras_hub.json.gz", "Gemma3CausalLM", "KerasHub Gemma3CausalLM"),
    ("keras_hub_vision.json.gz", "functional_with_backbone", "KerasHub vision functional"),
    ("keras_models_written.json.gz", "vit_patches", "custom layer ? (route c)"),
    ("keras_models_written.json.gz", "tensor_ops", "keras.ops nodes"),
]

# The child: reads the texts, then times `summary` of the model named on each stdin line.
WORKER = """
import json, sys, time
import archbudget
from archbudget.errors import UnknownLayerError
texts = json.load(open(sys.argv[1]))
def summary(text):
    try:
        return archbudget.summary(text)
    except UnknownLayerError as e:
        return e.summary
for line in sys.stdin:
    text = texts[line.strip()]
    t0 = time.perf_counter()
    summary(text)
    print(time.perf_counter() - t0, flush=True)
"""


def fixture_models(name: str) -> list[dict]:
    path = DATA / name
    if not path.exists():
        return []
    with gzip.open(path, "rt") as f:
        return json.load(f)["models"]


def applications() -> dict[str, dict]:
    models = {}
    for name in ("keras_models_dev.json.gz", "keras_models_extra.json.gz"):
        for m in fixture_models(name):
            if m.get("kind") == "application" and m.get("name"):
                models[m["name"]] = m["model_json"]
    return models


def others() -> dict[str, dict]:
    found = {}
    for fixture, name, label in OTHERS:
        for m in fixture_models(fixture):
            if m.get("name") == name:
                found[label] = m["model_json"]
    return found


def summary(text: str) -> archbudget.Summary:
    """The summary, also of a model read on past an undeclared custom layer."""
    try:
        return archbudget.summary(text)
    except UnknownLayerError as e:
        return e.summary


def seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def keras_builder(name: str):
    """The keras.applications constructor of an oracle model name, or None."""
    try:
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
    parser.add_argument("--largest", type=int, help="only the K largest Application JSON texts")
    parser.add_argument("--no-keras", action="store_true", help="leave out Keras's build time")
    parser.add_argument("--baseline-python", help="an interpreter with the archbudget to compare with")
    parser.add_argument("names", nargs="*", help="only these models (e.g. ResNet50)")
    args = parser.parse_args()
    texts = {name: json.dumps(model_json) for name, model_json in applications().items()
             if not args.names or name in args.names}
    if args.largest:
        texts = dict(sorted(texts.items(), key=lambda kv: -len(kv[1]))[: args.largest])
    texts = dict(sorted(texts.items()))
    if not args.names:
        texts.update({label: json.dumps(m) for label, m in others().items()})
    baseline = None
    if args.baseline_python:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(texts, f)
        # outside the repository, so that the child imports its own archbudget
        baseline = subprocess.Popen([args.baseline_python, "-c", WORKER, f.name], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())

    def baseline_seconds(name: str) -> float:
        baseline.stdin.write(name + "\n")
        baseline.stdin.flush()
        return float(baseline.stdout.readline())

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; median of {args.repeat} calls each,"
          f" in turn; ratio: summary / json.loads" + ("; vs base: summary / baseline's" if baseline else ""))
    print(f"{'model':<28}{'MB':>6}{'params':>13}{'summary':>11}{'json.loads':>12}{'ratio':>7}"
          + (f"{'baseline':>11}{'vs base':>8}" if baseline else "") + f"{'keras build':>13}")
    for name, text in texts.items():
        params = summary(text).total_params
        ours, loads, base = [], [], []
        for _ in range(args.repeat):
            ours.append(seconds(lambda: summary(text)))
            loads.append(seconds(lambda: json.loads(text)))
            if baseline:
                base.append(baseline_seconds(name))
        ours, loads = statistics.median(ours), statistics.median(loads)
        line = f"{name:<28}{len(text) / 1e6:6.2f}{params:>13,}{ours * 1e3:8.2f} ms{loads * 1e3:9.2f} ms{ours / loads:7.2f}"
        if baseline:
            base = statistics.median(base)
            line += f"{base * 1e3:8.2f} ms{ours / base:8.2f}"
        build = None if args.no_keras else keras_builder(name)
        if build:
            line += f"{statistics.median(seconds(build) for _ in range(3)) * 1e3:10.1f} ms"
        else:
            line += f"{'n/a':>13}"
        print(line, flush=True)
    if baseline:
        baseline.stdin.close()
        baseline.wait()
        os.unlink(f.name)


if __name__ == "__main__":
    main()
