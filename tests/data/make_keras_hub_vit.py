"""KerasHub ground truth for the transformer vision families read from their JSON since the
hub-vit work: ViTDetBackbone (windowed attention with relative positions, Segment Anything's
image encoder), SAM (SAMBackbone, SAMImageSegmenter) and Depth Anything
(DepthAnythingBackbone, DepthAnythingDepthEstimator), built by the real keras-hub from small configs covering each constructor
option, recorded as make_keras_hub.py records them (`describe`: `model_json`, totals, the rows
of `model.summary()`), each in a fresh session so its auto-named layers start from their first
name. The released SAM sizes are built as SAMImageSegmenters (a SAMBackbone alone never calls,
so never builds, its mask decoder; the presets were saved with it built) inside a
`keras.StatelessScope` (never allocated), and each total is checked against the `params` of
keras-hub's preset metadata, whose sam_large_sa1b and sam_huge_sa1b figures are each other's;
so are the Depth Anything V2 sizes (as DepthAnythingBackbones).

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_vit.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_vit.json.gz.
"""
import gzip
import importlib
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import keras_hub  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_keras_hub import describe, round_trips  # noqa: E402

M = keras_hub.models
VITDET = dict(image_shape=(16, 16, 3), patch_size=2, hidden_size=8, num_layers=3,
              intermediate_dim=16, num_heads=2, num_output_channels=6, window_size=3,
              global_attention_layer_indices=[1])
# name -> ViTDetBackbone config: windows that do not tile the 8x8 grid (padded), a global
# layer among windowed ones; then each option off, all-global layers (window 0), a patch
# that does not divide the image, and SAM's own layout (global layers every fourth)
VITDET_CASES = {
    "ViTDet": VITDET,
    "ViTDet_no_abs_pos": dict(VITDET, use_abs_pos=False, use_bias=False),
    "ViTDet_no_rel_pos": dict(VITDET, use_rel_pos=False, window_size=4),
    "ViTDet_global": dict(VITDET, window_size=0, global_attention_layer_indices=[]),
    "ViTDet_odd_patch": dict(VITDET, image_shape=(20, 20, 1), patch_size=3, hidden_size=12,
                             num_heads=3, num_layers=4, global_attention_layer_indices=[3, 7],
                             num_output_channels=4),
    "ViTDet_sam_layout": dict(VITDET, image_shape=(32, 32, 3), patch_size=4, num_layers=8,
                              global_attention_layer_indices=[3, 7], window_size=2),
}

SAM_ENCODER = dict(VITDET, num_output_channels=8, num_layers=2)
PROMPT = dict(hidden_size=8, image_embedding_size=(8, 8), input_image_size=(16, 16),
              mask_in_channels=16)
DECODER = dict(hidden_size=8, num_layers=2, intermediate_dim=12, num_heads=2, embedding_dim=8,
               num_multimask_outputs=3, iou_head_depth=3, iou_head_hidden_dim=10)
# name -> (image encoder, prompt encoder, mask decoder): keras-hub's small layout; a wider
# decoder of one layer with one mask output, a shallow IoU head and fewer mask channels on an
# encoder without absolute positions or qkv biases
SAM_CASES = {
    "SAM": (SAM_ENCODER, PROMPT, DECODER),
    "SAM_varied": (dict(SAM_ENCODER, num_output_channels=16, use_abs_pos=False, use_bias=False,
                        num_layers=3, global_attention_layer_indices=[2]),
                   dict(PROMPT, hidden_size=16, mask_in_channels=8),
                   dict(DECODER, hidden_size=16, embedding_dim=16, num_heads=4, num_layers=1,
                        num_multimask_outputs=1, iou_head_depth=1, intermediate_dim=20)),
}


def sam(encoder, prompt, decoder):
    return M.SAMBackbone(image_encoder=M.ViTDetBackbone(**encoder),
                         prompt_encoder=keras_hub.layers.SAMPromptEncoder(**prompt),
                         mask_decoder=keras_hub.layers.SAMMaskDecoder(**decoder))


def sam_presets():
    """name -> (encoder, prompt, decoder) of the released SAM models (keras-hub's
    sam_presets sizes: ViT-B, ViT-L and ViT-H image encoders on one prompt encoder and mask
    decoder)."""
    prompt = dict(hidden_size=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024),
                  mask_in_channels=16)
    decoder = dict(hidden_size=256, num_layers=2, intermediate_dim=2048, num_heads=8,
                   embedding_dim=256, num_multimask_outputs=3, iou_head_depth=3,
                   iou_head_hidden_dim=256)
    vit = dict(image_shape=(1024, 1024, 3), patch_size=16, num_output_channels=256,
               window_size=14)
    return {
        "sam_base_sa1b": (dict(vit, hidden_size=768, num_layers=12, intermediate_dim=3072,
                               num_heads=12, global_attention_layer_indices=[2, 5, 8, 11]),
                          prompt, decoder),
        "sam_large_sa1b": (dict(vit, hidden_size=1024, num_layers=24, intermediate_dim=4096,
                                num_heads=16, global_attention_layer_indices=[5, 11, 17, 23]),
                           prompt, decoder),
        "sam_huge_sa1b": (dict(vit, hidden_size=1280, num_layers=32, intermediate_dim=5120,
                               num_heads=16, global_attention_layer_indices=[7, 15, 23, 31]),
                          prompt, decoder),
    }


def sam_preset_params(preset):
    module = importlib.import_module("keras_hub.src.models.sam.sam_presets")
    # keras-hub 0.32 lists ViT-L's count under sam_huge_sa1b and ViT-H's under sam_large_sa1b
    swapped = {"sam_large_sa1b": "sam_huge_sa1b", "sam_huge_sa1b": "sam_large_sa1b"}
    return module.backbone_presets[swapped.get(preset, preset)]["metadata"]["params"]

DINOV2 = dict(patch_size=4, num_layers=4, hidden_dim=16, num_heads=2, intermediate_dim=24,
              image_shape=(32, 32, 3), position_embedding_shape=(32, 32, 3))
DEPTH = dict(reassemble_factors=[4, 2, 1, 0.5], neck_hidden_dims=[4, 8, 8, 12],
             fusion_hidden_dim=8, head_hidden_dim=6, head_in_index=-1,
             feature_keys=["stage1", "stage2", "stage3", "stage4"])
# name -> (DINOv2 encoder, DepthAnythingBackbone arguments, estimator arguments): the norm
# applied to chosen stages, relative depth; then the default keys (stem and every stage) of
# an encoder with registers, SwiGLU and its norm unapplied (held, in no row), metric depth
DEPTH_CASES = {
    "DepthAnything": (dict(DINOV2, apply_layernorm=True), DEPTH,
                      dict(depth_estimation_type="relative")),
    "DepthAnything_default_keys": (
        dict(DINOV2, num_layers=2, num_register_tokens=2, use_swiglu_ffn=True,
             image_shape=(36, 36, 3)),
        dict(DEPTH, reassemble_factors=[2, 1, 0.5], neck_hidden_dims=[4, 8, 12],
             feature_keys=None, head_in_index=1),
        dict(depth_estimation_type="metric", max_depth=10.0)),
}


def depth_anything(encoder, backbone):
    return M.DepthAnythingBackbone(image_encoder=M.DINOV2Backbone(**encoder), **backbone)


def depth_presets():
    """name -> (encoder, backbone) of the released Depth Anything V2 sizes (DINOv2 ViT-S, B, L
    at 518 pixels, the norm on stages 3/6/9/12 or 5/12/18/24 of the encoder)."""
    dinov2 = dict(patch_size=14, image_shape=(518, 518, 3), apply_layernorm=True)
    depth = dict(reassemble_factors=[4, 2, 1, 0.5], head_in_index=-1)
    stages = lambda ids: [f"stage{i}" for i in ids]  # noqa: E731
    return {
        "depth_anything_v2_small": (
            dict(dinov2, num_layers=12, hidden_dim=384, num_heads=6, intermediate_dim=1536),
            dict(depth, neck_hidden_dims=[48, 96, 192, 384], fusion_hidden_dim=64,
                 head_hidden_dim=32, feature_keys=stages([3, 6, 9, 12]))),
        "depth_anything_v2_base": (
            dict(dinov2, num_layers=12, hidden_dim=768, num_heads=12, intermediate_dim=3072),
            dict(depth, neck_hidden_dims=[96, 192, 384, 768], fusion_hidden_dim=128,
                 head_hidden_dim=32, feature_keys=stages([3, 6, 9, 12]))),
        "depth_anything_v2_large": (
            dict(dinov2, num_layers=24, hidden_dim=1024, num_heads=16, intermediate_dim=4096),
            dict(depth, neck_hidden_dims=[256, 512, 1024, 1024], fusion_hidden_dim=256,
                 head_hidden_dim=32, feature_keys=stages([5, 12, 18, 24]))),
    }


def depth_preset_params(preset):
    module = importlib.import_module(
        "keras_hub.src.models.depth_anything.depth_anything_presets")
    return module.backbone_presets[preset]["metadata"]["params"]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_vit.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for name, config in VITDET_CASES.items():
        keras.backend.clear_session()
        model = M.ViTDetBackbone(**config)
        round_trips(model)
        cases.append(describe(model, "backbone", name))
        print(name, cases[-1]["total_params"], flush=True)
    for name, parts in SAM_CASES.items():
        for task in (False, True):
            keras.backend.clear_session()
            model = sam(*parts)
            if task:
                model = M.SAMImageSegmenter(backbone=model, preprocessor=None)
            round_trips(model)
            cases.append(describe(model, "task" if task else "backbone",
                                  name + ("ImageSegmenter" if task else "")))
            print(cases[-1]["name"], cases[-1]["total_params"], flush=True)
    for name, (encoder, backbone, estimator) in DEPTH_CASES.items():
        for task in (False, True):
            keras.backend.clear_session()
            model = depth_anything(encoder, backbone)
            if task:
                model = M.DepthAnythingDepthEstimator(backbone=model, preprocessor=None,
                                                      **estimator)
            round_trips(model)
            cases.append(describe(model, "task" if task else "backbone",
                                  name + ("DepthEstimator" if task else "")))
            print(cases[-1]["name"], cases[-1]["total_params"], flush=True)
    for name, parts in depth_presets().items():
        keras.backend.clear_session()
        with keras.StatelessScope(initialize_variables=False):
            case = describe(depth_anything(*parts), "preset", name)
        assert case["total_params"] == depth_preset_params(name), name
        print(name, case["total_params"], "= preset", flush=True)
        cases.append(case)
    for name, parts in sam_presets().items():
        keras.backend.clear_session()
        with keras.StatelessScope(initialize_variables=False):
            # compile=False: the default optimizer would create a variable in the scope
            model = M.SAMImageSegmenter(backbone=sam(*parts), preprocessor=None, compile=False)
            case = describe(model, "preset", name)
        assert case["total_params"] == sam_preset_params(name), name
        print(name, case["total_params"], "= preset", flush=True)
        cases.append(case)
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, models=cases),
                  f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {out}")


if __name__ == "__main__":
    main()
