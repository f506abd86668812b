"""Ground truth for `memory` of KerasHub RoformerV2 and XLNet (lowered from their own
layers, not a transformers twin's): the real
keras-hub models run on Keras's torch backend, so that their FLOPs are what
torch.utils.flop_counter counts for the PyTorch ops Keras runs (forward, and forward +
loss + backward, as hf_fixture.py counts transformers models); their weights, torch
tensors there, are the Keras totals.

Cases: RoformerV2Backbone, RoformerV2MaskedLM and RoformerV2TextClassifier from small
configs covering the constructor's options (`use_bias`, `activation`, `num_segments`,
`dropout`; `num_heads × head_size` must equal `hidden_dim`, as the residual adds need),
and XLNetBackbone (`activation`, `dropout`), each with its `model_json`, totals
and the rows of `model.summary()` (as make_keras_hub.py's `describe` records them), and
at batch BATCH, seq SEQ: `flops_fwd` and `flops_fwd_bwd`. The masked LM is
run with every position masked (`mask_positions` = 0..SEQ-1): the head on every token,
as `memory` runs it. Losses: the backbone's output squared and averaged (hf_fixture's
base-model loss), cross-entropy on the masked LM's logits.

usage (keras-hub from the Keras scratch venv, torch and transformers from the HF one):
  KERAS_SITE=/work/scratch/keras/lib/python3.11/site-packages \\
    /work/scratch/hf/bin/python tests/data/make_keras_hub_roformer.py
Output: tests/data/keras_hub_roformer.json.gz.
"""
import gzip
import json
import os
import sys

os.environ["KERAS_BACKEND"] = "torch"
sys.path.append(os.environ.get("KERAS_SITE", "/work/scratch/keras/lib/python3.11/site-packages"))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import keras  # noqa: E402
import keras_hub  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from hf_fixture import forward_and_backward_flops  # noqa: E402
from make_keras_hub import describe, round_trips  # noqa: E402

OUT = os.path.join(HERE, "keras_hub_roformer.json.gz")
BATCH, SEQ = 2, 16
M = keras_hub.models

ROFORMER = dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=24,
                head_size=8)
# name -> (config, task classes)
CASES = {
    "RoformerV2": (ROFORMER, ["MaskedLM", "TextClassifier"]),
    "RoformerV2_bias": (dict(ROFORMER, use_bias=True), ["MaskedLM", "TextClassifier"]),
    # more heads of a smaller size, GELU, three segments, more dropout
    "RoformerV2_gelu_segments": (dict(ROFORMER, num_heads=4, head_size=4, activation="gelu",
                                      num_segments=3, dropout=0.2, use_bias=True),
                                 ["MaskedLM"]),
    "RoformerV2_silu_deep": (dict(ROFORMER, num_layers=3, hidden_dim=32, head_size=16,
                                  intermediate_dim=40, activation="silu", dropout=0.0),
                             ["MaskedLM"]),
}
XLNET = dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=24)
XLNET_CASES = {
    "XLNet": XLNET,
    "XLNet_relu_wide": dict(XLNET, num_layers=3, num_heads=4, hidden_dim=32, intermediate_dim=48,
                            activation="relu", dropout=0.1),
}


def measure(model, kind):
    backbone = model if kind in ("Backbone", "XLNet") else model.backbone
    vocab = backbone.token_embedding.input_dim
    g = torch.Generator().manual_seed(0)
    x = {"token_ids": torch.randint(1, vocab, (BATCH, SEQ), generator=g),
         "segment_ids": torch.zeros(BATCH, SEQ, dtype=torch.int64)}
    if kind == "XLNet":
        x["padding_mask"] = torch.ones(BATCH, SEQ, dtype=torch.int64)
    masked_lm = kind == "MaskedLM"
    if masked_lm:
        x["mask_positions"] = torch.arange(SEQ).repeat(BATCH, 1)

    def loss():
        y = model(x, training=True)
        if masked_lm:
            return F.cross_entropy(y.reshape(-1, vocab), x["token_ids"].reshape(-1))
        return y.float().pow(2).mean()

    fwd, fwd_bwd = forward_and_backward_flops(loss)
    return dict(flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def main():
    keras.utils.set_random_seed(0)
    cases = []
    for name, (config, tasks) in CASES.items():
        keras.backend.clear_session()
        backbone = M.RoformerV2Backbone(**config)
        round_trips(backbone)
        case = describe(backbone, "backbone", name)
        case.update(measure(backbone, "Backbone"))
        cases.append(case)
        for t in tasks:
            cls = getattr(M, "RoformerV2" + t)
            extra = dict(num_classes=3) if t == "TextClassifier" else {}
            model = cls(backbone=backbone, preprocessor=None, **extra)
            round_trips(model)
            case = describe(model, "task", name + t)
            if t == "MaskedLM":
                case.update(measure(model, t))
            cases.append(case)
        print(name, [(c["name"], c["total_params"], c.get("flops_fwd_bwd")) for c in cases[-1 - len(tasks):]],
              flush=True)
    for name, config in XLNET_CASES.items():
        keras.backend.clear_session()
        backbone = M.XLNetBackbone(**config)
        round_trips(backbone)
        case = describe(backbone, "backbone", name)
        case.update(measure(backbone, "XLNet"))
        cases.append(case)
        print(name, case["total_params"], case["flops_fwd"], case["flops_fwd_bwd"], flush=True)
    with gzip.open(OUT, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, torch=torch.__version__,
                       batch=BATCH, seq=SEQ, models=cases), f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {OUT}")


if __name__ == "__main__":
    main()
