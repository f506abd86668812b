"""KerasHub ground truth for the diffusion models, Stable Diffusion 3 and Flux. SD3: `StableDiffusion3Backbone` (a VAEBackbone,
two CLIPTextEncoders, an optional T5Encoder, and the MMDiT denoiser keras-hub builds from
the `mmdit_*` arguments) and its task models (TextToImage, ImageToImage, Inpaint), built
by the real keras-hub from small configs with random weights and recorded as
make_keras_hub.py records them (`describe`: `model_json`, totals, the rows of
`model.summary()`).

Flux: `FluxBackbone` (its layers auto-named: each model is built in a fresh session, as a
user's process reads it) and `FluxTextToImage`, small configs with and without guidance
embedding and qkv biases.

Each small SD3 backbone's denoiser also records jax's own FLOP counts of one forward
(`jax_flops`: batch 2, 10 text tokens): XLA's `cost_analysis()['flops']`, which counts
every elementwise op too, and the FLOPs of the matmuls and convolutions alone, summed
from the StableHLO of the same jitted forward (2 × output elements × contracted size per
`dot_general`, 2 × output elements × kernel size per `convolution`), the count archbudget
makes.

Preset-sized backbones (stable_diffusion_3_medium, 3.5 medium and large, with the sizes
of the released checkpoints) are built inside a `keras.StatelessScope`, which never
allocates their weights, and each total is checked against the `params` of keras-hub's
preset metadata (stable_diffusion_3_presets.py) before it is written.

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_sd3.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_sd3.json.gz.
"""
import gzip
import json
import math
import os
import re
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import jax
import keras
import keras_hub
import numpy as np
from keras_hub.src.models.stable_diffusion_3.stable_diffusion_3_presets import backbone_presets
from keras_hub.src.models.stable_diffusion_3.t5_encoder import T5Encoder
from keras_hub.src.models.vae.vae_backbone import VAEBackbone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_keras_hub import describe, round_trips  # noqa: E402

M = keras_hub.models
TASKS = ["TextToImage", "ImageToImage", "Inpaint"]


def clip(hidden, layers, heads, activation, vocab=64, length=12):
    # SD3 reads the penultimate block's output (`intermediate_output_index`)
    return M.CLIPTextEncoder(vocabulary_size=vocab, embedding_dim=hidden, hidden_dim=hidden,
                             num_layers=layers, num_heads=heads, intermediate_dim=4 * hidden,
                             intermediate_activation=activation,
                             intermediate_output_index=layers - 2, max_sequence_length=length)


def vae(encoder_filters, encoder_blocks, decoder_filters, decoder_blocks, **kwargs):
    return VAEBackbone(encoder_num_filters=encoder_filters, encoder_num_blocks=encoder_blocks,
                         decoder_num_filters=decoder_filters, decoder_num_blocks=decoder_blocks,
                         **kwargs)


def small(t5=False, qk_norm=None, dual=None, layers=3, image_shape=(64, 64, 3), **kwargs):
    return M.StableDiffusion3Backbone(
        mmdit_patch_size=2, mmdit_hidden_dim=32, mmdit_num_layers=layers, mmdit_num_heads=2,
        mmdit_position_size=8, mmdit_qk_norm=qk_norm, mmdit_dual_attention_indices=dual,
        # a filter change in each stack: residual projections in encoder and decoder
        vae=vae([32, 64, 64, 64], [1, 2, 1, 1], [64, 64, 32, 32], [2, 1, 1, 1]),
        clip_l=clip(16, 3, 2, "quick_gelu"), clip_g=clip(24, 4, 4, "gelu"),
        t5=T5Encoder(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=48,
                     intermediate_dim=24) if t5 else None,
        image_shape=image_shape, **kwargs)


SMALL = {
    "SD3": lambda: small(),
    "SD3_t5_dual_rms": lambda: small(t5=True, qk_norm="rms_norm", dual=(0, 1), layers=4),
    "SD3_wide_latent": lambda: small(layers=2, latent_channels=8, image_shape=(48, 32, 3)),
}


def preset_clip_l():
    return clip(768, 12, 12, "quick_gelu", vocab=49408, length=77)


def preset_clip_g():
    return clip(1280, 32, 20, "gelu", vocab=49408, length=77)


def preset_vae():
    return vae([128, 256, 512, 512], [2, 2, 2, 2], [512, 512, 256, 128], [3, 3, 3, 3])


FLUX = dict(input_channels=8, hidden_size=32, mlp_ratio=2.0, num_heads=2, depth=2,
            depth_single_blocks=2, axes_dim=[4, 6, 6], theta=10000, use_bias=True,
            guidance_embed=True, image_shape=(16, 8), text_shape=(6, 12),
            image_ids_shape=(16, 3), text_ids_shape=(6, 3), y_shape=(10,))
FLUX_SMALL = {
    "Flux": FLUX,
    # schnell-like: no guidance embedding; no qkv bias; other axes and a fractional MLP
    "Flux_no_guidance": dict(FLUX, guidance_embed=False, use_bias=False, depth=1,
                             depth_single_blocks=3, axes_dim=[2, 6, 8], mlp_ratio=2.5,
                             text_shape=(5, 7), text_ids_shape=(5, 3)),
}

# name -> (preset whose metadata `params` the build must equal, MMDiT arguments)
PRESETS = {
    "SD3_medium": ("stable_diffusion_3_medium",
                   dict(mmdit_hidden_dim=1536, mmdit_num_layers=24, mmdit_num_heads=24,
                        mmdit_position_size=192, mmdit_qk_norm=None,
                        mmdit_dual_attention_indices=None)),
    "SD3_5_medium": ("stable_diffusion_3.5_medium",
                     dict(mmdit_hidden_dim=1536, mmdit_num_layers=24, mmdit_num_heads=24,
                          mmdit_position_size=384, mmdit_qk_norm="rms_norm",
                          mmdit_dual_attention_indices=tuple(range(13)))),
    "SD3_5_large": ("stable_diffusion_3.5_large",
                    dict(mmdit_hidden_dim=2432, mmdit_num_layers=38, mmdit_num_heads=38,
                         mmdit_position_size=192, mmdit_qk_norm="rms_norm",
                         mmdit_dual_attention_indices=None)),
}


def tensor_dims(t):
    """`tensor<2x16x32xf32>` -> [2, 16, 32]"""
    return [int(x) for x in t.split("<")[1].split(">")[0].split("x")[:-1]]


def matmul_flops(stablehlo):
    total = 0
    for line in stablehlo.splitlines():
        types = re.findall(r"tensor<[^>]*>", line.split(":")[-1])
        if "stablehlo.dot_general" in line:
            contracted = re.search(r"contracting_dims = \[([0-9, ]*)\] x", line).group(1)
            lhs, out = tensor_dims(types[0]), tensor_dims(types[-1])
            k = math.prod(lhs[int(i)] for i in contracted.split(",") if i.strip())
            total += 2 * math.prod(out) * k
        elif "stablehlo.convolution" in line:
            kernel, out = tensor_dims(types[1]), tensor_dims(types[-1])
            total += 2 * math.prod(out) * math.prod(kernel[:-1])
    return total


def jax_flops(backbone, batch=2, tokens=10):
    """jax's FLOPs of one forward of the backbone's MMDiT on `batch` latents."""
    d = backbone.diffuser
    inputs = {"latent": np.zeros((batch,) + tuple(d.input["latent"].shape[1:]), "float32"),
              "context": np.zeros((batch, tokens, d.context_shape[-1]), "float32"),
              "pooled_projection": np.zeros((batch, d.pooled_projection_shape[0]), "float32"),
              "timestep": np.zeros((batch, 1), "float32")}
    trainable = [v.value for v in d.trainable_variables]
    frozen = [v.value for v in d.non_trainable_variables]

    def forward(trainable, x):
        return d.stateless_call(trainable, frozen, x, training=False)[0]

    lowered = jax.jit(forward).lower(trainable, inputs)
    return dict(batch=batch, tokens=tokens, matmul_flops=matmul_flops(lowered.as_text()),
                xla_flops=int(lowered.compile().cost_analysis()["flops"]))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_sd3.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for name, build in SMALL.items():
        keras.backend.clear_session()
        backbone = build()
        round_trips(backbone)
        cases.append(describe(backbone, "backbone", name))
        cases[-1]["jax_flops"] = jax_flops(backbone)
        for t in TASKS:
            model = getattr(M, "StableDiffusion3" + t)(backbone=backbone, preprocessor=None)
            round_trips(model)
            cases.append(describe(model, "task", f"{name}{t}"))
        print(name, [c["total_params"] for c in cases[-1 - len(TASKS):]], flush=True)
    for name, config in FLUX_SMALL.items():
        keras.backend.clear_session()
        backbone = M.FluxBackbone(**config)
        cases.append(describe(backbone, "backbone", name))
        keras.backend.clear_session()
        model = M.FluxTextToImage(backbone=M.FluxBackbone(**config), preprocessor=None)
        cases.append(describe(model, "task", f"{name}TextToImage"))
        print(name, [c["total_params"] for c in cases[-2:]], flush=True)
    for name, (preset, mmdit) in PRESETS.items():
        keras.backend.clear_session()
        with keras.StatelessScope(initialize_variables=False):
            backbone = M.StableDiffusion3Backbone(
                mmdit_patch_size=2, vae=preset_vae(), clip_l=preset_clip_l(),
                clip_g=preset_clip_g(), image_shape=(1024, 1024, 3), **mmdit)
            case = describe(backbone, "preset", name)
        want = backbone_presets[preset]["metadata"]["params"]
        print(name, preset, backbone.count_params(), want, flush=True)
        assert backbone.count_params() == want, (name, backbone.count_params(), want)
        case["preset"] = preset
        cases.append(case)
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, models=cases),
                  f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {out}")


if __name__ == "__main__":
    main()
