"""Generate tests/data/hf_segformer.json: transformers' segformer (`SegformerModel`, the Mix
Transformer encoder) measured with the real transformers (5.24) on the meta device.
`rows`: `base_params` and class of AutoModel and, for small models, `modules` {path:
[class, params]}; `keras_hub_twins`: the `SegformerModel` that archbudget translates each
MiTBackbone of tests/data/make_keras_hub_vision_more.py into; `flops`: tiny configs'
forward and forward+backward FLOPs of `last_hidden_state.float().pow(2).mean()` in
`train()`, fp32, under torch.utils.flop_counter on CPU (BATCH images of the config's
`image_size`, which transformers keeps but ignores).

    /work/scratch/hf/bin/python tests/data/make_hf_segformer.py   # needs torch, transformers
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

SMALL = dict(image_size=32, num_encoder_blocks=2, depths=[1, 2], sr_ratios=[2, 1], hidden_sizes=[8, 16],
             patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[4, 4])
CASES = [
    ("segformer-default", {}),
    ("segformer-small", SMALL),
    ("segformer-options", dict(SMALL, num_channels=1, image_size=[48, 40], sr_ratios=[1, 2], patch_sizes=[5, 3],
                               strides=[2, 3], mlp_ratios=[2, 3], hidden_sizes=[10, 18], num_attention_heads=[2, 4])),
    ("mit-b0", dict(image_size=512)),
    ("mit-b2", dict(depths=[3, 4, 6, 3], hidden_sizes=[64, 128, 320, 512], decoder_hidden_size=768)),
    ("mit-b5", dict(depths=[3, 6, 40, 3], hidden_sizes=[64, 128, 320, 512], decoder_hidden_size=768)),
]


def keras_hub_twin(image, depths, widths, heads, srs, patches, strides, drop_path=0.1):
    """What archbudget makes of a keras-hub MiTBackbone's arguments."""
    n = len(depths)
    return dict(image_size=list(image[:2]), num_channels=image[2], num_encoder_blocks=n, depths=depths,
                sr_ratios=srs, hidden_sizes=widths, patch_sizes=patches, strides=strides, num_attention_heads=heads,
                mlp_ratios=[4] * n, drop_path_rate=drop_path, hidden_act="gelu")


KERAS_HUB_TWINS = [
    ("mit_small", keras_hub_twin((32, 32, 3), [1, 2], [8, 16], [1, 2], [2, 1], [7, 3], [4, 2])),
    ("mit_channels", keras_hub_twin((48, 48, 1), [1, 2], [8, 16], [1, 2], [1, 2], [5, 3], [2, 3])),
    ("mit_b0_ade20k_512", keras_hub_twin((512, 512, 3), [2, 2, 2, 2], [32, 64, 160, 256], [1, 2, 5, 8],
                                         [8, 4, 2, 1], [7, 3, 3, 3], [4, 2, 2, 2])),
]

FLOPS = [
    ("segformer-flops-small", dict(SMALL), "sdpa"),
    ("segformer-flops-small-eager", dict(SMALL, hidden_dropout_prob=0.1), "eager"),
    ("segformer-flops-options", CASES[2][1], "sdpa"),
]
BATCH = 2


def flops(name, kwargs, attn):
    cfg = AutoConfig.for_model("segformer", **kwargs)
    cfg._attn_implementation = attn
    model = AutoModel.from_config(cfg)
    model.train()
    size = kwargs["image_size"]
    h, w = size if isinstance(size, (list, tuple)) else (size, size)
    pixels = torch.randn(BATCH, cfg.num_channels, h, w)
    fwd, fwd_bwd = forward_and_backward_flops(
        lambda: model(pixel_values=pixels).last_hidden_state.float().pow(2).mean())
    return dict(name=name, config=dict(model_type="segformer", **kwargs), head="base", attn=attn, batch=BATCH,
                seq=1, params=count(model), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    rows = []
    for name, kwargs in CASES:
        model = build(AutoModel, AutoConfig.for_model("segformer", **kwargs))
        row = dict(name=name, model_type="segformer", config=dict(model_type="segformer", **kwargs),
                   base_params=count(model), base_class=type(model).__name__)
        if sum(1 for _ in model.modules()) < 200:
            row["modules"] = module_counts(model)
        rows.append(row)
        print(f"{name}: {row['base_params']:,}", file=sys.stderr)
    twins = []
    for name, kwargs in KERAS_HUB_TWINS:
        model = build(AutoModel, AutoConfig.for_model("segformer", **kwargs))
        twins.append(dict(name=name, config=dict(model_type="segformer", **kwargs), params=count(model)))
        print(f"{name}: {twins[-1]['params']:,}", file=sys.stderr)
    measured = [flops(*case) for case in FLOPS]
    for m in measured:
        print(m["name"], m["flops_fwd"], m["flops_fwd_bwd"], file=sys.stderr)
    out = pathlib.Path(__file__).parent / "hf_segformer.json"
    write_records(out, rows=rows, keras_hub_twins=twins, flops=measured)


if __name__ == "__main__":
    main()
