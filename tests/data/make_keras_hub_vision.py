"""KerasHub vision models built by the real keras-hub with random weights: small configs
of each family's options and one preset-sized config per family (the arguments of
resnet_50_imagenet, vgg_16_imagenet, densenet_121_imagenet, ...).

Each model is recorded as make_keras_extra.py records Keras models (its `describe()`):
the JSON of `model.to_json()` (the constructor arguments KerasHub serialises), the
totals and every row of `model.summary()` from the real model. A fresh Keras session per
model gives Keras's automatic layer names as a user's first model gets them.

usage: KERAS_BACKEND=jax python tests/data/make_keras_hub_vision.py [OUTFILE [NAME ...]]
  OUTFILE defaults to tests/data/keras_hub_vision.json.gz; NAMEs rebuild only those models,
  the others kept from OUTFILE.
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


def resnet(**kw):
    base = dict(input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 32, 16],
                stackwise_num_blocks=[2, 1, 2], stackwise_num_strides=[1, 2, 2], block_type="basic_block",
                image_shape=(64, 64, 3))
    return M.ResNetBackbone(**{**base, **kw})


def vgg(**kw):
    return M.VGGBackbone(**{**dict(stackwise_num_repeats=[1, 2, 1], stackwise_num_filters=[8, 16, 24],
                                   image_shape=(32, 32, 3)), **kw})


def densenet(**kw):
    return M.DenseNetBackbone(**{**dict(stackwise_num_repeats=[2, 3, 2], growth_rate=8,
                                        image_shape=(64, 64, 3)), **kw})


# convert_efficientnet.py's base arguments and its b0 / rw_t variants
EFFICIENTNET_V1 = dict(
    stackwise_kernel_sizes=[3, 3, 5, 3, 5, 5, 3], stackwise_num_repeats=[1, 2, 2, 3, 3, 4, 1],
    stackwise_input_filters=[32, 16, 24, 40, 80, 112, 192], stackwise_output_filters=[16, 24, 40, 80, 112, 192, 320],
    stackwise_expansion_ratios=[1, 6, 6, 6, 6, 6, 6], stackwise_strides=[1, 2, 2, 2, 1, 2, 1],
    stackwise_block_types=["v1"] * 7, min_depth=None, include_stem_padding=True, use_depth_divisor_as_min_depth=True,
    cap_round_filter_decrease=True, stem_conv_padding="valid", batch_norm_momentum=0.9, batch_norm_epsilon=1e-5,
    dropout=0, projection_activation=None, stackwise_width_coefficients=[1.0] * 7,
    stackwise_depth_coefficients=[1.0] * 7, stackwise_squeeze_and_excite_ratios=[0.25] * 7)
EFFICIENTNET_RW_T = dict(
    stackwise_width_coefficients=[0.8] * 6, stackwise_depth_coefficients=[0.9] * 6,
    stackwise_kernel_sizes=[3, 3, 3, 3, 3, 3], stackwise_num_repeats=[2, 4, 4, 6, 9, 15],
    stackwise_input_filters=[24, 24, 48, 64, 128, 160], stackwise_output_filters=[24, 48, 64, 128, 160, 256],
    stackwise_expansion_ratios=[1, 4, 4, 4, 6, 6], stackwise_strides=[1, 2, 2, 2, 1, 2],
    stackwise_squeeze_and_excite_ratios=[0, 0, 0, 0.25, 0.25, 0.25],
    stackwise_block_types=["cba"] + ["fused"] * 2 + ["unfused"] * 3, stackwise_force_input_filters=[0] * 6,
    stackwise_nores_option=[False] * 6, activation="silu", min_depth=None, include_stem_padding=True,
    use_depth_divisor_as_min_depth=True, cap_round_filter_decrease=True, stem_conv_padding="valid",
    batch_norm_momentum=0.9, batch_norm_epsilon=1e-5, dropout=0, projection_activation=None)


# EfficientNetBackbone.get_config leaves out `num_features` and `stackwise_nores_option`:
# a model built with other values than their defaults is not the model its JSON rebuilds
# (Keras's model_from_json), so the configs here keep the defaults.
def efficientnet(**kw):
    small = dict(stackwise_kernel_sizes=[3, 5, 3], stackwise_num_repeats=[1, 2, 2],
                 stackwise_input_filters=[16, 8, 16], stackwise_output_filters=[8, 16, 24],
                 stackwise_expansion_ratios=[1, 4, 6], stackwise_strides=[1, 2, 2],
                 stackwise_squeeze_and_excite_ratios=[0.25, 0.25, 0.0], stackwise_block_types=["v1"] * 3,
                 stackwise_width_coefficients=[1.0, 1.1, 1.2], stackwise_depth_coefficients=[1.0, 1.1, 1.3],
                 dropout=0.2, input_shape=(64, 64, 3))
    return M.EfficientNetBackbone(**{**small, **kw})


# convert_mobilenet.py's mobilenetv3_small_050 arguments
MOBILENET_V3_SMALL_050 = dict(
    stackwise_num_blocks=[2, 3, 2, 3],
    stackwise_expansion=[[40, 56], [64, 144, 144], [72, 72], [144, 288, 288]],
    stackwise_num_filters=[[16, 16], [24, 24, 24], [24, 24], [48, 48, 48]],
    stackwise_kernel_size=[[3, 3], [5, 5, 5], [5, 5], [5, 5, 5]],
    stackwise_num_strides=[[2, 1], [2, 1, 1], [1, 1], [2, 1, 1]],
    stackwise_se_ratio=[[None, None], [0.25, 0.25, 0.25], [0.25, 0.25], [0.25, 0.25, 0.25]],
    stackwise_activation=[["relu", "relu"], ["hard_swish"] * 3, ["hard_swish"] * 2, ["hard_swish"] * 3],
    stackwise_padding=[[1, 1], [2, 2, 2], [2, 2], [2, 2, 2]], output_num_filters=1024, input_num_filters=16,
    depthwise_filters=8, depthwise_stride=2, depthwise_residual=False, squeeze_and_excite=0.5,
    last_layer_filter=288, input_activation="hard_swish", output_activation="hard_swish", image_shape=(224, 224, 3))


def mobilenet(**kw):
    small = dict(stackwise_num_blocks=[2, 1], stackwise_expansion=[[20, 30], [36]],
                 stackwise_num_filters=[[12, 12], [20]], stackwise_kernel_size=[[3, 3], [5]],
                 stackwise_num_strides=[[1, 1], [2]], stackwise_se_ratio=[[None, 0.25], [0.3]],
                 stackwise_activation=[["relu", "hard_swish"], ["relu6"]], stackwise_padding=[[1, 1], [2]],
                 output_num_filters=64, input_num_filters=12, depthwise_filters=16, depthwise_stride=1,
                 depthwise_residual=False, squeeze_and_excite=None, last_layer_filter=40,
                 image_shape=(48, 48, 3))
    return M.MobileNetBackbone(**{**small, **kw})


# name -> builder; the preset-sized configs are the presets' constructor arguments
BACKBONES = {
    "resnet_basic_v1": lambda: resnet(),
    "resnet_basic_v2": lambda: resnet(use_pre_activation=True),
    "resnet_bottleneck_v1": lambda: resnet(block_type="bottleneck_block"),
    "resnet_bottleneck_v2": lambda: resnet(block_type="bottleneck_block", use_pre_activation=True,
                                           image_shape=(None, None, 3)),
    "resnet_basic_vd": lambda: resnet(block_type="basic_block_vd", input_conv_filters=[32, 32, 64],
                                      input_conv_kernel_sizes=[3, 3, 3]),
    "resnet_bottleneck_vd_v2": lambda: resnet(block_type="bottleneck_block_vd", input_conv_filters=[16, 64],
                                              input_conv_kernel_sizes=[3, 3], stackwise_num_strides=[1, 1, 1]),
    "resnet_bottleneck_vd_v1": lambda: resnet(block_type="bottleneck_block_vd", input_conv_filters=[32, 32, 64],
                                              input_conv_kernel_sizes=[3, 3, 3], image_shape=(48, 40, 1)),
    "resnet_50_imagenet": lambda: M.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=[3, 4, 6, 3], stackwise_num_strides=[1, 2, 2, 2], block_type="bottleneck_block",
        use_pre_activation=False, image_shape=(224, 224, 3)),
    "resnet_v2_50_imagenet": lambda: M.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=[3, 4, 6, 3], stackwise_num_strides=[1, 2, 2, 2], block_type="bottleneck_block",
        use_pre_activation=True, image_shape=(224, 224, 3)),
    "resnet_18_imagenet": lambda: M.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=[2, 2, 2, 2], stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
        image_shape=(224, 224, 3)),
    "vgg_small": lambda: vgg(),
    "vgg_16_imagenet": lambda: M.VGGBackbone(stackwise_num_repeats=[2, 2, 3, 3, 3],
                                             stackwise_num_filters=[64, 128, 256, 512, 512],
                                             image_shape=(224, 224, 3)),
    "densenet_small": lambda: densenet(),
    "densenet_ratio": lambda: densenet(compression_ratio=0.3, growth_rate=12, image_shape=(None, None, 3)),
    "densenet_121_imagenet": lambda: M.DenseNetBackbone(stackwise_num_repeats=[6, 12, 24, 16],
                                                        image_shape=(224, 224, 3)),
    "efficientnet_small_v1": lambda: efficientnet(),
    "efficientnet_small_v1_options": lambda: efficientnet(
        include_stem_padding=False, stem_conv_padding="same", projection_activation="relu", activation="relu6",
        min_depth=None, use_depth_divisor_as_min_depth=True, cap_round_filter_decrease=True,
        input_shape=(None, None, 3)),
    "efficientnet_small_v2": lambda: efficientnet(
        stackwise_block_types=["cba", "fused", "unfused"], stackwise_expansion_ratios=[1, 4, 1],
        stackwise_squeeze_and_excite_ratios=[0.0, 0.25, 0.25], stackwise_force_input_filters=[16, 0, 0],
        projection_activation="relu"),
    "efficientnet_small_v2_unfused": lambda: efficientnet(
        stackwise_block_types=["fused", "unfused", "unfused"], stackwise_expansion_ratios=[1, 1, 4],
        stackwise_strides=[1, 1, 2], stackwise_input_filters=[16, 8, 16], stackwise_output_filters=[16, 16, 24],
        stackwise_squeeze_and_excite_ratios=[0.5, 0.0, 0.25], projection_activation="relu"),
    "efficientnet_b0": lambda: M.EfficientNetBackbone(**EFFICIENTNET_V1, input_shape=(224, 224, 3)),
    "efficientnet_rw_t": lambda: M.EfficientNetBackbone(**EFFICIENTNET_RW_T, input_shape=(224, 224, 3)),
    "mobilenet_small": lambda: mobilenet(),
    "mobilenet_small_residual": lambda: mobilenet(depthwise_residual=True, depthwise_filters=16,
                                                  squeeze_and_excite=0.5, stackwise_num_strides=[[1, 1], [1]],
                                                  image_shape=(None, None, 3)),
    "mobilenetv3_small_050": lambda: M.MobileNetBackbone(**MOBILENET_V3_SMALL_050),
}

TASKS = {
    "image_classifier_resnet": lambda: M.ImageClassifier(backbone=resnet(), num_classes=7),
    "resnet_image_classifier_max": lambda: M.ResNetImageClassifier(
        backbone=resnet(use_pre_activation=True), num_classes=5, pooling="max", activation="softmax",
        dropout=0.2),
    "resnet_50_image_classifier": lambda: M.ResNetImageClassifier(backbone=BACKBONES["resnet_50_imagenet"](),
                                                                  num_classes=1000),
    "densenet_image_classifier": lambda: M.DenseNetImageClassifier(backbone=densenet(), num_classes=3),
    "vgg_image_classifier_avg": lambda: M.VGGImageClassifier(backbone=vgg(image_shape=(64, 64, 3)),
                                                             num_classes=4, pooling_hidden_dim=32),
    "vgg_image_classifier_flatten": lambda: M.VGGImageClassifier(backbone=vgg(), num_classes=4,
                                                                 pooling="flatten", pooling_hidden_dim=16,
                                                                 activation="softmax"),
    "efficientnet_image_classifier": lambda: M.EfficientNetImageClassifier(backbone=efficientnet(), num_classes=6,
                                                                          pooling="max", dropout=0.3),
    "mobilenet_image_classifier": lambda: M.MobileNetImageClassifier(backbone=mobilenet(), num_classes=9,
                                                                    num_features=48),
}


def fine_tuned(frozen):
    """A user's functional model calling a KerasHub backbone as a layer."""
    backbone = resnet(block_type="bottleneck_block")
    backbone.trainable = not frozen
    inputs = keras.Input((64, 64, 3))
    x = backbone(inputs)
    x = keras.layers.GlobalMaxPooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs)


USER = {
    "functional_with_backbone": lambda: fine_tuned(frozen=False),
    "functional_with_frozen_backbone": lambda: fine_tuned(frozen=True),
}


def main(out, only):
    kept = {}
    if only:
        with gzip.open(out, "rt") as f:
            kept = {m["name"]: m for m in json.load(f)["models"]}
    models = []
    for kind, table in (("backbone", BACKBONES), ("task", TASKS), ("functional", USER)):
        for name, make in table.items():
            if only and name not in only and name in kept:
                models.append(kept[name])
                continue
            keras.backend.clear_session()
            model = make()
            d = describe(model, kind, name)
            d["class_name"] = type(model).__name__
            models.append(d)
            print(f"{name}: {d['total_params']:,} params, {len(d['layers'])} rows", file=sys.stderr)
    meta = dict(keras=keras.__version__, keras_hub=keras_hub.__version__, backend=keras.backend.backend())
    with gzip.open(out, "wt") as f:
        json.dump(dict(meta=meta, models=models), f)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_vision.json.gz"), set(sys.argv[2:]))
