"""More KerasHub vision families built by the real keras-hub with random weights: DeiT
(backbone and image classifier), DINOV2 (backbone), Swin (backbone and image classifier),
MiT (backbone) and SegFormer (backbone and image segmenter), small configs of each option
and preset-sized configs (the arguments of deit_tiny_distilled_patch16_224_imagenet,
deit_base_distilled_patch16_384_imagenet, dinov2_small, dinov2_with_registers_small,
swin_tiny_patch4_window7_224, swin_base_patch4_window12_384, mit_b0_ade20k_512 and
segformer_b0_ade20k_512), the backbones built in a `keras.StatelessScope()` without
weights. The DeiT, DINOV2 and Swin totals equal the presets' `params` metadata; the MiT
and SegFormer presets' metadata are 2,570 and 4,371 above these backbones' counts.

Each model is recorded as make_keras_extra.py records Keras models (its `describe()`):
the JSON of `model.to_json()`, the totals and every row of `model.summary()` from the real
model. A fresh Keras session per model gives Keras's automatic layer names.

usage: KERAS_BACKEND=jax python tests/data/make_keras_hub_vision_more.py [OUTFILE [NAME ...]]
  OUTFILE defaults to tests/data/keras_hub_vision_more.json.gz; NAMEs rebuild only those
  models, the others kept from OUTFILE.
"""
import gzip
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras
import keras_hub

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_extra import describe  # noqa: E402

M = keras_hub.models
HERE = os.path.dirname(os.path.abspath(__file__))


def deit(**kw):
    base = dict(image_shape=(32, 32, 3), patch_size=8, num_layers=2, num_heads=4, hidden_dim=32,
                intermediate_dim=48)
    return M.DeiTBackbone(**{**base, **kw})


# deit_tiny_distilled_patch16_224_imagenet and deit_base_distilled_patch16_384_imagenet
DEIT_TINY = dict(image_shape=(224, 224, 3), patch_size=16, num_layers=12, num_heads=3, hidden_dim=192,
                 intermediate_dim=768)
DEIT_BASE_384 = dict(image_shape=(384, 384, 3), patch_size=16, num_layers=12, num_heads=12, hidden_dim=768,
                     intermediate_dim=3072)


def dinov2(**kw):
    base = dict(patch_size=4, num_layers=2, hidden_dim=32, num_heads=4, intermediate_dim=64,
                image_shape=(16, 16, 3), position_embedding_shape=(24, 24, 3))
    return M.DINOV2Backbone(**{**base, **kw})


# dinov2_small and dinov2_with_registers_small
DINOV2_SMALL = dict(patch_size=14, num_layers=12, hidden_dim=384, num_heads=6, intermediate_dim=1536,
                    layer_scale_init_value=1.0, image_shape=(518, 518, 3), position_embedding_shape=(518, 518, 3))

def swin(**kw):
    base = dict(image_shape=(32, 32, 3), embed_dim=16, depths=[2, 1], num_heads=[2, 4], window_size=4,
                patch_size=4)
    return M.SwinTransformerBackbone(**{**base, **kw})


# swin_tiny_patch4_window7_224 and swin_base_patch4_window12_384
SWIN_TINY = dict(image_shape=(224, 224, 3), patch_size=4, embed_dim=96, depths=[2, 2, 6, 2],
                 num_heads=[3, 6, 12, 24], window_size=7)
SWIN_BASE_384 = dict(image_shape=(384, 384, 3), patch_size=4, embed_dim=128, depths=[2, 2, 18, 2],
                     num_heads=[4, 8, 16, 32], window_size=12)

def mit(**kw):
    base = dict(layerwise_depths=[1, 2], num_layers=2, layerwise_num_heads=[1, 2], layerwise_sr_ratios=[2, 1],
                max_drop_path_rate=0.1, layerwise_patch_sizes=[7, 3], layerwise_strides=[4, 2],
                image_shape=(32, 32, 3), hidden_dims=[8, 16])
    return M.MiTBackbone(**{**base, **kw})


# mit_b0_ade20k_512
MIT_B0 = dict(layerwise_depths=[2, 2, 2, 2], num_layers=4, layerwise_num_heads=[1, 2, 5, 8],
              layerwise_sr_ratios=[8, 4, 2, 1], max_drop_path_rate=0.1, layerwise_patch_sizes=[7, 3, 3, 3],
              layerwise_strides=[4, 2, 2, 2], image_shape=(512, 512, 3), hidden_dims=[32, 64, 160, 256])

BACKBONES = {
    "deit_small": lambda: deit(),
    "deit_no_mha_bias_rect": lambda: deit(use_mha_bias=False, image_shape=(32, 48, 1), patch_size=(8, 16),
                                          dropout_rate=0.1, attention_dropout=0.2),
    "deit_tiny_distilled_patch16_224": lambda: M.DeiTBackbone(**DEIT_TINY),
    "deit_base_distilled_patch16_384": lambda: M.DeiTBackbone(**DEIT_BASE_384),
    "dinov2_tiny": lambda: dinov2(),
    "dinov2_registers_swiglu": lambda: dinov2(num_register_tokens=3, use_swiglu_ffn=True, use_mask_token=False,
                                              intermediate_dim=50, drop_path_rate=0.1),
    "dinov2_apply_layernorm": lambda: dinov2(apply_layernorm=True, image_shape=(24, 24, 3)),
    "dinov2_small": lambda: M.DINOV2Backbone(**DINOV2_SMALL),
    "dinov2_with_registers_small": lambda: M.DINOV2Backbone(**DINOV2_SMALL, num_register_tokens=4),
    "swin_small": lambda: swin(),
    "swin_options": lambda: swin(image_shape=(40, 24, 1), depths=[1, 2, 1], num_heads=[1, 2, 2], window_size=3,
                                 patch_size=2, mlp_ratio=2.5, qkv_bias=False, patch_norm=False, drop_path=0.0),
    "swin_tiny_patch4_window7_224": lambda: M.SwinTransformerBackbone(**SWIN_TINY),
    "swin_base_patch4_window12_384": lambda: M.SwinTransformerBackbone(**SWIN_BASE_384),
    "mit_small": lambda: mit(),
    "mit_channels": lambda: mit(image_shape=(48, 48, 1), layerwise_sr_ratios=[1, 2],
                                layerwise_patch_sizes=[5, 3], layerwise_strides=[2, 3]),
    "mit_b0_ade20k_512": lambda: M.MiTBackbone(**MIT_B0),
    "segformer_small": lambda: M.SegFormerBackbone(image_encoder=mit(), projection_filters=12),
    "segformer_b0_ade20k_512": lambda: M.SegFormerBackbone(image_encoder=M.MiTBackbone(**MIT_B0),
                                                           projection_filters=256),
}

TASKS = {
    "deit_image_classifier": lambda: M.DeiTImageClassifier(backbone=deit(), num_classes=5),
    "deit_image_classifier_gap": lambda: M.DeiTImageClassifier(backbone=deit(use_mha_bias=False), num_classes=3,
                                                               pooling="gap", activation="softmax", dropout=0.1),
    "deit_tiny_image_classifier": lambda: M.DeiTImageClassifier(backbone=M.DeiTBackbone(**DEIT_TINY),
                                                                num_classes=1000),
    "segformer_image_segmenter": lambda: M.SegFormerImageSegmenter(
        backbone=M.SegFormerBackbone(image_encoder=mit(), projection_filters=12), num_classes=4),
    "swin_image_classifier": lambda: M.SwinTransformerImageClassifier(backbone=swin(), num_classes=7,
                                                                      activation="softmax", dropout=0.1),
}

# the preset-sized backbones: no weights are made (a task compiles, which makes variables)
LARGE = {"deit_tiny_distilled_patch16_224", "deit_base_distilled_patch16_384", "dinov2_small",
         "dinov2_with_registers_small", "swin_tiny_patch4_window7_224", "swin_base_patch4_window12_384", "mit_b0_ade20k_512",
         "segformer_b0_ade20k_512"}


def main(out, only):
    kept = {}
    if only:
        with gzip.open(out, "rt") as f:
            kept = {m["name"]: m for m in json.load(f)["models"]}
    models = []
    for kind, table in (("backbone", BACKBONES), ("task", TASKS)):
        for name, make in table.items():
            if only and name not in only and name in kept:
                models.append(kept[name])
                continue
            keras.backend.clear_session()
            if name in LARGE:
                with keras.StatelessScope():
                    model = make()
                    d = describe(model, kind, name)
            else:
                model = make()
                d = describe(model, kind, name)
            d["class_name"] = type(model).__name__
            models.append(d)
            print(f"{name}: {d['total_params']:,} params, {len(d['layers'])} rows", file=sys.stderr)
    meta = dict(keras=keras.__version__, keras_hub=keras_hub.__version__, backend=keras.backend.backend())
    with gzip.open(out, "wt") as f:
        json.dump(dict(meta=meta, models=models), f)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_vision_more.json.gz"),
         set(sys.argv[2:]))
