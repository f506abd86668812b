#!/usr/bin/env python3
"""Build the seed corpora of the fuzz targets from the repository's data:
corpus/model/ every model description (the oracle's Keras models and transformers
configs, the bundled examples, the .keras archives) and corpus/space/ every example
space plus small spaces of each family; regressions/ (inputs that once failed) join both.
Run from anywhere: python3 fuzz/seed.py"""
import gzip
import hashlib
import json
import shutil
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
REPO = FUZZ.parent
DATA = REPO / "tests" / "data"


def put(folder: Path, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def models():
    for m in json.load(gzip.open(DATA / "keras_models_dev.json.gz"))["models"]:
        yield json.dumps(m["model_json"]).encode()
    for case in json.load(open(DATA / "gpu_memory_dev.json"))["cases"]:
        model = case["model"]
        yield json.dumps(model.get("model_json") or model.get("config")).encode()
    for name in ("hf_known_dev.json", "hf_extra.json", "hf_moe.json"):
        for row in json.load(open(DATA / name))["rows"]:
            yield json.dumps(row["config"]).encode()
    for path in [*sorted((REPO / "examples").glob("*.json")), *sorted((DATA / "keras").glob("*.keras"))]:
        yield path.read_bytes()


# One small space per family, so that mutations start from every evaluator.
SPACES = [
    'family = "mlp"\n[fixed]\nclasses = 10\n[axes]\ninput_dim = [8, 32]\ndepth = [0, 2]\nwidth = {start = 16, stop = 64, step = 16}\n[run]\nbatch = [1, 8]\n',
    'family = "cnn"\n[fixed]\nimage = 32\nchannels = 3\nclasses = 10\nbatchnorm = true\n[axes]\nstages = [1, 2]\nconvs = [1, 2]\nfilters = [8, 16]\n',
    'family = "lstm"\n[fixed]\nvocab = 100\nembed = 16\nclasses = 4\nseq = 12\n[axes]\nhidden = [8, 32]\nlayers = [1, 2]\n[run]\nprecision = ["fp32", "amp_bf16"]\n',
    'family = "hf"\nconstraints = ["hidden_size % num_attention_heads == 0 and not (num_hidden_layers > 3)"]\n[fixed]\nmodel_type = "gpt2"\nvocab_size = 1000\n[axes]\nhidden_size = {start = 64, stop = 256, factor = 2}\nnum_attention_heads = [2, 3, 4]\nnum_hidden_layers = [2, 4]\n[run]\nseq = 32\nmode = ["train", "infer"]\n',
    'family = "keras"\ntemplate = "mlp_keras.json"\n[axes]\n"dense.units" = [4, 8]\n[run]\nbatch = 4\n',
]


def spaces():
    for path in sorted((REPO / "examples").glob("*.toml")):
        yield path.read_bytes()
    for text in SPACES:
        yield text.encode()


def main() -> None:
    corpus = FUZZ / "corpus"
    for target, inputs in (("model", models()), ("space", spaces())):
        shutil.rmtree(corpus / target, ignore_errors=True)
        for data in inputs:
            put(corpus / target, data)
        for path in sorted((FUZZ / "regressions" / target).glob("*")):
            put(corpus / target, path.read_bytes())
        print(f"{target}: {len(list((corpus / target).iterdir()))} seeds in {corpus / target}")


if __name__ == "__main__":
    main()
