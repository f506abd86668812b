"""Gemma 4 models unlike the fixtures, as a held-out set would hold them: each backbone of
keras_hub_gemma4.json.gz with one constructor argument changed (make_keras_hub_mutants.py's
`mutations`: a flag flipped, one more layer, seven more vocabulary rows, dropout on; at most
four per model, chosen by a fixed seed), built by the real keras-hub from its constructor
(`build`) and recorded as make_keras_hub.py records them (`describe`). A change keras-hub
refuses is listed under `build_failures` with its error.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_mutants_gemma4.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_mutants_gemma4.json.gz.
"""
import gzip
import json
import os
import random
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import keras_hub  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_keras_hub_mutants import build, describe, mutations  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE,
                                                              "keras_hub_mutants_gemma4.json.gz")
    rng = random.Random(7)
    fixture = json.loads(gzip.open(os.path.join(HERE, "keras_hub_gemma4.json.gz"), "rt").read())
    models, failures = [], []
    for m in fixture["models"]:
        if m["kind"] != "backbone":
            continue
        for label, change in mutations(m["model_json"]["config"], rng):
            name = f"{m['name']}[{label}]"
            try:
                models.append(describe(build(m["model_json"], change), "mutant", name))
            except Exception as e:  # keras-hub refuses the change: recorded, not a fixture
                failures.append((m["name"], label, str(e)[:80]))
    with gzip.open(out, "wt") as f:
        json.dump({"keras": keras.__version__, "keras_hub": keras_hub.__version__,
                   "models": models, "build_failures": failures}, f)
    print(f"{len(models)} built, {len(failures)} refused by keras-hub: {out}")
    for f in failures:
        print("  refused:", f)


if __name__ == "__main__":
    main()
