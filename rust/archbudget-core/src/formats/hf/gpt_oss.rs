//! gpt_oss: llama-like attention with biases (`attention_bias`, default true) and a
//! learned `sinks` logit per head, layers alternating sliding-window and full attention
//! (`layer_types`, default sliding on even layers, window `sliding_window`); every
//! layer's MLP is sparse: a biased router (top-k of the logits, softmax over the k) and
//! experts stored transposed with biases, run as the clamped SwiGLU
//! `(clamp(up) + 1) · g · sigmoid(1.702 g)`, `g = clamp(gate, max=7)`.
//! Mirrors: `modeling_gpt_oss.py`, `configuration_gpt_oss.py` of transformers 5.x.
use crate::arch::{AttentionSpan, HeadKind, LayerAttention, Moe, RouterScoring, TransformerArch};
use crate::error::Result;

use super::config::Cfg;
use super::layer_kinds::layer_types;
use super::moe::Dims;

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 201088, 2880, 2880, 36, 64, Some(8), Some(64), 131072)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", true)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.details.attn_sinks = true;
    let window = cfg.dim("sliding_window", 128)?;
    let sliding = |s: bool| LayerAttention {
        span: match s {
            true => AttentionSpan::Sliding(window),
            false => AttentionSpan::Full,
        },
        rotary: true,
    };
    a.details.layers = match layer_types(cfg, d.layers, &["sliding_attention", "full_attention"])? {
        Some(types) => types
            .iter()
            .map(|&t| sliding(t == "sliding_attention"))
            .collect(),
        // sliding on even layers
        None => (0..d.layers).map(|i| sliding(i % 2 == 0)).collect(),
    };
    a.moe = Some(Moe {
        num_experts: cfg.dim_alias(&["num_local_experts", "num_experts"], 128)?,
        experts_per_token: cfg.dim("num_experts_per_tok", 4)?,
        expert_intermediate_size: d.inter,
        scoring: RouterScoring::TopkSoftmax,
        router_bias: true,
        expert_bias: true,
        ..Moe::softmax_router()
    });
    Ok(a)
}
