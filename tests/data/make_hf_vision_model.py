"""Generate tests/data/hf_vision_model.json: transformers' clip_vision_model and
siglip_vision_model (the vision towers alone) measured with the real transformers.
`rows`: `base_params` and class of AutoModel (`CLIPVisionModel`, `SiglipVisionModel`) on the
meta device and, for small models, `modules` {path: [class, params]}; `keras_hub_twins`:
the towers keras-hub's CLIPVisionEncoder / SigLIPVisionEncoder of
tests/data/keras_hub_{multimodal,tasks}.json.gz translate to (the config archbudget makes of
them), their parameter count and the FLOPs of a loss on what keras-hub's encoder returns
(CLIP's final norm on every token, SigLIP's pooling head), built from transformers' modules; `flops`: tiny configs' forward and forward+backward FLOPs of
`last_hidden_state.float().pow(2).mean()` in `train()`, fp32, SDPA, under
torch.utils.flop_counter on CPU (BATCH images).

    /work/scratch/hf/bin/python tests/data/make_hf_vision_model.py   # needs torch, transformers
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

SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, image_size=32,
             patch_size=8)
CASES = [
    ("clip-vision-default", "clip_vision_model", {}),
    ("clip-vision-small", "clip_vision_model", SMALL),
    ("clip-vision-large-patch14-336", "clip_vision_model",
     dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, image_size=336,
          patch_size=14)),
    ("clip-vision-one-channel", "clip_vision_model", dict(SMALL, num_channels=1, hidden_act="gelu")),
    ("siglip-vision-default", "siglip_vision_model", {}),
    ("siglip-vision-small", "siglip_vision_model", SMALL),
    ("siglip-vision-no-head", "siglip_vision_model", dict(SMALL, vision_use_head=False, num_channels=1)),
    ("siglip-so400m-patch14-384", "siglip_vision_model",
     dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16, image_size=384,
          patch_size=14)),
]

# the KerasHub vision encoders of the fixtures, as archbudget translates them
TINY = dict(hidden_size=32, num_attention_heads=4, num_hidden_layers=2, intermediate_size=64, image_size=32,
            patch_size=8, num_channels=3)
KERAS_HUB_TWINS = [
    ("clip_vision_encoder", "keras_hub_multimodal", dict(TINY, model_type="clip_vision_model",
                                                         hidden_act="quick_gelu")),
    ("CLIPVisionEncoder", "keras_hub_tasks", dict(TINY, model_type="clip_vision_model", hidden_act="quick_gelu")),
    ("siglip_vision_encoder", "keras_hub_multimodal", dict(TINY, model_type="siglip_vision_model",
                                                           hidden_act="gelu_pytorch_tanh")),
    ("SigLIPVisionEncoder", "keras_hub_tasks", dict(TINY, model_type="siglip_vision_model",
                                                    hidden_act="gelu_pytorch_tanh")),
]

FLOPS = [
    ("clip-vision-flops-small", "clip_vision_model", SMALL),
    ("clip-vision-flops-odd", "clip_vision_model", dict(SMALL, hidden_size=48, num_attention_heads=3,
                                                        image_size=40, num_channels=1, num_hidden_layers=1)),
    ("siglip-vision-flops-small", "siglip_vision_model", SMALL),
    ("siglip-vision-flops-no-head", "siglip_vision_model", dict(SMALL, vision_use_head=False, image_size=48,
                                                                patch_size=16)),
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


def keras_hub_output_flops(model_type, kwargs):
    """FLOPs of the loss on what keras-hub's encoder returns, with transformers' modules:
    CLIP's final norm on every token, SigLIP's pooling head."""
    cfg = AutoConfig.for_model(model_type, **kwargs)
    cfg._attn_implementation = "sdpa"
    model = AutoModel.from_config(cfg)
    model.train()
    pixels = torch.randn(BATCH, cfg.num_channels, cfg.image_size, cfg.image_size)
    if model_type == "clip_vision_model":
        def output():
            return model.post_layernorm(model(pixel_values=pixels).last_hidden_state)
    else:
        def output():
            return model(pixel_values=pixels).pooler_output
    fwd, fwd_bwd = forward_and_backward_flops(lambda: output().float().pow(2).mean())
    return dict(flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


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
    for name, fixture, config in KERAS_HUB_TWINS:
        kw = dict(config)
        model_type = kw.pop("model_type")
        model = build(AutoModel, AutoConfig.for_model(model_type, **kw))
        twins.append(dict(name=name, fixture=fixture, config=config, params=count(model), batch=BATCH,
                          **keras_hub_output_flops(model_type, kw)))
    measured = [flops(*case) for case in FLOPS]
    out = pathlib.Path(__file__).parent / "hf_vision_model.json"
    write_records(out, rows=rows, keras_hub_twins=twins, flops=measured)


if __name__ == "__main__":
    main()
