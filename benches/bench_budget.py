"""`Budget.check` per candidate (params, peak memory and FLOPs of a training step),
beside what a pipeline pays to learn only the parameter count the usual way: building
the same model in Keras, or in PyTorch on the meta device (no weights allocated).

The baselines run in other interpreters, those with the frameworks installed
(KERAS_PYTHON: keras + jax; TORCH_PYTHON: torch + transformers); a missing one is
skipped.

usage: python benches/bench_budget.py [--repeat N]
"""
import argparse
import json
import os
import subprocess
import sys
import timeit
from pathlib import Path

import archbudget

ROOT = Path(__file__).parent.parent
KERAS_PYTHON = os.environ.get("KERAS_PYTHON", "/work/scratch/keras/bin/python")
TORCH_PYTHON = os.environ.get("TORCH_PYTHON", "/work/scratch/hf/bin/python")

MLP = {"family": "mlp", "input_dim": 784, "depth": 3, "width": 512, "classes": 10}
GPT2 = {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12}
LLAMA = json.loads((ROOT / "examples" / "llama-3-8b.json").read_text())
KERAS_JSON = (ROOT / "examples" / "mlp_keras.json").read_text()

# Each baseline: the statement building the model, run in the framework's interpreter.
KERAS_SETUP = """
import os, json, timeit
os.environ["KERAS_BACKEND"] = "jax"
import keras
"""
KERAS_MLP = """
def build():
    m = keras.Sequential([keras.Input((784,))] + [keras.layers.Dense(512, activation="relu") for _ in range(3)] + [keras.layers.Dense(10)])
    return m.count_params()
"""
KERAS_FROM_JSON = """
text = open({path!r}).read()
def build():
    return keras.models.model_from_json(text).count_params()
"""
TORCH_SETUP = """
import json, timeit, torch
"""
TORCH_MLP = """
def build():
    with torch.device("meta"):
        layers = [torch.nn.Linear(784, 512), torch.nn.ReLU()]
        for _ in range(2):
            layers += [torch.nn.Linear(512, 512), torch.nn.ReLU()]
        m = torch.nn.Sequential(*layers, torch.nn.Linear(512, 10))
    return sum(p.numel() for p in m.parameters())
"""
TORCH_HF = """
import transformers
config = transformers.AutoConfig.for_model(**{config!r})
def build():
    with torch.device("meta"):
        m = transformers.AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in m.parameters())
"""
TIMER = """
n = {repeat}
build()
print(json.dumps(min(timeit.repeat(build, number=1, repeat=n))))
"""


def baseline(python: str, setup: str, body: str, repeat: int) -> float | None:
    """Seconds for one build in `python`, or None where it is not installed."""
    if not Path(python).exists():
        return None
    code = setup + body + TIMER.format(repeat=repeat)
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        print(f"  (baseline failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode})", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def per_call(fn, seconds: float = 1.0) -> float:
    """Median seconds per call over a few timed batches of about `seconds` / 5 each."""
    number = max(1, int(0.2 / max(timeit.timeit(fn, number=1), 1e-7)))
    times = sorted(t / number for t in timeit.repeat(fn, number=number, repeat=max(3, int(seconds * 5))))
    return times[len(times) // 2]


def show(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e6:,.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5, help="builds timed per baseline")
    args = parser.parse_args()
    r = args.repeat
    rows = [
        ("mlp 784-3x512-10 (family dict)", archbudget.Budget(batch=64, max_params="1M"), MLP,
         [("keras", KERAS_PYTHON, KERAS_SETUP, KERAS_MLP), ("torch meta", TORCH_PYTHON, TORCH_SETUP, TORCH_MLP)]),
        ("mlp Keras JSON (examples/)", archbudget.Budget(batch=64), KERAS_JSON,
         [("keras", KERAS_PYTHON, KERAS_SETUP, KERAS_FROM_JSON.format(path=str(ROOT / "examples" / "mlp_keras.json")))]),
        ("gpt2 124M config", archbudget.Budget(batch=8, seq=1024, precision="amp_bf16"), GPT2,
         [("torch meta", TORCH_PYTHON, TORCH_SETUP, TORCH_HF.format(config=GPT2))]),
        ("llama-3-8b config (32 layers)", archbudget.Budget(batch=1, seq=2048, precision="bf16"), LLAMA,
         [("torch meta", TORCH_PYTHON, TORCH_SETUP, TORCH_HF.format(config={k: v for k, v in LLAMA.items() if k not in ("transformers_version", "architectures")}))]),
    ]
    print(f"{'candidate':<32}{'Budget.check':>14}   baselines (one build, params only)")
    for name, budget, candidate, baselines in rows:
        ours = per_call(lambda: budget.check(candidate))
        parts = []
        for label, python, setup, body in baselines:
            theirs = baseline(python, setup, body, r)
            ratio = f" = {theirs / ours:,.0f}x" if theirs else ""
            parts.append(f"{label} {show(theirs)}{ratio}")
        print(f"{name:<32}{show(ours):>14}   {'; '.join(parts)}")


if __name__ == "__main__":
    main()
