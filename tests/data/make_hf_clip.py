"""Generate tests/data/hf_clip.json: the dual encoders clip (CLIPModel) and siglip
(SiglipModel) measured with the real transformers on the meta device: `base_params`
(AutoModel) and for small models `modules` {path: [class, params]}; and `vit_no_pooler`:
ViTModel(add_pooling_layer=False), the model keras-hub's ViTBackbone is, for the
configs of tests/data/make_keras_hub_multimodal.py; `flops`: tiny configs' forward and
forward+backward FLOPs of `model(input_ids, pixel_values, return_loss=True).loss` in
`train()`, fp32, eager attention, under torch.utils.flop_counter on CPU (BATCH images and
BATCH texts of SEQ tokens).

    /work/scratch/hf/bin/python tests/data/make_hf_clip.py   # needs torch, transformers
"""
import json
import pathlib
import sys
import warnings

try:
    import torch  # noqa: F401
    import transformers
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import AutoConfig, AutoModel, ViTConfig, ViTModel
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import build, count, module_counts  # noqa: E402

SMALL_TEXT = dict(vocab_size=100, hidden_size=24, intermediate_size=40, num_hidden_layers=2, num_attention_heads=3,
                  max_position_embeddings=16)
SMALL_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                    patch_size=8)

CASES = [
    ("clip-default", "clip", {}),
    ("clip-small", "clip", dict(text_config=SMALL_TEXT, vision_config=SMALL_VISION, projection_dim=20)),
    ("clip-small-channels", "clip", dict(text_config=dict(SMALL_TEXT, hidden_act="gelu"),
                                         vision_config=dict(SMALL_VISION, num_channels=1, patch_size=4),
                                         projection_dim=8)),
    ("clip-vit-large-patch14", "clip", dict(
        text_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12),
        vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                           patch_size=14), projection_dim=768)),
    ("siglip-default", "siglip", {}),
    ("siglip-small", "siglip", dict(text_config=dict(SMALL_TEXT, hidden_size=32, num_attention_heads=4),
                                    vision_config=SMALL_VISION)),
    ("siglip-small-no-head", "siglip", dict(text_config=dict(SMALL_TEXT, projection_size=20),
                                            vision_config=dict(SMALL_VISION, vision_use_head=False))),
    ("siglip-so400m-patch14-384", "siglip", dict(
        text_config=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                         projection_size=1152),
        vision_config=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                           image_size=384, patch_size=14))),
]

# make_keras_hub_multimodal.py's ViT configs with a transformers twin
VIT_NO_POOLER = [
    ("vit_small", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                       image_size=32, patch_size=8)),
    ("vit_base_patch16_224", dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                  intermediate_size=3072, image_size=224, patch_size=16)),
]


# SiglipModel without the vision pooling head (vision_use_head=False) fails in its forward
FLOPS = ["clip-small", "clip-small-channels", "siglip-small"]
BATCH, SEQ = 2, 8


def flops(name, model_type, kwargs):
    cfg = AutoConfig.for_model(model_type, **kwargs)
    cfg._attn_implementation = "eager"
    model = AutoModel.from_config(cfg)
    model.train()
    v = cfg.vision_config
    ids = torch.randint(0, cfg.text_config.vocab_size, (BATCH, SEQ))
    pixels = torch.randn(BATCH, v.num_channels, v.image_size, v.image_size)
    counts = []
    for backward in (False, True):
        fc = FlopCounterMode(display=False)
        with fc:
            loss = model(input_ids=ids, pixel_values=pixels, return_loss=True).loss
            if backward:
                loss.backward()
        counts.append(fc.get_total_flops())
    return dict(name=name, config=dict(model_type=model_type, **kwargs), batch=BATCH, seq=SEQ,
                flops_fwd=counts[0], flops_fwd_bwd=counts[1])


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    rows = []
    for name, model_type, kwargs in CASES:
        cfg = AutoConfig.for_model(model_type, **kwargs)
        model = build(AutoModel, cfg)
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs),
                   base_params=count(model), base_class=type(model).__name__)
        if sum(1 for _ in model.modules()) < 200:
            row["modules"] = module_counts(model)
        rows.append(row)
        print(f"{name}: {row['base_params']:,}", file=sys.stderr)
    vit = []
    for name, kwargs in VIT_NO_POOLER:
        with torch.device("meta"):
            model = ViTModel(ViTConfig(**kwargs), add_pooling_layer=False)
        vit.append(dict(name=name, config=dict(model_type="vit", **kwargs), params=count(model)))
    measured = [flops(*case) for case in CASES if case[0] in FLOPS]
    env = dict(torch=torch.__version__, transformers=transformers.__version__)
    out = pathlib.Path(__file__).parent / "hf_clip.json"
    out.write_text(json.dumps(dict(env=env, rows=rows, vit_no_pooler=vit, flops=measured), indent=1) + "\n")


if __name__ == "__main__":
    main()
