"""Generate tests/data/hf_dinov3_vit.json: transformers' dinov3_vit measured with the real
transformers (5.24). `rows`: `base_params` and class of AutoModel (`DINOv3ViTModel`) on the
meta device and, for small models, `modules` {path: [class, params]}; `keras_hub_twins`: the
config archbudget makes of each keras-hub DINOV3Backbone of tests/data/keras_hub_new.json.gz,
and the parameter count of that `DINOv3ViTModel` with keras-hub's mask token (none without
`use_mask_token`); `flops`: tiny configs' buffer elements (the rotary `inv_freq`) and forward and forward+backward FLOPs of
`last_hidden_state.float().pow(2).mean()` in `train()`, fp32, SDPA, under
torch.utils.flop_counter on CPU (BATCH images).

    /work/scratch/hf/bin/python tests/data/make_hf_dinov3_vit.py   # needs torch, transformers
"""
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import build, count, forward_and_backward_flops, module_counts, write_records  # noqa: E402

SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48, image_size=32,
             patch_size=8)
CASES = [
    ("dinov3-vits16-default", {}),
    ("dinov3-small", SMALL),
    ("dinov3-registers-gated", dict(SMALL, num_register_tokens=4, use_gated_mlp=True, hidden_act="silu")),
    ("dinov3-no-biases-rect", dict(SMALL, query_bias=False, value_bias=False, proj_bias=False, mlp_bias=False,
                                   key_bias=True, image_size=[32, 24], patch_size=[8, 4], num_channels=1)),
    ("dinov3-vitl16", dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                           num_register_tokens=4)),
    ("dinov3-vith16plus", dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                               num_attention_heads=20, num_register_tokens=4, use_gated_mlp=True,
                               hidden_act="silu")),
]


def twin(image, patch, hidden, heads, layers, inter, registers, gated, biases, mlp_bias):
    """dinov3.rs's translation of a DINOV3Backbone's arguments."""
    q, k, v, o = biases
    return dict(model_type="dinov3_vit", hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                intermediate_size=inter, image_size=list(image[:2]), patch_size=patch, num_channels=image[2],
                num_register_tokens=registers, use_gated_mlp=gated, mlp_bias=mlp_bias, hidden_act="gelu",
                attention_dropout=0.0, query_bias=q, key_bias=k, value_bias=v, proj_bias=o)


# make_keras_hub_new.py's DINOV3Backbone models: (name, twin config, use_mask_token)
KERAS_HUB_TWINS = [
    ("DINOV3", twin((16, 16, 3), 4, 16, 2, 2, 24, 4, False, (True, True, True, True), True), True),
    ("DINOV3_gated", twin((16, 12, 3), 4, 16, 2, 2, 24, 0, True, (False, False, True, False), False), False),
]

FLOPS = [
    ("dinov3-flops-small", SMALL),
    ("dinov3-flops-registers-gated", dict(SMALL, num_register_tokens=3, use_gated_mlp=True, hidden_size=48,
                                          num_attention_heads=3, num_hidden_layers=1)),
    ("dinov3-flops-rect", dict(SMALL, image_size=[32, 24], patch_size=[8, 4], key_bias=True, mlp_bias=False)),
]
BATCH = 2


def flops(name, kwargs):
    cfg = AutoConfig.for_model("dinov3_vit", **kwargs)
    cfg._attn_implementation = "sdpa"
    model = AutoModel.from_config(cfg)
    model.train()
    h, w = cfg.image_size if isinstance(cfg.image_size, (list, tuple)) else (cfg.image_size,) * 2
    pixels = torch.randn(BATCH, cfg.num_channels, h, w)
    fwd, fwd_bwd = forward_and_backward_flops(
        lambda: model(pixel_values=pixels).last_hidden_state.float().pow(2).mean())
    return dict(name=name, config=dict(model_type="dinov3_vit", **kwargs), head="base", attn="sdpa", batch=BATCH,
                seq=1, params=count(model), buffers=sum(b.numel() for b in model.buffers()), flops_fwd=fwd,
                flops_fwd_bwd=fwd_bwd)


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    rows = []
    for name, kwargs in CASES:
        model = build(AutoModel, AutoConfig.for_model("dinov3_vit", **kwargs))
        row = dict(name=name, model_type="dinov3_vit", config=dict(model_type="dinov3_vit", **kwargs),
                   base_params=count(model), base_class=type(model).__name__)
        if sum(1 for _ in model.modules()) < 200:
            row["modules"] = module_counts(model)
        rows.append(row)
        print(f"{name}: {row['base_params']:,}", file=sys.stderr)
    twins = []
    for name, config, mask_token in KERAS_HUB_TWINS:
        kw = dict(config)
        model = build(AutoModel, AutoConfig.for_model(kw.pop("model_type"), **kw))
        if not mask_token:
            model.embeddings.mask_token = None
        twins.append(dict(name=name, config=config, mask_token=mask_token, params=count(model)))
        print(f"{name}: {twins[-1]['params']:,}", file=sys.stderr)
    measured = [flops(*case) for case in FLOPS]
    for m in measured:
        print(m["name"], m["params"], m["flops_fwd"], m["flops_fwd_bwd"], file=sys.stderr)
    out = pathlib.Path(__file__).parent / "hf_dinov3_vit.json"
    write_records(out, rows=rows, keras_hub_twins=twins, flops=measured)


if __name__ == "__main__":
    main()
