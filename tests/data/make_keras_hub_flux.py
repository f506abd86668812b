"""KerasHub Flux FLOPs: jax's own count of one forward and of one forward + backward of
keras-hub's `FluxBackbone`, for `memory`'s FLOPs of the denoiser step.

Each config (the two of make_keras_hub_sd3.py's FLUX_SMALL, and others: other widths,
heads, depths, MLP ratios, image and text sizes, with and without guidance and qkv bias)
is built by the real keras-hub in a fresh session and recorded as make_keras_hub.py
records models (`describe`: `model_json`, totals, the rows of `model.summary()`), with
`jax_flops` at batch 2 (the text and image tokens its shapes give):
- `matmul_flops_fwd`: the matmuls of the jitted forward, summed from its StableHLO as
  make_keras_hub_sd3.py sums them (2 × output elements × contracted size per
  `dot_general`), without the rotary table's outer products (`einsum("...n,d->...nd")`
  of the ids and the frequencies: a `dot_general` that contracts nothing, an elementwise
  product that PyTorch's Flux makes with `torch.outer`, which torch's counter does not
  see), recorded apart as `rope_outer_flops`;
- `matmul_flops_fwd_bwd`: the same of the jitted value and gradient, with respect to the
  trainable weights, of the flow-matching loss `mean((out - target)²)`;
- `xla_flops_fwd`: XLA's `cost_analysis()['flops']` of the forward (every elementwise op
  counted too).

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_flux.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_flux.json.gz.
"""
import gzip
import json
import math
import os
import re
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import jax
import jax.numpy as jnp
import keras
import keras_hub
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_keras_hub import describe  # noqa: E402
from make_keras_hub_sd3 import FLUX, FLUX_SMALL, tensor_dims  # noqa: E402

CONFIGS = dict(FLUX_SMALL)
CONFIGS.update({
    # wider, three heads, a deeper double stack, the default MLP ratio, a wider image width
    # than its channels
    "Flux_wide": dict(FLUX, hidden_size=48, num_heads=3, mlp_ratio=4.0, depth=3,
                      depth_single_blocks=1, input_channels=4, image_shape=(24, 16),
                      image_ids_shape=(24, 3), text_shape=(7, 20), text_ids_shape=(7, 3),
                      y_shape=(12,)),
    # eight narrow heads (two axes of ids), no guidance, no qkv bias, single blocks only
    "Flux_narrow_heads": dict(FLUX, hidden_size=64, num_heads=8, mlp_ratio=1.5, depth=0,
                              depth_single_blocks=2, axes_dim=[4, 4], guidance_embed=False,
                              use_bias=False, image_shape=(9, 4), image_ids_shape=(9, 2),
                              text_shape=(3, 6), text_ids_shape=(3, 2), input_channels=4,
                              y_shape=(5,)),
    # schnell-like at diffusers' fixed MLP ratio: no guidance, the image as wide as its
    # channels
    "Flux_schnell_like": dict(FLUX, mlp_ratio=4.0, depth=1, depth_single_blocks=2,
                              guidance_embed=False, input_channels=12, image_shape=(20, 12),
                              image_ids_shape=(20, 3), text_shape=(4, 9), text_ids_shape=(4, 3),
                              y_shape=(6,)),
})
BATCH = 2


def matmul_flops(stablehlo):
    """(FLOPs of the matmuls, FLOPs of the outer products that contract nothing)"""
    total, outer = 0, 0
    for line in stablehlo.splitlines():
        if "stablehlo.dot_general" not in line:
            continue
        types = re.findall(r"tensor<[^>]*>", line.split(":")[-1])
        contracted = re.search(r"contracting_dims = \[([0-9, ]*)\] x", line)
        axes = [int(i) for i in contracted.group(1).split(",") if i.strip()] if contracted else []
        lhs, out = tensor_dims(types[0]), tensor_dims(types[-1])
        flops = 2 * math.prod(out) * math.prod(lhs[i] for i in axes)
        if axes:
            total += flops
        else:
            outer += flops
    return total, outer


def inputs_of(backbone):
    shapes = {k: tuple(v.shape[1:]) for k, v in backbone.input.items()}
    return {k: np.random.rand(BATCH, *s).astype("float32") for k, s in shapes.items()}


def jax_flops(backbone):
    x = inputs_of(backbone)
    out_shape = (BATCH,) + tuple(backbone.output.shape[1:])
    target = np.zeros(out_shape, "float32")
    trainable = [v.value for v in backbone.trainable_variables]
    frozen = [v.value for v in backbone.non_trainable_variables]

    def forward(trainable, x):
        return backbone.stateless_call(trainable, frozen, x, training=True)[0]

    def loss(trainable, x, target):
        return jnp.mean(jnp.square(forward(trainable, x) - target))

    fwd = jax.jit(forward).lower(trainable, x)
    both = jax.jit(jax.value_and_grad(loss)).lower(trainable, x, target)
    matmul_fwd, outer = matmul_flops(fwd.as_text())
    matmul_both, outer_both = matmul_flops(both.as_text())
    assert outer_both == outer, (outer, outer_both)
    return dict(batch=BATCH, text_tokens=x["text"].shape[1], image_tokens=x["image"].shape[1],
                matmul_flops_fwd=matmul_fwd, matmul_flops_fwd_bwd=matmul_both,
                rope_outer_flops=outer, xla_flops_fwd=int(fwd.compile().cost_analysis()["flops"]))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_flux.json.gz")
    keras.utils.set_random_seed(0)
    cases = []
    for name, config in CONFIGS.items():
        keras.backend.clear_session()
        backbone = keras_hub.models.FluxBackbone(**config)
        case = describe(backbone, "backbone", name)
        case["jax_flops"] = jax_flops(backbone)
        cases.append(case)
        print(name, case["total_params"], case["jax_flops"], flush=True)
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, jax=jax.__version__,
                       models=cases), f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {out}")


if __name__ == "__main__":
    main()
