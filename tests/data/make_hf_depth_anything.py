"""Generate tests/data/hf_depth_anything.json: transformers' depth_anything measured with the
real transformers (5.24). `rows`: params and class of AutoModelForDepthEstimation
(`DepthAnythingForDepthEstimation`) on the meta device and its modules {path: [class,
params]}; `flops`: tiny configs' forward and forward+backward FLOPs of
`predicted_depth.float().pow(2).mean()` in `train()`, fp32, SDPA, under
torch.utils.flop_counter on CPU (BATCH images); `keras_hub_twins`: the config archbudget
makes of each keras-hub DepthAnything model of tests/data/keras_hub_vit.json.gz and the
parameter count of that transformers model (keras-hub's mask token and MLP width set on it
as keras-hub builds them) and, for the tiny ones transformers runs (no register tokens, no
SwiGLU), its training FLOPs as `flops` measures them.

    /work/scratch/hf/bin/python tests/data/make_hf_depth_anything.py   # needs torch, transformers
"""
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForDepthEstimation
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import build, count, forward_and_backward_flops, module_counts, write_records  # noqa: E402


def dinov2(**kw):
    return dict(model_type="dinov2", reshape_hidden_states=False, **kw)


TINY = dict(
    backbone_config=dinov2(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, mlp_ratio=2, image_size=16,
                           patch_size=4, out_indices=[0, 1, 2, 3]),
    patch_size=4, reassemble_hidden_size=32, neck_hidden_sizes=[8, 12, 16, 16], fusion_hidden_size=16,
    head_hidden_size=8)
CASES = [
    ("depth-anything-small-default", {}),
    ("depth-anything-tiny", TINY),
    ("depth-anything-metric-head0", dict(
        backbone_config=dinov2(hidden_size=24, num_hidden_layers=2, num_attention_heads=2, image_size=24,
                               patch_size=4, out_indices=[1, 2], apply_layernorm=False, use_swiglu_ffn=True,
                               use_mask_token=False),
        patch_size=4, reassemble_hidden_size=24, neck_hidden_sizes=[6, 10], reassemble_factors=[3, 0.25],
        fusion_hidden_size=12, head_hidden_size=4, head_in_index=0, depth_estimation_type="metric", max_depth=20)),
    ("depth-anything-features-by-name", dict(
        backbone_config=dinov2(hidden_size=16, num_hidden_layers=4, num_attention_heads=2, image_size=20,
                               patch_size=5, out_features=["stem", "stage2", "stage4"], qkv_bias=False),
        patch_size=5, reassemble_hidden_size=16, neck_hidden_sizes=[4, 8, 8], reassemble_factors=[2, 1, 0.5],
        fusion_hidden_size=10, head_hidden_size=6)),
]
FLOPS = [
    ("depth-anything-flops-tiny", TINY),
    ("depth-anything-flops-metric", CASES[2][1]),
    ("depth-anything-flops-by-name", CASES[3][1]),
]
BATCH = 2


def config(kwargs):
    return AutoConfig.for_model("depth_anything", **kwargs)


def flops(name, kwargs):
    cfg = config(kwargs)
    cfg.backbone_config._attn_implementation = "sdpa"
    model = AutoModelForDepthEstimation.from_config(cfg)
    model.train()
    side = cfg.backbone_config.image_size
    pixels = torch.randn(BATCH, cfg.backbone_config.num_channels, side, side)
    fwd, fwd_bwd = forward_and_backward_flops(
        lambda: model(pixel_values=pixels).predicted_depth.float().pow(2).mean())
    return dict(name=name, config=dict(model_type="depth_anything", **kwargs), head="base", attn="sdpa",
                batch=BATCH, seq=1, params=count(model), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def twin_flops(kw, inter):
    """FLOPs of a tiny twin in training as `flops` measures them, its MLP keras-hub's width
    (the activation between the two Linears does no FLOPs)."""
    cfg = config(kw)
    cfg.backbone_config._attn_implementation = "sdpa"
    model = AutoModelForDepthEstimation.from_config(cfg)
    hidden = cfg.backbone_config.hidden_size
    for layer in model.backbone.encoder.layer:
        layer.mlp = torch.nn.Sequential(torch.nn.Linear(hidden, inter), torch.nn.Linear(inter, hidden))
    model.train()
    side = cfg.backbone_config.image_size
    pixels = torch.randn(BATCH, cfg.backbone_config.num_channels, side, side)
    fwd, fwd_bwd = forward_and_backward_flops(
        lambda: model(pixel_values=pixels).predicted_depth.float().pow(2).mean())
    return dict(batch=BATCH, flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def keras_hub_twins():
    """depth_anything.rs's twin of each keras-hub DepthAnything fixture, built by transformers
    with what keras-hub holds differently set on it."""
    import gzip
    import json
    data = json.load(gzip.open(pathlib.Path(__file__).parent / "keras_hub_vit.json.gz"))
    twins = []
    for m in data["models"]:
        c = m["model_json"]["config"]
        if "DepthAnything" not in m["model_json"]["class_name"]:
            continue
        task = c if "backbone" in c else None
        b = c["backbone"]["config"] if task else c
        e = b["image_encoder"]["config"]
        layers = e["num_layers"]
        keys = b["feature_keys"] or ["stem"] + [f"stage{i}" for i in range(1, layers + 1)]
        registers = e["num_register_tokens"]
        backbone = dict(model_type="dinov2_with_registers" if registers else "dinov2", hidden_size=e["hidden_dim"],
                        num_hidden_layers=layers, num_attention_heads=e["num_heads"], image_size=e["image_shape"][0],
                        patch_size=e["patch_size"], num_channels=e["image_shape"][2],
                        use_swiglu_ffn=e["use_swiglu_ffn"], out_features=keys,
                        apply_layernorm=e["apply_layernorm"], reshape_hidden_states=False)
        if registers:
            backbone["num_register_tokens"] = registers
        kw = dict(backbone_config=backbone, patch_size=e["patch_size"], reassemble_hidden_size=e["hidden_dim"],
                  reassemble_factors=b["reassemble_factors"], neck_hidden_sizes=b["neck_hidden_dims"],
                  fusion_hidden_size=b["fusion_hidden_dim"], head_hidden_size=b["head_hidden_dim"],
                  head_in_index=b["head_in_index"])
        if task:
            kw.update(depth_estimation_type=task["depth_estimation_type"], max_depth=int(task["max_depth"] or 1))
        model = build(AutoModelForDepthEstimation, config(kw))
        enc = model.backbone
        inter = e["intermediate_dim"]
        # keras-hub's MLP width and mask token (transformers sizes the MLP by an integer mlp_ratio)
        for layer in enc.encoder.layer:
            if e["use_swiglu_ffn"]:
                width = (inter * 2 // 3 + 7) // 8 * 8
                layer.mlp = torch.nn.Sequential(
                    torch.nn.Linear(e["hidden_dim"], 2 * width, device="meta"),
                    torch.nn.Linear(width, e["hidden_dim"], device="meta"))
            else:
                layer.mlp = torch.nn.Sequential(torch.nn.Linear(e["hidden_dim"], inter, device="meta"),
                                                torch.nn.Linear(inter, e["hidden_dim"], device="meta"))
        if not e["use_mask_token"]:
            enc.embeddings.mask_token = None
        twin = dict(name=m["name"], config=dict(model_type="depth_anything", **kw), params=count(model))
        if not registers and not e["use_swiglu_ffn"] and twin["params"] < 1_000_000:
            twin.update(twin_flops(kw, inter))
        twins.append(twin)
        print(f"{m['name']}: {twins[-1]['params']:,}", file=sys.stderr)
    return twins


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    rows = []
    for name, kwargs in CASES:
        model = build(AutoModelForDepthEstimation, config(kwargs))
        rows.append(dict(name=name, model_type="depth_anything", config=dict(model_type="depth_anything", **kwargs),
                         base_params=count(model), base_class=type(model).__name__, modules=module_counts(model)))
        print(f"{name}: {rows[-1]['base_params']:,}", file=sys.stderr)
    measured = [flops(*case) for case in FLOPS]
    for m in measured:
        print(m["name"], m["params"], m["flops_fwd"], m["flops_fwd_bwd"], file=sys.stderr)
    out = pathlib.Path(__file__).parent / "hf_depth_anything.json"
    write_records(out, rows=rows, flops=measured, keras_hub_twins=keras_hub_twins())


if __name__ == "__main__":
    main()
