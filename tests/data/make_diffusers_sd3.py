"""torch's FLOPs of diffusers' Stable Diffusion 3 denoiser for the KerasHub SD3 backbones
of tests/data/keras_hub_sd3.json.gz that record `jax_flops`: `SD3Transformer2DModel` with
the MMDiT's sizes (patch, hidden width and heads, layers, position table, rms q/k norms,
dual-attention layers; the text context T5's width or 4096 without T5, the pooled
projection the two CLIP widths), built on CPU (tiny), its forward and forward + backward
(the flow-matching MSE against a latent-sized target, weights requiring grad, inputs
not) at the record's batch and text tokens, counted by `torch.utils.flop_counter`
(tests/data/hf_fixture.py's `forward_and_backward_flops`). CPU SDPA runs its fused
kernel, whose backward the counter charges 5 bmm-units, as on CUDA.

usage: /work/scratch/hf/bin/python tests/data/make_diffusers_sd3.py [OUTFILE]
  (torch 2.15, diffusers 0.42.1); OUTFILE defaults to tests/data/diffusers_sd3.json.gz.
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
    b, tokens = jax["batch"], jax["tokens"]
    height, width, _ = cfg["image_shape"]
    channels = cfg["latent_channels"]
    hidden, heads = cfg["mmdit_hidden_dim"], cfg["mmdit_num_heads"]
    context = cfg["t5"]["config"]["hidden_dim"] if cfg.get("t5") else 4096
    pooled = sum(cfg[k]["config"]["hidden_dim"] for k in ("clip_l", "clip_g"))
    torch.manual_seed(0)
    model = diffusers.SD3Transformer2DModel(
        sample_size=height // 8, patch_size=cfg["mmdit_patch_size"], in_channels=channels,
        num_layers=cfg["mmdit_num_layers"], attention_head_dim=hidden // heads, num_attention_heads=heads,
        joint_attention_dim=context, caption_projection_dim=hidden, pooled_projection_dim=pooled,
        out_channels=channels, pos_embed_max_size=cfg["mmdit_position_size"],
        dual_attention_layers=tuple(cfg["mmdit_dual_attention_indices"] or ()),
        qk_norm=cfg["mmdit_qk_norm"])
    latent = torch.zeros(b, channels, height // 8, width // 8)
    inputs = dict(hidden_states=latent, encoder_hidden_states=torch.zeros(b, tokens, context),
                  pooled_projections=torch.zeros(b, pooled), timestep=torch.zeros(b))
    fwd, both = forward_and_backward_flops(
        lambda: (model(**inputs).sample - latent).float().pow(2).mean())
    return dict(batch=b, tokens=tokens, flops_fwd=fwd, flops_fwd_bwd=both)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "diffusers_sd3.json.gz")
    with gzip.open(os.path.join(HERE, "keras_hub_sd3.json.gz"), "rt") as f:
        models = [m for m in json.load(f)["models"] if "jax_flops" in m]
    records = []
    for m in models:
        records.append(dict(name=m["name"], **flops(m["model_json"]["config"], m["jax_flops"])))
        print(records[-1], m["jax_flops"], flush=True)
    with gzip.open(out, "wt") as f:
        json.dump(dict(torch=torch.__version__, diffusers=diffusers.__version__, models=records), f, indent=1)
    print(f"{len(records)} models -> {out}")


if __name__ == "__main__":
    main()
