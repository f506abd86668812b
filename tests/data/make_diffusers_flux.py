"""torch's FLOPs of diffusers' Flux for the KerasHub Flux configs it can build: for each
model of tests/data/keras_hub_flux.json.gz with `mlp_ratio` 4 (diffusers' blocks fix
it), `FluxTransformer2DModel` with the same sizes (patch 1, `in_channels` the image
tokens' width, `out_channels` keras-hub's `input_channels`, the text width as
`joint_attention_dim`, `y`'s as `pooled_projection_dim`, the same heads, depths, rotary
axes and guidance flag), built on CPU (tiny), its forward and forward + backward (the
flow-matching MSE, weights requiring grad, inputs not) at the batch and tokens of the
record's `jax_flops`, counted by `torch.utils.flop_counter` (tests/data/hf_fixture.py's
`forward_and_backward_flops`). On CPU SDPA runs its fused kernel, whose backward the
counter charges 5 bmm-units as on CUDA (on the meta device it falls to the math path, 4
units, as jax's gradient and eager attention do). The matmul FLOPs equal keras-hub's: diffusers differs in
weights only (no LayerNorm affine, split projections, qkv bias always).

usage: /work/scratch/hf/bin/python tests/data/make_diffusers_flux.py [OUTFILE]
  (torch 2.15, diffusers 0.42.1); OUTFILE defaults to tests/data/diffusers_flux.json.gz.
"""
import gzip
import json
import os
import sys

import diffusers
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from hf_fixture import forward_and_backward_flops  # noqa: E402


def flops(cfg, jax):
    b, n, t = jax["batch"], jax["image_tokens"], jax["text_tokens"]
    heads = cfg["num_heads"]
    torch.manual_seed(0)
    model = diffusers.FluxTransformer2DModel(
        patch_size=1, in_channels=cfg["image_shape"][-1], out_channels=cfg["input_channels"],
        num_layers=cfg["depth"], num_single_layers=cfg["depth_single_blocks"],
        attention_head_dim=cfg["hidden_size"] // heads, num_attention_heads=heads,
        joint_attention_dim=cfg["text_shape"][-1], pooled_projection_dim=cfg["y_shape"][-1],
        guidance_embeds=cfg["guidance_embed"], axes_dims_rope=tuple(cfg["axes_dim"]))
    inputs = dict(hidden_states=torch.zeros(b, n, cfg["image_shape"][-1]),
                  encoder_hidden_states=torch.zeros(b, t, cfg["text_shape"][-1]),
                  pooled_projections=torch.zeros(b, cfg["y_shape"][-1]),
                  timestep=torch.zeros(b), img_ids=torch.zeros(n, len(cfg["axes_dim"])),
                  txt_ids=torch.zeros(t, len(cfg["axes_dim"])),
                  guidance=torch.zeros(b) if cfg["guidance_embed"] else None)
    target = torch.zeros(b, n, cfg["input_channels"])
    fwd, both = forward_and_backward_flops(
        lambda: (model(**inputs).sample - target).float().pow(2).mean())
    return dict(batch=b, image_tokens=n, text_tokens=t, flops_fwd=fwd, flops_fwd_bwd=both)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "diffusers_flux.json.gz")
    with gzip.open(os.path.join(HERE, "keras_hub_flux.json.gz"), "rt") as f:
        models = json.load(f)["models"]
    records = []
    for m in models:
        cfg = m["model_json"]["config"]
        if cfg["mlp_ratio"] != 4.0:
            continue
        records.append(dict(name=m["name"], **flops(cfg, m["jax_flops"])))
        print(records[-1], flush=True)
    with gzip.open(out, "wt") as f:
        json.dump(dict(torch=torch.__version__, diffusers=diffusers.__version__, models=records), f, indent=1)
    print(f"{len(records)} models -> {out}")


if __name__ == "__main__":
    main()
