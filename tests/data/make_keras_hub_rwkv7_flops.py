"""Generate tests/data/keras_hub_rwkv7_flops.json: the FLOPs of keras-hub's RWKV-7 (every
RWKV7Backbone and RWKV7CausalLM in tests/data/keras_hub_text2.json.gz and
keras_hub_mutants_av.json.gz) as Keras runs it on its torch backend, counted by
torch.utils.flop_counter on CPU: the model rebuilt from its `model_json` (keras-hub 0.32,
Keras 3.15.1, without the optional `rwkv_ops` kernels: the per-position loop), called with
`training=True` on BATCH × SEQ token ids and an all-ones padding mask; the loss is the
protocol's `logits.float().pow(2).mean()` for a backbone and cross-entropy of the logits
against the token ids for a CausalLM. Each record: fixture, name, class, batch, seq,
parameters (Keras's count), forward and forward+backward FLOPs.

Needs torch, keras and keras-hub in one interpreter, e.g. the transformers scratch venv
(torch) with the keras one's site-packages on the path:

    KERAS_BACKEND=torch PYTHONPATH=/work/scratch/keras/lib/python3.11/site-packages \\
        /work/scratch/hf/bin/python tests/data/make_keras_hub_rwkv7_flops.py
"""
import gzip
import json
import os
import pathlib
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")
try:
    import keras
    import keras_hub  # noqa: F401  (registers the classes)
    import torch
    from torch.utils.flop_counter import FlopCounterMode
except ImportError:
    print("torch, keras and keras-hub are needed; nothing written")
    sys.exit(0)

HERE = pathlib.Path(__file__).parent
FIXTURES = ("keras_hub_text2", "keras_hub_mutants_av")
BATCH, SEQ = 2, 8


def flops(loss_of):
    counts = []
    for backward in (False, True):
        fc = FlopCounterMode(display=False)
        with fc:
            loss = loss_of()
            if backward:
                loss.backward()
        counts.append(fc.get_total_flops())
    return counts


def main():
    warnings.filterwarnings("ignore")
    assert keras.config.backend() == "torch", "set KERAS_BACKEND=torch"
    torch.manual_seed(0)
    records = []
    for fixture in FIXTURES:
        for m in json.load(gzip.open(HERE / f"{fixture}.json.gz"))["models"]:
            j = m["model_json"]
            if j["class_name"] not in ("RWKV7Backbone", "RWKV7CausalLM"):
                continue
            vocab = (j["config"].get("backbone", j)["config"])["vocabulary_size"]
            model = keras.saving.deserialize_keras_object(json.loads(json.dumps(j)))
            ids = torch.randint(0, vocab, (BATCH, SEQ))
            inputs = {"token_ids": ids, "padding_mask": torch.ones(BATCH, SEQ, dtype=torch.int32)}
            causal = j["class_name"] == "RWKV7CausalLM"

            def loss():
                logits = model(inputs, training=True)
                if causal:
                    return torch.nn.functional.cross_entropy(logits.float().reshape(-1, vocab), ids.reshape(-1))
                return logits.float().pow(2).mean()

            fwd, fwd_bwd = flops(loss)
            records.append(dict(fixture=fixture, name=m["name"], class_name=j["class_name"], batch=BATCH, seq=SEQ,
                                params=model.count_params(), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd))
            print(m["name"], model.count_params(), m["total_params"], fwd, fwd_bwd, file=sys.stderr)
    env = dict(torch=torch.__version__, keras=keras.__version__, keras_hub=keras_hub.__version__)
    lines = ",\n".join(json.dumps(r, separators=(",", ":")) for r in records)
    (HERE / "keras_hub_rwkv7_flops.json").write_text(f'{{"env":{json.dumps(env)},\n"models":[\n{lines}\n]}}\n')


if __name__ == "__main__":
    main()
