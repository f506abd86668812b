"""Generate tests/data/hf_vision_more.json: transformers' deit measured with the real
transformers on the meta device. `rows`: `base_params` and class of AutoModel
(`DeiTModel`, with its pooler) and, for small models, `modules` {path: [class, params]};
`keras_hub_twins`: `DeiTModel(add_pooling_layer=False)`, the model keras-hub's
DeiTBackbone is, for the configs of tests/data/make_keras_hub_vision_more.py (a
DeiTImageClassifier runs as its backbone's twin); `flops`: tiny configs' forward and
forward+backward FLOPs of `last_hidden_state.float().pow(2).mean()` in `train()`, fp32,
under torch.utils.flop_counter on CPU (BATCH images).

    /work/scratch/hf/bin/python tests/data/make_hf_vision_more.py   # needs torch, transformers
"""
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, DeiTConfig, DeiTModel
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import build, count, forward_and_backward_flops, module_counts, write_records  # noqa: E402

SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48, image_size=32,
             patch_size=8)
CASES = [
    ("deit-default", {}),
    ("deit-small", SMALL),
    ("deit-rect-no-qkv-bias", dict(SMALL, image_size=[32, 48], patch_size=[8, 16], num_channels=1,
                                   qkv_bias=False, pooler_output_size=20)),
    ("deit-tiny-distilled-patch16-224", dict(hidden_size=192, num_attention_heads=3, intermediate_size=768)),
    ("deit-base-distilled-patch16-384", dict(image_size=384)),
]

# make_keras_hub_vision_more.py's DeiT models with a transformers twin, as archbudget
# translates them
KERAS_HUB_TWINS = [
    ("deit_small", dict(SMALL, image_size=[32, 32], patch_size=[8, 8])),
    ("deit_tiny_distilled_patch16_224", dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                                             intermediate_size=768, image_size=[224, 224], patch_size=[16, 16])),
    ("deit_base_distilled_patch16_384", dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                             intermediate_size=3072, image_size=[384, 384], patch_size=[16, 16])),
    ("deit_image_classifier", dict(SMALL, image_size=[32, 32], patch_size=[8, 8])),
    ("deit_tiny_image_classifier", dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                                        intermediate_size=768, image_size=[224, 224], patch_size=[16, 16])),
]

FLOPS = [
    ("deit-flops-small", dict(SMALL, hidden_dropout_prob=0.1)),
    ("deit-flops-rect", dict(SMALL, hidden_size=48, num_attention_heads=3, image_size=[32, 48],
                             patch_size=[8, 16], num_channels=1, num_hidden_layers=1)),
]
BATCH = 2


def flops(name, kwargs):
    cfg = AutoConfig.for_model("deit", **kwargs)
    cfg._attn_implementation = "sdpa"
    model = AutoModel.from_config(cfg)
    model.train()
    h, w = cfg.image_size if isinstance(cfg.image_size, (list, tuple)) else (cfg.image_size,) * 2
    pixels = torch.randn(BATCH, cfg.num_channels, h, w)
    fwd, fwd_bwd = forward_and_backward_flops(
        lambda: model(pixel_values=pixels).last_hidden_state.float().pow(2).mean())
    return dict(name=name, config=dict(model_type="deit", **kwargs), head="base", attn="sdpa", batch=BATCH,
                seq=1, params=count(model), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    rows = []
    for name, kwargs in CASES:
        model = build(AutoModel, AutoConfig.for_model("deit", **kwargs))
        row = dict(name=name, model_type="deit", config=dict(model_type="deit", **kwargs),
                   base_params=count(model), base_class=type(model).__name__)
        if sum(1 for _ in model.modules()) < 200:
            row["modules"] = module_counts(model)
        rows.append(row)
        print(f"{name}: {row['base_params']:,}", file=sys.stderr)
    twins = []
    for name, kwargs in KERAS_HUB_TWINS:
        with torch.device("meta"):
            model = DeiTModel(DeiTConfig(**kwargs), add_pooling_layer=False)
        twins.append(dict(name=name, config=dict(model_type="deit", **kwargs), params=count(model)))
    measured = [flops(*case) for case in FLOPS]
    out = pathlib.Path(__file__).parent / "hf_vision_more.json"
    write_records(out, rows=rows, keras_hub_twins=twins, flops=measured)


if __name__ == "__main__":
    main()
