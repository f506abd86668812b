"""Generate tests/data/hf_swin.json: transformers' swin measured with the real transformers
(5.24) on the meta device. `rows`: `base_params` and class of AutoModel (`SwinModel`) and,
for small models, `modules` {path: [class, params]}; `keras_hub_twins`: the `SwinModel`
that archbudget translates each swin model of tests/data/make_keras_hub_vision_more.py
into (a SwinTransformerImageClassifier runs as its backbone's twin); `flops`: tiny
configs' forward and forward+backward FLOPs of `last_hidden_state.float().pow(2).mean()`
in `train()`, fp32, under torch.utils.flop_counter on CPU (BATCH images), eager attention:
on the CPU, SDPA with swin's bias (an `attn_mask` that needs a gradient) takes the math
path and counts as eager does, not as the GPU's memory-efficient kernel.

    /work/scratch/hf/bin/python tests/data/make_hf_swin.py   # needs torch, transformers
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

SMALL = dict(image_size=32, patch_size=4, embed_dim=16, depths=[2, 1], num_heads=[2, 4], window_size=4)
CASES = [
    ("swin-default", {}),
    ("swin-small", SMALL),
    ("swin-rect-options", dict(image_size=[40, 24], patch_size=2, num_channels=1, embed_dim=16, depths=[1, 2, 1],
                               num_heads=[1, 2, 2], window_size=3, mlp_ratio=2.5, qkv_bias=False)),
    ("swin-absolute-positions", dict(SMALL, use_absolute_embeddings=True, patch_size=[4, 2])),
    ("swin-tiny-patch4-window7-224", dict(embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24])),
    ("swin-base-patch4-window12-384", dict(image_size=384, embed_dim=128, depths=[2, 2, 18, 2],
                                           num_heads=[4, 8, 16, 32], window_size=12)),
    ("swin-large-patch4-window7-224", dict(embed_dim=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48])),
]


def keras_hub_twin(image, patch, embed, depths, heads, window, drop_path=0.1):
    """What archbudget makes of a keras-hub SwinTransformerBackbone's arguments."""
    return dict(image_size=list(image[:2]), patch_size=patch, num_channels=image[2], embed_dim=embed,
                depths=depths, num_heads=heads, window_size=window, mlp_ratio=4.0, qkv_bias=True,
                hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, drop_path_rate=drop_path)


# make_keras_hub_vision_more.py's Swin models with patch_norm (the transformers twin's
# embeddings always norm)
KERAS_HUB_TWINS = [
    ("swin_small", keras_hub_twin((32, 32, 3), 4, 16, [2, 1], [2, 4], 4)),
    ("swin_image_classifier", keras_hub_twin((32, 32, 3), 4, 16, [2, 1], [2, 4], 4)),
    ("swin_tiny_patch4_window7_224", keras_hub_twin((224, 224, 3), 4, 96, [2, 2, 6, 2], [3, 6, 12, 24], 7)),
    ("swin_base_patch4_window12_384", keras_hub_twin((384, 384, 3), 4, 128, [2, 2, 18, 2], [4, 8, 16, 32], 12)),
]

FLOPS = [
    ("swin-flops-small", dict(SMALL, hidden_dropout_prob=0.1), "eager"),
    # windows padded (20×12 tokens in windows of 3), a stage clamped to one window
    ("swin-flops-padded", dict(image_size=[40, 24], patch_size=2, num_channels=1, embed_dim=16, depths=[1, 2, 1],
                               num_heads=[1, 2, 2], window_size=3, mlp_ratio=2.5, qkv_bias=False), "eager"),
    # an image that is no multiple of the patch, odd maps merged
    ("swin-flops-odd", dict(image_size=[30, 26], patch_size=4, embed_dim=8, depths=[2, 2, 1], num_heads=[1, 2, 2],
                            window_size=2, hidden_act="relu"), "eager"),
]
BATCH = 2


def flops(name, kwargs, attn):
    cfg = AutoConfig.for_model("swin", **kwargs)
    cfg._attn_implementation = attn
    model = AutoModel.from_config(cfg)
    model.train()
    h, w = cfg.image_size if isinstance(cfg.image_size, (list, tuple)) else (cfg.image_size,) * 2
    pixels = torch.randn(BATCH, cfg.num_channels, h, w)
    fwd, fwd_bwd = forward_and_backward_flops(
        lambda: model(pixel_values=pixels).last_hidden_state.float().pow(2).mean())
    return dict(name=name, config=dict(model_type="swin", **kwargs), head="base", attn=attn, batch=BATCH,
                seq=1, params=count(model), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    rows = []
    for name, kwargs in CASES:
        model = build(AutoModel, AutoConfig.for_model("swin", **kwargs))
        row = dict(name=name, model_type="swin", config=dict(model_type="swin", **kwargs),
                   base_params=count(model), base_class=type(model).__name__)
        if sum(1 for _ in model.modules()) < 200:
            row["modules"] = module_counts(model)
        rows.append(row)
        print(f"{name}: {row['base_params']:,}", file=sys.stderr)
    twins = []
    for name, kwargs in KERAS_HUB_TWINS:
        model = build(AutoModel, AutoConfig.for_model("swin", **kwargs))
        twins.append(dict(name=name, config=dict(model_type="swin", **kwargs), params=count(model)))
    measured = [flops(*case) for case in FLOPS]
    for m in measured:
        print(m["name"], m["flops_fwd"], m["flops_fwd_bwd"], file=sys.stderr)
    out = pathlib.Path(__file__).parent / "hf_swin.json"
    write_records(out, rows=rows, keras_hub_twins=twins, flops=measured)


if __name__ == "__main__":
    main()
