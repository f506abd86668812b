"""KerasHub detection families read from their constructor arguments, built by the real
keras-hub with random weights: D-FINE (DFineBackbone on an HGNetV2Backbone, and
DFineObjectDetector), small configs reaching each constructor option (projections to the
decoder width, extra feature levels, denoising queries with and without labels, learned
initial queries, the discrete decoder method, a fixed image size) and the
docstring's configuration, which is the `dfine_nano_coco` preset's architecture (its
`params` metadata recorded beside it as `preset_params`).

Each model is recorded as make_keras_hub_cnn.py records them (`describe()` of
make_keras_extra.py, with the shapes of several-output layers under `output_shapes`); a
fresh Keras session per model gives Keras's automatic layer names.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_det.py [OUTFILE [NAME ...]]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_det.json.gz;
  NAMEs rebuild only those models, the others kept from OUTFILE.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
from keras_hub.src.models.d_fine import d_fine_presets  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from keras_hub_fixture import write  # noqa: E402

M = keras_hub.models


def nano_hgnetv2(**kw):
    """The docstring's HGNetV2 (D-FINE nano's)."""
    base = dict(
        stem_channels=[3, 16, 16],
        stackwise_stage_filters=[[16, 16, 64, 1, 3, 3], [64, 32, 256, 1, 3, 3],
                                 [256, 64, 512, 2, 3, 5], [512, 128, 1024, 1, 3, 5]],
        apply_downsample=[False, True, True, True], use_lightweight_conv_block=[False, False, True, True],
        depths=[1, 1, 2, 1], hidden_sizes=[64, 256, 512, 1024], embedding_size=16,
        use_learnable_affine_block=True, hidden_act="relu", image_shape=(None, None, 3),
        out_features=["stage3", "stage4"], data_format="channels_last")
    return M.HGNetV2Backbone(**{**base, **kw})


def nano(**kw):
    """The docstring's DFineBackbone, the dfine_nano_coco architecture."""
    base = dict(
        decoder_in_channels=[128, 128], encoder_hidden_dim=128, num_denoising=0, num_labels=80,
        hidden_dim=128, learn_initial_query=False, num_queries=300, anchor_image_size=(256, 256),
        feat_strides=[16, 32], num_feature_levels=2, encoder_in_channels=[512, 1024],
        encode_proj_layers=[1], num_attention_heads=8, encoder_ffn_dim=512, num_encoder_layers=1,
        hidden_expansion=0.34, depth_multiplier=0.5, eval_idx=-1, num_decoder_layers=3,
        decoder_attention_heads=8, decoder_ffn_dim=512, decoder_n_points=[6, 6], lqe_hidden_dim=64,
        num_lqe_layers=2, out_features=["stage3", "stage4"], image_shape=(None, None, 3),
        data_format="channels_last", seed=0)
    return M.DFineBackbone(backbone=nano_hgnetv2(), **{**base, **kw})


def tiny_hgnetv2(**kw):
    base = dict(depths=[1, 1, 1], embedding_size=8, hidden_sizes=[16, 24, 32], stem_channels=[3, 8, 8],
                hidden_act="relu", use_learnable_affine_block=False,
                stackwise_stage_filters=[(8, 8, 16, 1, 2, 3), (16, 8, 24, 1, 2, 3), (24, 16, 32, 1, 2, 3)],
                apply_downsample=[False, True, True], use_lightweight_conv_block=[False, False, True],
                image_shape=(None, None, 3), out_features=["stage2", "stage3"])
    return M.HGNetV2Backbone(**{**base, **kw})


def tiny(hgnetv2=None, **kw):
    """A small DFineBackbone on a three-stage HGNetV2 (stage outputs 24 and 32 wide)."""
    base = dict(
        decoder_in_channels=[32, 32], encoder_hidden_dim=32, num_denoising=0, num_labels=5,
        hidden_dim=32, learn_initial_query=False, num_queries=20, anchor_image_size=(64, 64),
        feat_strides=[8, 16], num_feature_levels=2, encoder_in_channels=[24, 32],
        encode_proj_layers=[1], num_attention_heads=4, encoder_ffn_dim=64, num_encoder_layers=1,
        hidden_expansion=1.0, depth_multiplier=1.0, eval_idx=-1, num_decoder_layers=2,
        decoder_attention_heads=4, decoder_ffn_dim=64, decoder_n_points=[2, 2], lqe_hidden_dim=16,
        num_lqe_layers=2, image_shape=(None, None, 3), data_format="channels_last", seed=0)
    return M.DFineBackbone(backbone=hgnetv2 or tiny_hgnetv2(), **{**base, **kw})


LABELS = [
    {"boxes": np.array([[0.5, 0.5, 0.2, 0.2], [0.4, 0.4, 0.1, 0.1]]), "labels": np.array([1, 3])},
    {"boxes": np.array([[0.6, 0.6, 0.3, 0.3]]), "labels": np.array([2])},
]

BACKBONES = {
    "dfine_nano_coco": nano,
    "d_fine_tiny": tiny,
    # the decoder 48 wide: 1x1 projections of the encoder outputs, a third level made by a
    # strided 3x3 convolution, a fourth from the third
    "d_fine_projected_levels": lambda: tiny(hidden_dim=48, num_feature_levels=4, decoder_n_points=[2, 3, 1, 2],
                                            feat_strides=[8, 16], num_decoder_layers=3, eval_idx=1),
    # one extra level with the decoder as wide as the encoder: identities
    "d_fine_identity_levels": lambda: tiny(num_feature_levels=3, decoder_n_points=[1, 2, 3]),
    # denoising queries (their class embedding) and learned initial queries
    "d_fine_denoising_learned_queries": lambda: tiny(num_denoising=10, learn_initial_query=True),
    # the discrete decoder method, two encoder layers on both levels, other widths
    "d_fine_discrete": lambda: tiny(decoder_method="discrete", encode_proj_layers=[0, 1], num_encoder_layers=2,
                                    encoder_ffn_dim=40, decoder_ffn_dim=24, lqe_hidden_dim=8, num_lqe_layers=3,
                                    num_attention_heads=2, decoder_attention_heads=2, hidden_expansion=0.5,
                                    depth_multiplier=2.0),
    # three backbone levels, another encoder width than the decoder's
    "d_fine_three_levels": lambda: tiny(
        hgnetv2=tiny_hgnetv2(out_features=["stage1", "stage2", "stage3"]), decoder_in_channels=[16, 16, 16],
        encoder_hidden_dim=16, encoder_in_channels=[16, 24, 32], feat_strides=[4, 8, 16], num_feature_levels=3,
        decoder_n_points=[2, 2, 2], encode_proj_layers=[2], num_attention_heads=2, hidden_expansion=0.75,
        depth_multiplier=1.5, num_lqe_layers=1),
    # a fixed image size (channels_first is left out: keras-hub 0.32's hybrid encoder
    # flattens its maps as channels_last, which archbudget refuses)
    "d_fine_fixed_size": lambda: tiny(hgnetv2=tiny_hgnetv2(image_shape=(64, 64, 3)), image_shape=(64, 64, 3)),
    # learned initial queries at a fixed size (at an unknown size keras-hub cannot trace
    # the query generator, and its embedding is never built)
    "d_fine_fixed_learned_queries": lambda: tiny(
        hgnetv2=tiny_hgnetv2(image_shape=(64, 48, 3)), image_shape=(64, 48, 3), learn_initial_query=True,
        num_queries=12),
    # denoising with labels: the denoising processor in the graph
    "d_fine_labels": lambda: tiny(num_denoising=10, labels=LABELS),
    # a single level, one decoder layer
    "d_fine_one_level": lambda: tiny(
        hgnetv2=tiny_hgnetv2(out_features=["stage3"]), decoder_in_channels=[32], encoder_in_channels=[32],
        feat_strides=[16], num_feature_levels=1, decoder_n_points=[4], encode_proj_layers=[0],
        num_decoder_layers=1, num_lqe_layers=1),
}

TASKS = {
    "d_fine_object_detector": lambda: M.DFineObjectDetector(backbone=tiny(), num_classes=5),
    # another class count than the backbone's: keras-hub rebuilds the backbone
    "d_fine_object_detector_reclassed": lambda: M.DFineObjectDetector(
        backbone=tiny(hidden_dim=48, num_feature_levels=3, decoder_n_points=[2, 2, 2]), num_classes=7),
    "d_fine_object_detector_denoising": lambda: M.DFineObjectDetector(
        backbone=tiny(num_denoising=10, labels=LABELS), num_classes=5),
}

PRESETS = {"dfine_nano_coco": d_fine_presets.backbone_presets["dfine_nano_coco"]["metadata"]["params"]}


def weights_of(model):
    """Every row's weights (path, shape, trainable), for reading the structure (not kept)."""
    return {layer.name: [(w.path, list(w.shape), w.trainable) for w in layer.weights] for layer in model.layers}


def main(out, only):
    dump = {}

    def built(kind, name, model):
        dump[name] = weights_of(model)
        if kind == "backbone":
            dump[name + "/encoder"] = [(w.path, list(w.shape)) for w in model.get_layer("hybrid_encoder").weights]
            dump[name + "/decoder"] = [(w.path, list(w.shape)) for w in model.get_layer("decoder").weights]

    write(out, only, (("backbone", BACKBONES), ("task", TASKS)), PRESETS, stateless=lambda kind, name: False,
          built=built)
    if os.environ.get("DUMP_WEIGHTS"):
        with open(os.environ["DUMP_WEIGHTS"], "w") as f:
            json.dump(dump, f)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_det.json.gz"), set(sys.argv[2:]))
