"""KerasHub vision families read from their constructor arguments, built by the real
keras-hub with random weights: CSPNet (backbone and image classifier), small configs of
each option and the four presets' architectures (csp_resnet_50_ra_imagenet,
csp_resnext_50_ra_imagenet, csp_darknet_53_ra_imagenet, darknet_53_imagenet, the
arguments keras_hub/src/utils/timm/convert_cspnet.py gives them) at 256x256, built in a
`keras.StatelessScope()` without weights. Each preset's `params` metadata is recorded
beside it (`preset_params`): it is the timm model's count, the backbone's trainable
weights plus the 1000-class head (Keras's BatchNormalization moving statistics are
weights, timm's are buffers).

Each model is recorded as make_keras_extra.py records Keras models (its `describe()`):
the JSON of `model.to_json()`, the totals and every row of `model.summary()` from the real
model. A fresh Keras session per model gives Keras's automatic layer names.

usage: KERAS_BACKEND=jax python tests/data/make_keras_hub_vision_families.py [OUTFILE [NAME ...]]
  OUTFILE defaults to tests/data/keras_hub_vision_families.json.gz; NAMEs rebuild only
  those models, the others kept from OUTFILE.
"""
import gzip
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras
import keras_hub
from keras_hub.src.models.cspnet import cspnet_presets
from keras_hub.src.utils.timm.convert_cspnet import convert_backbone_config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_extra import describe, size  # noqa: E402

M = keras_hub.models
HERE = os.path.dirname(os.path.abspath(__file__))


def cspnet(**kw):
    base = dict(stem_filters=8, stem_kernel_size=3, stem_strides=2, stackwise_depth=[1, 2],
                stackwise_strides=[1, 2], stackwise_num_filters=[16, 32], block_type="bottleneck_block",
                stage_type="csp", bottle_ratio=[0.5], block_ratio=[1.0], expand_ratio=[2.0],
                image_shape=(32, 32, 3))
    return M.CSPNetBackbone(**{**base, **kw})


# the presets' timm architectures, by preset
CSPNET_PRESETS = {
    "csp_resnet_50_ra_imagenet": "cspresnet50",
    "csp_resnext_50_ra_imagenet": "cspresnext50",
    "csp_darknet_53_ra_imagenet": "cspdarknet53",
    "darknet_53_imagenet": "darknet53",
}


def cspnet_preset(preset):
    config = convert_backbone_config({"architecture": CSPNET_PRESETS[preset]})
    return M.CSPNetBackbone(**config, image_shape=(256, 256, 3))


BACKBONES = {
    # cspresnet50's options, small: a max-pooled stem of two convolutions, linear expansion
    "cspnet_csp_bottleneck": lambda: cspnet(stem_filters=[8, 12], stem_strides=4, stem_pooling="max",
                                            cross_linear=True, stackwise_strides=[1, 2]),
    # cspresnext50's: grouped 3x3 convolutions, half-width blocks
    "cspnet_csp_grouped": lambda: cspnet(groups=4, bottle_ratio=[1.0], block_ratio=[0.5], expand_ratio=[1.0],
                                         stackwise_strides=2),
    # cspdarknet53's: per-stage ratios (the last padded to every stage), down_growth
    "cspnet_csp_dark_block": lambda: cspnet(block_type="dark_block", stem_strides=1, stem_padding="same",
                                            stackwise_depth=[1, 2, 1], stackwise_strides=[2, 2, 2],
                                            stackwise_num_filters=[16, 32, 48], bottle_ratio=(0.5, 1.0),
                                            block_ratio=(1.0, 0.5), expand_ratio=(2.0, 1.0),
                                            down_growth=True),
    "cspnet_dark_stage": lambda: cspnet(stage_type="dark", block_type="dark_block", stem_strides=1,
                                        stackwise_strides=[2, 2], bottle_ratio=[0.5], block_ratio=[1.0],
                                        expand_ratio=[1.0], stem_padding="same"),
    "cspnet_dark_stage_avg_down": lambda: cspnet(stage_type="dark", block_type="edge_block", avg_down=True,
                                                 stackwise_strides=[2, 1], bottle_ratio=[0.5],
                                                 activation="relu", image_shape=(None, None, 3)),
    "cspnet_cs3_edge": lambda: cspnet(stage_type="cs3", block_type="edge_block", activation="silu",
                                      stem_filters=[8, 8, 16], stem_strides=4, stackwise_strides=[2, 2],
                                      bottle_ratio=[0.5], block_ratio=[0.5], expand_ratio=[1.0]),
    "cspnet_cs3_avg_down": lambda: cspnet(stage_type="cs3", avg_down=True, stackwise_strides=[2, 2],
                                          block_ratio=[1.0], expand_ratio=[2.0], bottle_ratio=[0.25],
                                          cross_linear=True, image_shape=(48, 40, 1)),
    "cspnet_channels_first": lambda: cspnet(data_format="channels_first", image_shape=(3, 32, 32),
                                            stackwise_strides=[2, 2], groups=2, activation="gelu"),
    # the stem's other paths: one strided convolution at stem_strides 4 without pooling,
    # a pooling name other than max (no pool, and no second stride), a 5x5 kernel
    "cspnet_stem_one_conv": lambda: cspnet(stem_filters=[8], stem_strides=4, output_strides=16,
                                           stackwise_strides=[2, 2], stem_kernel_size=5),
    "cspnet_stem_avg_named": lambda: cspnet(stem_filters=[8, 8], stem_strides=4, stem_pooling="avg",
                                            stackwise_strides=[1, 1], avg_down=True),
    "cspnet_channels_first_avg_down": lambda: cspnet(data_format="channels_first", image_shape=(2, 40, 40),
                                                     stage_type="dark", block_type="dark_block", avg_down=True,
                                                     stackwise_strides=[2, 2], bottle_ratio=[0.5],
                                                     expand_ratio=[1.0]),
    "cspnet_no_blocks": lambda: cspnet(stackwise_depth=[0, 1], stage_type="cs3", expand_ratio=[2.0],
                                       block_ratio=[1.0], bottle_ratio=[0.5]),
    **{preset: (lambda p=preset: cspnet_preset(p)) for preset in CSPNET_PRESETS},
}

TASKS = {
    "cspnet_image_classifier": lambda: M.CSPNetImageClassifier(
        backbone=cspnet(stem_strides=4, stem_pooling="max"), num_classes=5),
    "cspnet_image_classifier_max": lambda: M.CSPNetImageClassifier(
        backbone=cspnet(stage_type="dark", block_type="dark_block", bottle_ratio=[0.5], expand_ratio=[1.0]),
        num_classes=3, pooling="max", activation="softmax", dropout=0.1),
}

# the preset-sized backbones: no weights are made (a task compiles, which makes variables)
LARGE = set(CSPNET_PRESETS)


def preset_params(name, model):
    """The preset's metadata and what it counts: trainable weights plus a 1000-class head."""
    channels = model.output.shape[-1]
    trainable = sum(size(w) for w in model.trainable_weights)
    return dict(preset_params=cspnet_presets.backbone_presets[name]["metadata"]["params"],
                trainable_with_head=trainable + channels * 1000 + 1000)


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
                    d.update(preset_params(name, model))
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
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_vision_families.json.gz"),
         set(sys.argv[2:]))
