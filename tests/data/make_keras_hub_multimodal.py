"""KerasHub transformer vision and vision-language models built by the real keras-hub with
random weights: ViT (backbone and image classifier), CLIP and SigLIP (backbones and their
standalone encoders), small configs of each option and one preset-sized config per family
(the arguments of vit_base_patch16_224_imagenet, clip_vit_base_patch32 and
siglip_base_patch16_224).

Each model is recorded as make_keras_extra.py records Keras models (its `describe()`):
the JSON of `model.to_json()`, the totals and every row of `model.summary()` from the real
model. A fresh Keras session per model gives Keras's automatic layer names.

usage: KERAS_BACKEND=jax python tests/data/make_keras_hub_multimodal.py [OUTFILE [NAME ...]]
  OUTFILE defaults to tests/data/keras_hub_multimodal.json.gz; NAMEs rebuild only those
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


def vit(**kw):
    base = dict(image_shape=(32, 32, 3), patch_size=8, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=48)
    return M.ViTBackbone(**{**base, **kw})


# vit_base_patch16_224_imagenet
VIT_BASE = dict(image_shape=(224, 224, 3), patch_size=16, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072)


def clip_vision(**kw):
    return M.CLIPVisionEncoder(**{**dict(patch_size=8, hidden_dim=32, num_layers=2, num_heads=4,
                                         intermediate_dim=64, image_shape=(32, 32, 3)), **kw})


def clip_text(**kw):
    return M.CLIPTextEncoder(**{**dict(vocabulary_size=100, embedding_dim=24, hidden_dim=24, num_layers=2,
                                       num_heads=3, intermediate_dim=40, max_sequence_length=16), **kw})


def clip(vision=None, text=None, projection_dim=20):
    return M.CLIPBackbone(vision_encoder=vision or clip_vision(), text_encoder=text or clip_text(),
                          projection_dim=projection_dim)


# clip_vit_base_patch32
def clip_base():
    vision = M.CLIPVisionEncoder(patch_size=32, hidden_dim=768, num_layers=12, num_heads=12, intermediate_dim=3072,
                                 image_shape=(224, 224, 3))
    text = M.CLIPTextEncoder(vocabulary_size=49408, embedding_dim=512, hidden_dim=512, num_layers=12, num_heads=8,
                             intermediate_dim=2048, max_sequence_length=77)
    return M.CLIPBackbone(vision_encoder=vision, text_encoder=text, projection_dim=512)


def siglip_vision(**kw):
    return M.SigLIPVisionEncoder(**{**dict(patch_size=8, hidden_dim=32, num_layers=2, num_heads=4,
                                           intermediate_dim=64, image_shape=(32, 32, 3)), **kw})


def siglip_text(**kw):
    return M.SigLIPTextEncoder(**{**dict(vocabulary_size=100, embedding_dim=32, hidden_dim=32, num_layers=2,
                                         num_heads=4, intermediate_dim=48, max_sequence_length=16), **kw})


def siglip(vision=None, text=None):
    return M.SigLIPBackbone(vision_encoder=vision or siglip_vision(), text_encoder=text or siglip_text())


# siglip_base_patch16_224
def siglip_base():
    vision = M.SigLIPVisionEncoder(patch_size=16, hidden_dim=768, num_layers=12, num_heads=12,
                                   intermediate_dim=3072, image_shape=(224, 224, 3))
    text = M.SigLIPTextEncoder(vocabulary_size=32000, embedding_dim=768, hidden_dim=768, num_layers=12,
                               num_heads=12, intermediate_dim=3072, max_sequence_length=64)
    return M.SigLIPBackbone(vision_encoder=vision, text_encoder=text)


MODELS = {
    "vit_small": lambda: vit(),
    "vit_no_class_token": lambda: vit(use_class_token=False, patch_size=(8, 4), image_shape=(32, 16, 3)),
    "vit_no_biases": lambda: vit(use_mha_bias=False, use_mlp_bias=False, use_patch_bias=False),
    # ViTBackbone.get_config leaves out `data_format`: a channels_first model's JSON rebuilds as
    # channels_last (Keras's model_from_json), so no case here sets it
    "vit_uneven_heads_dropout": lambda: vit(hidden_dim=30, num_heads=4, dropout_rate=0.1, attention_dropout=0.1),
    "vit_base_patch16_224": lambda: M.ViTBackbone(**VIT_BASE),
    "vit_image_classifier": lambda: M.ViTImageClassifier(backbone=vit(), num_classes=5),
    "vit_image_classifier_gap_pre_logits": lambda: M.ViTImageClassifier(
        backbone=vit(), num_classes=3, pooling="gap", intermediate_dim=16, activation="softmax", dropout=0.1),
    "vit_base_image_classifier": lambda: M.ViTImageClassifier(backbone=M.ViTBackbone(**VIT_BASE), num_classes=1000),
    "clip_vision_encoder": lambda: clip_vision(),
    "clip_text_encoder": lambda: clip_text(),
    "clip_small": lambda: clip(),
    "clip_small_gelu_wide_embedding": lambda: clip(
        vision=clip_vision(intermediate_activation="gelu", patch_size=4, image_shape=(16, 16, 3)),
        text=clip_text(embedding_dim=24, intermediate_activation="gelu"), projection_dim=8),
    "clip_vit_base_patch32": clip_base,
    "siglip_vision_encoder": lambda: siglip_vision(),
    "siglip_text_encoder": lambda: siglip_text(projection_dim=20),
    "siglip_small": lambda: siglip(),
    "siglip_base_patch16_224": siglip_base,
}


def main(out, only):
    kept = {}
    if only:
        with gzip.open(out, "rt") as f:
            kept = {m["name"]: m for m in json.load(f)["models"]}
    models = []
    for name, make in MODELS.items():
        if only and name not in only and name in kept:
            models.append(kept[name])
            continue
        keras.backend.clear_session()
        model = make()
        kind = "task" if "classifier" in name else "backbone"
        d = describe(model, kind, name)
        d["class_name"] = type(model).__name__
        models.append(d)
        print(f"{name}: {d['total_params']:,} params, {len(d['layers'])} rows", file=sys.stderr)
    meta = dict(keras=keras.__version__, keras_hub=keras_hub.__version__, backend=keras.backend.backend())
    with gzip.open(out, "wt") as f:
        json.dump(dict(meta=meta, models=models), f)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_multimodal.json.gz"), set(sys.argv[2:]))
