"""KerasHub classes read since session 11, built by the real keras-hub with random weights:
RetinaNetObjectDetector (a RetinaNetBackbone over a ResNet encoder, the shared box and
class prediction heads called on every pyramid level), BASNet (BASNetBackbone, a
predict-refine network over a ResNet encoder's stacks, and BASNetImageSegmenter) and
MiTImageClassifier (keras-hub's ImageClassifier head on a MiTBackbone): small
configs reaching each constructor option, and the presets' architectures built in a
`keras.StatelessScope()` without weights, their `params` metadata recorded beside them
(`preset_params`).

Each model is recorded as make_keras_hub_cnn.py records them (make_keras_extra.py's
`describe()`, the shapes of several-output layers under `output_shapes`); a fresh Keras
session per model gives Keras's automatic layer names.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_readers.py [OUTFILE [NAME ...]]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_readers.json.gz;
  NAMEs rebuild only those models, the others kept from OUTFILE.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from keras_hub_fixture import M, keras_hub, write  # noqa: E402
from keras_hub.src.models.basnet.basnet_presets import basnet_presets  # noqa: E402
from keras_hub.src.models.retinanet import retinanet_presets  # noqa: E402
from make_keras_hub_cnn2 import resnet, resnet50, retinanet  # noqa: E402
from make_keras_hub_vision_more import mit  # noqa: E402


def detector(backbone=None, num_classes=5, **kw):
    return M.RetinaNetObjectDetector(backbone=backbone or retinanet(), num_classes=num_classes, **kw)


def frozen(model):
    model.trainable = False
    return model


def resnet_v1(blocks, block_type="basic_block"):
    """ResNet18 / 34 (keras-hub's presets' encoders), no image shape (BASNet asks none)."""
    return M.ResNetBackbone(input_conv_filters=[64], input_conv_kernel_sizes=[7],
                            stackwise_num_filters=[64, 128, 256, 512], stackwise_num_blocks=blocks,
                            stackwise_num_strides=[1, 2, 2, 2], block_type=block_type,
                            use_pre_activation=False)


def basnet(encoder=None, **kw):
    base = dict(num_classes=1, image_shape=(64, 64, 3))
    return M.BASNetBackbone(image_encoder=encoder or resnet(), **{**base, **kw})


BACKBONES = {
    # the preset's architecture: ResNet34 at 288x288, one class
    "basnet_duts": lambda: basnet(resnet_v1([3, 4, 6, 3]), image_shape=(288, 288, 3)),
    "basnet_resnet18": lambda: basnet(resnet_v1([2, 2, 2, 2])),
    # a small encoder (64, 16, 16, 32 wide), three classes, an image of unknown size
    "basnet_small_three_classes": lambda: basnet(num_classes=3, image_shape=(None, None, 3)),
    # vd blocks, two blocks in the second stack, a rectangular image
    "basnet_resnet_vd": lambda: basnet(
        resnet(block_type="basic_block_vd", stackwise_num_blocks=[1, 2, 1, 1]), num_classes=2,
        image_shape=(96, 64, 3)),
    "basnet_frozen": lambda: frozen(basnet()),
}

TASKS = {
    # the preset's architecture: ResNet50 v1 at 800x800, 91 COCO classes
    "retinanet_resnet50_fpn_coco": lambda: detector(
        retinanet(resnet50(), image_shape=(800, 800, 3)), num_classes=91),
    "retinanet_detector": lambda: detector(),
    # group norm in the heads (their convolutions lose the bias), two convolutions each
    "retinanet_detector_head_norm": lambda: detector(use_prediction_head_norm=True, pre_logits_num_conv_layers=2),
    # P2..P5 with FPN batch norm, an image of unknown size, one class
    "retinanet_detector_p2_p5": lambda: detector(
        retinanet(min_level=2, max_level=5, use_fpn_batch_norm=True, image_shape=(None, None, 3)),
        num_classes=1),
    # P4..P6 from P5, a bottleneck vd encoder, no convolution before the logits (a square
    # image: keras-hub 0.32's FeaturePyramid.compute_output_shape gives the coarser levels
    # the height as their width, which Keras's summary shows and a run does not)
    "retinanet_detector_p4_p6": lambda: detector(
        retinanet(resnet(block_type="bottleneck_block_vd", stackwise_num_filters=[64, 16, 16, 32]),
                  min_level=4, max_level=6, use_p5=True, image_shape=(96, 96, 3)),
        num_classes=3, pre_logits_num_conv_layers=0),
    # anchors of two scales and one aspect ratio: narrower prediction layers
    "retinanet_detector_anchors": lambda: detector(
        anchor_generator=keras_hub.layers.AnchorGenerator(
            "yxyx", min_level=3, max_level=7, num_scales=2, aspect_ratios=[1.0], anchor_size=4),
        num_classes=4),
    "retinanet_detector_frozen_backbone": lambda: detector(frozen(retinanet())),
    "basnet_image_segmenter": lambda: M.BASNetImageSegmenter(backbone=basnet(num_classes=2)),
    # keras-hub's ImageClassifier head on a MiTBackbone's last stage
    "mit_image_classifier": lambda: M.MiTImageClassifier(backbone=mit(), num_classes=4),
    "mit_image_classifier_max_softmax": lambda: M.MiTImageClassifier(
        backbone=mit(image_shape=(48, 48, 3)), num_classes=3, pooling="max", dropout=0.1,
        activation="softmax"),
}

PRESETS = {
    "retinanet_resnet50_fpn_coco": retinanet_presets.backbone_presets["retinanet_resnet50_fpn_coco"]["metadata"]["params"],
    "basnet_duts": basnet_presets["basnet_duts"]["metadata"]["params"],
}


if __name__ == "__main__":
    # the preset task compiles itself, making variables: only the backbones built stateless
    write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_readers.json.gz"), set(sys.argv[2:]),
          (("backbone", BACKBONES), ("task", TASKS)), PRESETS,
          stateless=lambda kind, name: kind == "backbone" and name in PRESETS)
