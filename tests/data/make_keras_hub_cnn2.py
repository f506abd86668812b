"""KerasHub segmentation and detection families read from their constructor arguments,
built by the real keras-hub with random weights: DeepLabV3 (backbone and image
segmenter) and RetinaNet (backbone: FPN over the encoder's levels) over ResNet encoders
(basic, bottleneck, vd), small
configs reaching each constructor option, and the preset's architecture (DeepLabV3+ over
ResNet50 at 512x512) built in a `keras.StatelessScope()` without weights, its `params`
metadata recorded beside it (`preset_params`).

Each model is recorded as make_keras_hub_cnn.py records them (make_keras_extra.py's
`describe()`, a fresh Keras session per model, models built without a `name`).

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_cnn2.py [OUTFILE [NAME ...]]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_cnn2.json.gz;
  NAMEs rebuild only those models, the others kept from OUTFILE.
"""
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from keras_hub_fixture import M, keras, write  # noqa: E402
from keras_hub.src.models.deeplab_v3 import deeplab_v3_presets  # noqa: E402
from keras_hub.src.models.retinanet import retinanet_presets  # noqa: E402
from make_keras_extra import describe  # noqa: E402


def resnet(**kw):
    """A small ResNet encoder (keras-hub asks 64 filters of the first stack)."""
    base = dict(input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 16, 16, 32],
                stackwise_num_blocks=[1, 1, 1, 1], stackwise_num_strides=[1, 2, 2, 2],
                block_type="basic_block", use_pre_activation=False)
    return M.ResNetBackbone(**{**base, **kw})


def resnet50():
    return M.ResNetBackbone(input_conv_filters=[64], input_conv_kernel_sizes=[7],
                            stackwise_num_filters=[64, 128, 256, 512], stackwise_num_blocks=[3, 4, 6, 3],
                            stackwise_num_strides=[1, 2, 2, 2], block_type="bottleneck_block",
                            use_pre_activation=False)


def deeplab(encoder=None, **kw):
    base = dict(spatial_pyramid_pooling_key="P5", upsampling_size=8, dilation_rates=[6, 12, 18],
                low_level_feature_key="P2", image_shape=(64, 64, 3))
    return M.DeepLabV3Backbone(image_encoder=encoder or resnet(), **{**base, **kw})


BACKBONES = {
    # the preset's architecture: DeepLabV3+ over ResNet50 v1
    "deeplab_v3_plus_resnet50_pascalvoc": lambda: deeplab(
        resnet50(), projection_filters=48, image_shape=(512, 512, 3)),
    "deeplab_v3_plus_resnet_basic": lambda: deeplab(),
    # no low-level branch (DeepLabV3)
    "deeplab_v3_no_decoder": lambda: deeplab(low_level_feature_key=None, upsampling_size=32),
    # pooling over P4, the decoder on P3, two rates, other projection, unknown image size
    "deeplab_v3_plus_p4_p3": lambda: deeplab(
        resnet(block_type="bottleneck_block", stackwise_num_filters=[64, 16, 32, 32]),
        spatial_pyramid_pooling_key="P4", low_level_feature_key="P3", upsampling_size=2,
        dilation_rates=[2, 4], projection_filters=24, image_shape=(None, None, 3)),
    # vd blocks and three stem convolutions, one rate, (rows, cols) upsampling
    "deeplab_v3_plus_resnet_vd": lambda: deeplab(
        resnet(block_type="bottleneck_block_vd", input_conv_filters=[16, 16, 64],
               input_conv_kernel_sizes=[3, 3, 3], stackwise_num_filters=[64, 16, 32]
               , stackwise_num_blocks=[2, 1, 1], stackwise_num_strides=[1, 2, 2]),
        spatial_pyramid_pooling_key="P4", upsampling_size=(4, 4), dilation_rates=[3]),
    # no decoder over a bottleneck ResNet, image of unknown size
    "deeplab_v3_bottleneck_p4": lambda: deeplab(
        resnet(block_type="bottleneck_block", stackwise_num_filters=[64, 16, 16],
               stackwise_num_blocks=[2, 1, 3], stackwise_num_strides=[1, 2, 2]),
        spatial_pyramid_pooling_key="P4", low_level_feature_key=None, upsampling_size=16,
        dilation_rates=[1, 2, 3, 4], image_shape=(None, None, 3)),
}

def retinanet(encoder=None, **kw):
    base = dict(min_level=3, max_level=7, use_p5=False, image_shape=(64, 64, 3))
    return M.RetinaNetBackbone(image_encoder=encoder or resnet(), **{**base, **kw})


BACKBONES.update({
    # the presets' architectures: ResNet50 v1, P3..P7 from the encoder's P3..P5 (v2: P6 from
    # the encoder's P5)
    "retinanet_resnet50_fpn_coco": lambda: retinanet(resnet50(), image_shape=(800, 800, 3)),
    "retinanet_resnet50_fpn_v2_coco": lambda: retinanet(resnet50(), use_p5=True, image_shape=(800, 800, 3)),
    "retinanet_fpn_batch_norm": lambda: retinanet(use_fpn_batch_norm=True),
    # P2..P5 only (no coarser level), an image of unknown size
    "retinanet_p2_p5": lambda: retinanet(min_level=2, max_level=5, use_fpn_batch_norm=True,
                                         image_shape=(None, None, 3)),
    # P4..P6 from P5 with batch norm, a bottleneck vd encoder
    "retinanet_p4_p6_use_p5": lambda: retinanet(
        resnet(block_type="bottleneck_block_vd", stackwise_num_filters=[64, 16, 16, 32]),
        min_level=4, max_level=6, use_p5=True, use_fpn_batch_norm=True, image_shape=(96, 64, 3)),
})

TASKS = {
    "deeplab_v3_image_segmenter": lambda: M.DeepLabV3ImageSegmenter(backbone=deeplab(), num_classes=3),
    "deeplab_v3_image_segmenter_softmax": lambda: M.DeepLabV3ImageSegmenter(
        backbone=deeplab(resnet(block_type="basic_block_vd"), low_level_feature_key=None, upsampling_size=16,
                         image_shape=(None, None, 3)),
        num_classes=5, activation="softmax"),
}

# retinanet_resnet50_fpn_coco's metadata counts its object detector (91 classes:
# 27,429,824 + the two heads' 6,691,415 = 34,121,239), not read here: left out
PRESETS = {name: presets[name]["metadata"]["params"]
           for presets in (deeplab_v3_presets.backbone_presets, retinanet_presets.backbone_presets)
           for name in presets if name in BACKBONES and name != "retinanet_resnet50_fpn_coco"}


# models whose JSON archbudget refuses (a ResNet v2 encoder's post_bn: weights past the
# pyramid, in Keras's totals and in no row), saved as .keras archives with zero weights
# (they compress to almost nothing) for the weights-file count
ARCHIVES = {
    "deeplab_v3_resnet_v2": lambda: deeplab(resnet(use_pre_activation=True), low_level_feature_key=None,
                                            upsampling_size=32),
}


def deflate(path):
    """Keras stores the archive's members uncompressed: rewritten deflated (zero weights
    shrink to almost nothing; still a .keras archive Keras loads)."""
    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in members:
            z.writestr(info.filename, data)


def save_archives():
    folder = os.path.join(HERE, "keras_hub_cnn2_archives")
    os.makedirs(folder, exist_ok=True)
    records = []
    for name, make in ARCHIVES.items():
        keras.backend.clear_session()
        model = make()
        for w in model.weights:
            w.assign(keras.ops.zeros(w.shape, w.dtype))
        path = os.path.join(folder, f"{name}.keras")
        model.save(path)
        deflate(path)
        d = describe(model, "archive", name)
        d["archive"] = os.path.relpath(path, HERE)
        records.append(d)
    return records


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_cnn2.json.gz"), set(sys.argv[2:]),
          (("backbone", BACKBONES), ("task", TASKS)), PRESETS, extra=lambda: dict(archives=save_archives()))
