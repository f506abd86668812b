//! gpt_oss: llama-like attention with biases (`attention_bias`, default true) and a
//! learned `sinks` logit per head, layers alternating sliding-window and full attention
//! (`layer_types`, default sliding on even layers, window `sliding_window`); every
//! layer's MLP is sparse: a biased router (top-k of the logits, softmax over the k) and
//! experts stored transposed with biases, run as the clamped SwiGLU
//! `(clamp(up) + 1) · g · sigmoid(1.702 g)`, `g = clamp(gate, max=7)`.
//! Mirrors: `modeling_gpt_oss.py`, `configuration_gpt_oss.py` of transformers 5.x.
use crate::arch::{HeadKind, LayerAttention, Moe, RouterScoring, TransformerArch};
use crate::error::Result;

use super::config::Cfg;
use super::moe::Dims;

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 201088, 2880, 2880, 36, 64, Some(8), Some(64), 131072)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", true)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.variants.attn_sinks = true;
    let window = cfg.dim("sliding_window", 128)?;
    let types = cfg.string_list("layer_types")?;
    a.variants.layer_attention = match types {
        None => (0..d.layers)
            .map(|i| match i % 2 {
                0 => LayerAttention::Sliding(window),
                _ => LayerAttention::Full,
            })
            .collect(),
        Some(types) => layer_kinds(cfg, &types, d.layers, |t| match t {
            "sliding_attention" => Some(LayerAttention::Sliding(window)),
            "full_attention" => Some(LayerAttention::Full),
            _ => None,
        })?,
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

/// `layer_types` as one kind per layer; an unknown name or a list of the wrong length is
/// an error naming the key.
pub fn layer_kinds(
    cfg: &Cfg,
    types: &[String],
    layers: u64,
    kind: impl Fn(&str) -> Option<LayerAttention>,
) -> Result<Vec<LayerAttention>> {
    if types.len() as u64 != layers {
        return Err(cfg.invalid(format!(
            "key 'layer_types' has {} entries but the model has {layers} layers",
            types.len()
        )));
    }
    types
        .iter()
        .map(|t| {
            kind(t).ok_or_else(|| {
                cfg.invalid(format!(
                    "key 'layer_types' holds '{t}', which {} does not have",
                    cfg.model_type
                ))
            })
        })
        .collect()
}
