"""Generate tests/data/hf_dinov2.json: transformers' dinov2 and dinov2_with_registers measured
with the real transformers. `rows`: `base_params` and class of AutoModel (`Dinov2Model`,
`Dinov2WithRegistersModel`) on the meta device and, for small models, `modules`
{path: [class, params]}; `keras_hub_twins`: the configs archbudget makes of keras-hub's
DINOV2Backbone models in tests/data/keras_hub_vision_more.json.gz and their parameter count;
`flops`: tiny configs' forward and forward+backward FLOPs of
`last_hidden_state.float().pow(2).mean()` in `train()`, fp32, SDPA, under
torch.utils.flop_counter on CPU (BATCH images).

    /work/scratch/hf/bin/python tests/data/make_hf_dinov2.py   # needs torch, transformers
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

SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, image_size=28, patch_size=7)
CASES = [
    ("dinov2-default", "dinov2", {}),
    ("dinov2-small", "dinov2", SMALL),
    ("dinov2-swiglu-no-mask", "dinov2", dict(SMALL, use_swiglu_ffn=True, use_mask_token=False, mlp_ratio=3,
                                            qkv_bias=False, num_channels=1)),
    ("dinov2-small-hub", "dinov2", dict(hidden_size=384, num_attention_heads=6, image_size=518)),
    ("dinov2-registers-default", "dinov2_with_registers", {}),
    ("dinov2-registers-small", "dinov2_with_registers", dict(SMALL, num_register_tokens=3)),
    ("dinov2-registers-giant", "dinov2_with_registers", dict(hidden_size=1536, num_hidden_layers=40,
                                                            num_attention_heads=24, mlp_ratio=4,
                                                            use_swiglu_ffn=True, image_size=518, patch_size=14)),
]


def twin(side, patch, hidden, heads, layers, inter, registers=0, swiglu=False, mask=True):
    """dinov2.rs's translation of a DINOV2Backbone's arguments."""
    config = dict(model_type="dinov2_with_registers" if registers else "dinov2", hidden_size=hidden,
                  num_hidden_layers=layers, num_attention_heads=heads, mlp_ratio=inter // hidden, image_size=side,
                  patch_size=patch, num_channels=3, use_swiglu_ffn=swiglu, layerscale_value=1.0)
    if registers:
        config["num_register_tokens"] = registers
    else:
        config["use_mask_token"] = mask
    return config


KERAS_HUB_TWINS = [
    ("dinov2_tiny", twin(16, 4, 32, 4, 2, 64)),
    ("dinov2_apply_layernorm", twin(24, 4, 32, 4, 2, 64)),
    ("dinov2_small", twin(224, 14, 384, 6, 12, 1536)),
    ("dinov2_with_registers_small", twin(224, 14, 384, 6, 12, 1536, registers=4)),
]

FLOPS = [
    ("dinov2-flops-small", "dinov2", SMALL),
    ("dinov2-flops-swiglu", "dinov2", dict(SMALL, use_swiglu_ffn=True, hidden_size=48, num_attention_heads=3,
                                          num_hidden_layers=1)),
    ("dinov2-registers-flops", "dinov2_with_registers", dict(SMALL, num_register_tokens=2)),
]
BATCH = 2


def flops(name, model_type, kwargs):
    cfg = AutoConfig.for_model(model_type, **kwargs)
    cfg._attn_implementation = "sdpa"
    model = AutoModel.from_config(cfg)
    model.train()
    pixels = torch.randn(BATCH, cfg.num_channels, cfg.image_size, cfg.image_size)
    fwd, fwd_bwd = forward_and_backward_flops(
        lambda: model(pixel_values=pixels).last_hidden_state.float().pow(2).mean())
    return dict(name=name, config=dict(model_type=model_type, **kwargs), head="base", attn="sdpa", batch=BATCH,
                seq=1, params=count(model), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    rows = []
    for name, model_type, kwargs in CASES:
        model = build(AutoModel, AutoConfig.for_model(model_type, **kwargs))
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs),
                   base_params=count(model), base_class=type(model).__name__)
        if sum(1 for _ in model.modules()) < 200:
            row["modules"] = module_counts(model)
        rows.append(row)
        print(f"{name}: {row['base_params']:,}", file=sys.stderr)
    twins = []
    for name, config in KERAS_HUB_TWINS:
        kw = dict(config)
        model = build(AutoModel, AutoConfig.for_model(kw.pop("model_type"), **kw))
        twins.append(dict(name=name, config=config, params=count(model)))
        print(f"{name}: {twins[-1]['params']:,}", file=sys.stderr)
    measured = [flops(*case) for case in FLOPS]
    out = pathlib.Path(__file__).parent / "hf_dinov2.json"
    write_records(out, rows=rows, keras_hub_twins=twins, flops=measured)


if __name__ == "__main__":
    main()
