"""KerasHub convolutional families read from their constructor arguments, built by the
real keras-hub with random weights: HGNetV2 (backbone and image classifier), small configs
reaching each constructor option, and the presets' architectures (the arguments
keras_hub/src/utils/timm/convert_hgnetv2.py gives them: the SSLD presets without the
learnable affine blocks) at 224x224, built in a `keras.StatelessScope()` without weights.
Each preset classifier's `params` metadata is recorded beside it (`preset_params`).

Each model is recorded as make_keras_extra.py records Keras models (its `describe()`):
the JSON of `model.to_json()`, the totals and every row of `model.summary()` from the real
model. A fresh Keras session per model gives Keras's automatic layer names; models are
built without a `name`, as the other KerasHub fixtures are (keras-hub prefixes the inner
layers' names with the model's name when it is given one).

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_cnn.py [OUTFILE [NAME ...]]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_cnn.json.gz;
  NAMEs rebuild only those models, the others kept from OUTFILE.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from keras_hub_fixture import M, write  # noqa: E402
from keras_hub.src.models.hgnetv2 import hgnetv2_presets  # noqa: E402
from keras_hub.src.utils.timm.convert_hgnetv2 import convert_backbone_config  # noqa: E402


def hgnetv2(**kw):
    base = dict(depths=[1, 2], embedding_size=16, hidden_sizes=[32, 64], stem_channels=[3, 8, 16],
                hidden_act="relu", use_learnable_affine_block=False,
                stackwise_stage_filters=[(16, 8, 32, 1, 2, 3), (32, 16, 64, 2, 1, 3)],
                apply_downsample=[False, True], use_lightweight_conv_block=[False, True],
                image_shape=(64, 64, 3))
    return M.HGNetV2Backbone(**{**base, **kw})


def hgnetv2_preset(preset):
    architecture = "_".join(preset.split("_")[:2])  # hgnetv2_b5_ssld_... -> hgnetv2_b5
    tag = preset.split("_", 2)[2]
    config = convert_backbone_config({"architecture": architecture, "pretrained_cfg": {"tag": tag}})
    return M.HGNetV2Backbone(**config, image_shape=(224, 224, 3))


HGNETV2_PRESETS = list(hgnetv2_presets.backbone_presets)

BACKBONES = {
    # the presets' architectures (presets of one architecture share it)
    **{preset: (lambda p=preset: hgnetv2_preset(p)) for preset in HGNETV2_PRESETS if "stage2" in preset},
    # learnable affine blocks, a light stage after a plain one
    "hgnetv2_lab_light": lambda: hgnetv2(use_learnable_affine_block=True),
    # GELU, three stages, 3-layer blocks with 5x5 light kernels, residual blocks, channels_first
    "hgnetv2_gelu_channels_first": lambda: hgnetv2(
        hidden_act="gelu", data_format="channels_first", image_shape=(3, 48, 48),
        stackwise_stage_filters=[(16, 8, 24, 2, 3, 3), (24, 12, 48, 1, 2, 5), (48, 16, 64, 3, 3, 5)],
        apply_downsample=[True, True, True], use_lightweight_conv_block=[False, True, True],
        depths=[2, 1, 3], hidden_sizes=[24, 48, 64]),
    # tanh, some stage outputs only, an image of unknown size
    "hgnetv2_tanh_some_outputs": lambda: hgnetv2(
        hidden_act="tanh", out_features=["stage1", "stage2"], image_shape=(None, None, 3),
        use_learnable_affine_block=True),
    # no activation in the stem (identity), every stage light and downsampled
    "hgnetv2_no_activation": lambda: hgnetv2(
        hidden_act=None, apply_downsample=[True, True], use_lightweight_conv_block=[True, True],
        stackwise_stage_filters=[(16, 8, 32, 3, 2, 3), (32, 16, 64, 1, 4, 3)], depths=[3, 1],
        stem_channels=[3, 12, 16], image_shape=(40, 56, 3)),
    # a stem whose input is not RGB, a single stage with the stem output only
    "hgnetv2_one_stage": lambda: hgnetv2(
        stem_channels=[1, 6, 10], stackwise_stage_filters=[(10, 6, 20, 2, 2, 3)], depths=[2],
        hidden_sizes=[20], apply_downsample=[False], use_lightweight_conv_block=[False],
        out_features=["stem"], image_shape=(32, 32, 1)),
}

TASKS = {
    "hgnetv2_image_classifier": lambda: M.HGNetV2ImageClassifier(
        backbone=hgnetv2(), preprocessor=None, num_classes=5),
    "hgnetv2_image_classifier_max": lambda: M.HGNetV2ImageClassifier(
        backbone=hgnetv2(use_learnable_affine_block=True, hidden_act="gelu"), preprocessor=None,
        num_classes=3, head_filters=48, pooling="max", activation="softmax", dropout=0.2),
    "hgnetv2_image_classifier_features": lambda: M.HGNetV2ImageClassifier(
        backbone=hgnetv2(out_features=["stage2"], image_shape=(None, None, 3)), preprocessor=None,
        num_classes=0),
    "hgnetv2_image_classifier_channels_first": lambda: M.HGNetV2ImageClassifier(
        backbone=hgnetv2(data_format="channels_first", image_shape=(3, 32, 32)), preprocessor=None,
        num_classes=4),
}

PRESETS = {preset: hgnetv2_presets.backbone_presets[preset]["metadata"]["params"]
           for preset in HGNETV2_PRESETS if preset in BACKBONES}


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_cnn.json.gz"), set(sys.argv[2:]),
          (("backbone", BACKBONES), ("task", TASKS)), PRESETS)
