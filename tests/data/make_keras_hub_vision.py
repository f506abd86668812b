"""KerasHub vision models built by the real keras-hub with random weights: small configs
of each family's options and one preset-sized config per family (the arguments of
resnet_50_imagenet, vgg_16_imagenet, densenet_121_imagenet, ...).

Each model is recorded as make_keras_extra.py records Keras models (its `describe()`):
the JSON of `model.to_json()` (the constructor arguments KerasHub serialises), the
totals and every row of `model.summary()` from the real model. A fresh Keras session per
model gives Keras's automatic layer names as a user's first model gets them.

usage: KERAS_BACKEND=jax python tests/data/make_keras_hub_vision.py [OUTFILE]
  OUTFILE defaults to tests/data/keras_hub_vision.json.gz.
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
}


def main(out):
    models = []
    for kind, table in (("backbone", BACKBONES), ("task", TASKS)):
        for name, make in table.items():
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
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_vision.json.gz"))
