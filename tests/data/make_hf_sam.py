"""Generate tests/data/hf_sam.json: transformers' sam_vision_model (`SamVisionModel`,
Segment Anything's image encoder) and sam (`SamModel`: that encoder, the prompt encoder and
the mask decoder) measured with the real transformers (5.24).

- `rows`: `base_params` and class of AutoModel on the meta device and, for small models,
  `modules` {path: [class, params]}: the default (ViT-B's layout), SAM ViT-L and ViT-H, and
  tiny configs covering each option (windows that do not tile the grid, global layers, no
  absolute or relative positions, all layers global, `mlp_dim` given, grey images, no qkv
  bias);
- `flops`: tiny configs' forward and forward+backward FLOPs of
  `last_hidden_state.float().pow(2).mean()` in `train()`, fp32, under
  torch.utils.flop_counter on CPU (BATCH images), eager attention (on the CPU, SDPA with the
  relative-position bias, an `attn_mask` that needs a gradient, takes the math path and
  counts as eager does);
- `sam_rows`: the same for SamModel (SAM ViT-B's layout, ViT-H's, tiny configs with
  other prompt encoders and mask decoders), with `base_buffers`;
- `sam_flops`: two tiny SamModels' FLOPs of `pred_masks.float().pow(2).mean()` on
  SAM_BATCH images, each prompted as keras-hub's SAMBackbone example prompts: one point
  (label 1) and one box, no mask;
- `keras_hub_sam_twins`: the SamModel each SAM of make_keras_hub_vit.py runs as
  (`keras_hub_sam_twin`, the translation formats/keras_hub/sam.rs makes; SAMBackbone
  alone builds no mask decoder, so its `params` leave the decoder's out), the same FLOPs
  for the tiny segmenters; SAM_varied's IoU head of depth 1 (one Dense) has no SamModel
  form and no twin here;
- `keras_hub_twins`: the SamVisionModel each ViTDetBackbone of
  tests/data/make_keras_hub_vit.py runs as (`keras_hub_twin`, the translation
  formats/keras_hub/vit_det.rs makes), its parameters and the same FLOPs.

    /work/scratch/hf/bin/python tests/data/make_hf_sam.py   # needs torch, transformers
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

TINY = dict(hidden_size=8, num_hidden_layers=3, num_attention_heads=2, image_size=16, patch_size=2,
            output_channels=6, window_size=3, global_attn_indexes=[1])
CASES = [
    ("sam-vit-base-default", {}),
    ("sam-vit-large", dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                           global_attn_indexes=[5, 11, 17, 23])),
    ("sam-vit-huge", dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16,
                          global_attn_indexes=[7, 15, 23, 31])),
    ("sam-tiny-padded-windows", TINY),
    ("sam-tiny-no-positions", dict(TINY, use_abs_pos=False, use_rel_pos=False, qkv_bias=False)),
    ("sam-tiny-all-global", dict(TINY, window_size=0, global_attn_indexes=[])),
    ("sam-tiny-options", dict(hidden_size=12, num_hidden_layers=4, num_attention_heads=3, image_size=20,
                              patch_size=3, num_channels=1, output_channels=4, window_size=4,
                              global_attn_indexes=[3, 7], mlp_dim=20, hidden_act="relu")),
    ("sam-tiny-mlp-ratio", dict(TINY, mlp_ratio=2.5, window_size=2, global_attn_indexes=[0, 2])),
]
FLOPS = [
    ("sam-flops-padded", dict(TINY, attention_dropout=0.1)),
    ("sam-flops-no-positions", dict(TINY, use_abs_pos=False, use_rel_pos=False, qkv_bias=False)),
    ("sam-flops-options", dict(hidden_size=12, num_hidden_layers=4, num_attention_heads=3, image_size=20,
                               patch_size=3, output_channels=4, window_size=4, global_attn_indexes=[3],
                               mlp_dim=20, hidden_act="relu")),
]
BATCH = 2

SAM_TINY = dict(
    vision_config=dict(TINY, output_channels=8, num_hidden_layers=2, num_pos_feats=4),
    prompt_encoder_config=dict(hidden_size=8, image_size=16, patch_size=2, mask_input_channels=16),
    mask_decoder_config=dict(hidden_size=8, mlp_dim=12, num_hidden_layers=2, num_attention_heads=2,
                             iou_head_hidden_dim=10))
SAM_OPTIONS = dict(
    vision_config=dict(TINY, output_channels=16, use_abs_pos=False, num_pos_feats=8),
    prompt_encoder_config=dict(hidden_size=16, image_size=16, patch_size=2, mask_input_channels=8,
                               num_point_embeddings=5),
    mask_decoder_config=dict(hidden_size=16, mlp_dim=20, num_hidden_layers=3, num_attention_heads=4,
                             attention_downsample_rate=4, num_multimask_outputs=1, iou_head_depth=4,
                             iou_head_hidden_dim=6, hidden_act="gelu"))
SAM_CASES = [
    ("sam-vit-base-default", {}),
    ("sam-vit-huge", dict(vision_config=dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16,
                                              global_attn_indexes=[7, 15, 23, 31]))),
    ("sam-tiny", SAM_TINY),
    ("sam-tiny-options", SAM_OPTIONS),
]
SAM_FLOPS = [("sam-flops-tiny", SAM_TINY), ("sam-flops-options", SAM_OPTIONS)]
SAM_BATCH = 2


def keras_hub_twin(image_shape, patch_size, hidden_size, num_layers, intermediate_dim, num_heads,
                   global_attention_layer_indices, num_output_channels=256, use_bias=True, use_abs_pos=True,
                   use_rel_pos=True, window_size=14, layer_norm_epsilon=1e-6):
    """The SamVisionModel config a keras-hub ViTDetBackbone's arguments make (its grey images
    are broadcast to three channels before the patch convolution)."""
    return dict(model_type="sam_vision_model", image_size=image_shape[0], patch_size=patch_size,
                num_channels=3, hidden_size=hidden_size, num_hidden_layers=num_layers, mlp_dim=intermediate_dim,
                num_attention_heads=num_heads, output_channels=num_output_channels, qkv_bias=use_bias,
                use_abs_pos=use_abs_pos, use_rel_pos=use_rel_pos, window_size=window_size,
                global_attn_indexes=list(global_attention_layer_indices), layer_norm_eps=layer_norm_epsilon,
                hidden_act="gelu")


# make_keras_hub_vit.py's VITDET_CASES
VITDET = dict(image_shape=(16, 16, 3), patch_size=2, hidden_size=8, num_layers=3, intermediate_dim=16, num_heads=2,
              num_output_channels=6, window_size=3, global_attention_layer_indices=[1])
KERAS_HUB_TWINS = {
    "ViTDet": VITDET,
    "ViTDet_no_abs_pos": dict(VITDET, use_abs_pos=False, use_bias=False),
    "ViTDet_no_rel_pos": dict(VITDET, use_rel_pos=False, window_size=4),
    "ViTDet_global": dict(VITDET, window_size=0, global_attention_layer_indices=[]),
    "ViTDet_odd_patch": dict(VITDET, image_shape=(20, 20, 1), patch_size=3, hidden_size=12, num_heads=3,
                             num_layers=4, num_output_channels=4, global_attention_layer_indices=[3, 7]),
    "ViTDet_sam_layout": dict(VITDET, image_shape=(32, 32, 3), patch_size=4, num_layers=8, window_size=2,
                              global_attention_layer_indices=[3, 7]),
}


def keras_hub_sam_twin(encoder, prompt, decoder):
    """The SamModel config a keras-hub SAM's three parts make: the encoder's twin, the
    random Fourier features `prompt.hidden_size // 2` wide (transformers' default is 128),
    the prompt encoder on the encoder's grid, the decoder's two-way transformer."""
    vision = keras_hub_twin(**encoder)
    vision.pop("model_type")
    vision["num_pos_feats"] = prompt["hidden_size"] // 2
    return dict(model_type="sam", vision_config=vision,
                prompt_encoder_config=dict(hidden_size=prompt["hidden_size"], image_size=vision["image_size"],
                                           patch_size=vision["patch_size"],
                                           mask_input_channels=prompt.get("mask_in_channels", 16),
                                           hidden_act=prompt.get("activation", "gelu")),
                mask_decoder_config=dict(hidden_size=decoder["hidden_size"], mlp_dim=decoder["intermediate_dim"],
                                         num_hidden_layers=decoder["num_layers"],
                                         num_attention_heads=decoder["num_heads"],
                                         num_multimask_outputs=decoder.get("num_multimask_outputs", 3),
                                         iou_head_depth=decoder.get("iou_head_depth", 3),
                                         iou_head_hidden_dim=decoder.get("iou_head_hidden_dim", 256)))


# make_keras_hub_vit.py's SAM_CASES (SAM_varied's depth-1 IoU head has no twin) and presets
SAM_ENCODER = dict(VITDET, num_output_channels=8, num_layers=2)
SAM_PROMPT = dict(hidden_size=8, image_embedding_size=(8, 8), input_image_size=(16, 16), mask_in_channels=16)
SAM_DECODER = dict(hidden_size=8, num_layers=2, intermediate_dim=12, num_heads=2, embedding_dim=8,
                   num_multimask_outputs=3, iou_head_depth=3, iou_head_hidden_dim=10)
RELEASED_PROMPT = dict(hidden_size=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024),
                       mask_in_channels=16)
RELEASED_DECODER = dict(hidden_size=256, num_layers=2, intermediate_dim=2048, num_heads=8, embedding_dim=256,
                        num_multimask_outputs=3, iou_head_depth=3, iou_head_hidden_dim=256)
RELEASED_VIT = dict(image_shape=(1024, 1024, 3), patch_size=16, num_output_channels=256, window_size=14)
KERAS_HUB_SAM = {
    "SAM": (SAM_ENCODER, SAM_PROMPT, SAM_DECODER),
    "sam_base_sa1b": (dict(RELEASED_VIT, hidden_size=768, num_layers=12, intermediate_dim=3072, num_heads=12,
                           global_attention_layer_indices=[2, 5, 8, 11]), RELEASED_PROMPT, RELEASED_DECODER),
    "sam_large_sa1b": (dict(RELEASED_VIT, hidden_size=1024, num_layers=24, intermediate_dim=4096, num_heads=16,
                            global_attention_layer_indices=[5, 11, 17, 23]), RELEASED_PROMPT, RELEASED_DECODER),
    "sam_huge_sa1b": (dict(RELEASED_VIT, hidden_size=1280, num_layers=32, intermediate_dim=5120, num_heads=16,
                           global_attention_layer_indices=[7, 15, 23, 31]), RELEASED_PROMPT, RELEASED_DECODER),
}


def sam_config_of(config):
    kw = dict(config)
    kw.pop("model_type", None)
    return AutoConfig.for_model("sam", **kw)


def sam_flops(name, config):
    cfg = sam_config_of(config)
    cfg._attn_implementation = "eager"
    model = AutoModel.from_config(cfg)
    model.train()
    v = cfg.vision_config
    pixels = torch.randn(SAM_BATCH, v.num_channels, v.image_size, v.image_size)
    points = torch.rand(SAM_BATCH, 1, 1, 2) * v.image_size
    labels = torch.ones(SAM_BATCH, 1, 1, dtype=torch.long)
    boxes = torch.rand(SAM_BATCH, 1, 4) * v.image_size
    fwd, fwd_bwd = forward_and_backward_flops(
        lambda: model(pixel_values=pixels, input_points=points, input_labels=labels,
                      input_boxes=boxes).pred_masks.float().pow(2).mean())
    return dict(name=name, config=dict(model_type="sam", **config), head="base", attn="eager", batch=SAM_BATCH,
                seq=1, params=count(model), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def sam_twins():
    twins = []
    for name, parts in KERAS_HUB_SAM.items():
        config = keras_hub_sam_twin(*parts)
        model = build(AutoModel, sam_config_of(config))
        full = count(model)
        backbone = full - count(model.mask_decoder)
        twins.append(dict(name=name, config=config, params=backbone, fixture="keras_hub_vit"))
        segmenter = f"{name}ImageSegmenter" if name == "SAM" else name
        if name == "SAM":
            twins.append(dict(sam_flops(segmenter, {k: v for k, v in config.items() if k != "model_type"}),
                              fixture="keras_hub_vit"))
        else:
            # the released sizes are recorded as segmenters only (make_keras_hub_vit.py)
            twins[-1].update(params=full)
    return twins


def config_of(kwargs):
    kw = dict(kwargs)
    return AutoConfig.for_model(kw.pop("model_type", "sam_vision_model"), **kw)


def flops(name, config):
    cfg = config_of(config)
    cfg._attn_implementation = "eager"
    model = AutoModel.from_config(cfg)
    model.train()
    pixels = torch.randn(BATCH, cfg.num_channels, cfg.image_size, cfg.image_size)
    fwd, fwd_bwd = forward_and_backward_flops(
        lambda: model(pixel_values=pixels).last_hidden_state.float().pow(2).mean())
    return dict(name=name, config=config, head="base", attn="eager", batch=BATCH, seq=1, params=count(model),
                flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    rows = []
    for name, kwargs in CASES:
        config = dict(model_type="sam_vision_model", **kwargs)
        model = build(AutoModel, config_of(config))
        row = dict(name=name, model_type="sam_vision_model", config=config, base_params=count(model),
                   base_class=type(model).__name__)
        if sum(1 for _ in model.modules()) < 200:
            row["modules"] = module_counts(model)
        rows.append(row)
        print(f"{name}: {row['base_params']:,}", file=sys.stderr)
    sam_rows = []
    for name, kwargs in SAM_CASES:
        model = build(AutoModel, sam_config_of(kwargs))
        row = dict(name=name, model_type="sam", config=dict(model_type="sam", **kwargs), base_params=count(model),
                   base_buffers=sum(b.numel() for b in model.buffers()), base_class=type(model).__name__)
        if sum(1 for _ in model.modules()) < 200:
            row["modules"] = module_counts(model)
        sam_rows.append(row)
        print(f"{name}: {row['base_params']:,}", file=sys.stderr)
    measured_sam = [sam_flops(name, kw) for name, kw in SAM_FLOPS]
    sam_keras = sam_twins()
    for m in measured_sam + sam_keras:
        print(m["name"], m["params"], m.get("flops_fwd"), m.get("flops_fwd_bwd"), file=sys.stderr)
    measured = [flops(name, dict(model_type="sam_vision_model", **kw)) for name, kw in FLOPS]
    twins = [dict(flops(name, keras_hub_twin(**kw)), fixture="keras_hub_vit") for name, kw in KERAS_HUB_TWINS.items()]
    for m in measured + twins:
        print(m["name"], m["params"], m["flops_fwd"], m["flops_fwd_bwd"], file=sys.stderr)
    out = pathlib.Path(__file__).parent / "hf_sam.json"
    write_records(out, rows=rows, flops=measured, keras_hub_twins=twins, sam_rows=sam_rows, sam_flops=measured_sam,
                  keras_hub_sam_twins=sam_keras)


if __name__ == "__main__":
    main()
