//! llama4_text: llama attention with NoPE layers (`no_rope_layers[i] == 0`: no rotary
//! embedding, full attention, query temperature tuning) among rotary layers (chunked
//! attention over `attention_chunk_size` tokens, parameter-free L2 qk-norm when
//! `use_qk_norm`); MoE layers (`moe_layers`, default every `interleave_moe_layer_step`-th)
//! hold a `router` Linear, transposed experts of `intermediate_size` and a shared expert
//! of the same size, dense layers an MLP of `intermediate_size_mlp`. The router keeps
//! the top-k logits, sigmoid of them, and every expert runs on every token (weight 0
//! where not chosen).
//! Mirrors: `modeling_llama4.py`, `configuration_llama4.py` (`Llama4TextConfig`) of
//! transformers 5.x; the module is `feed_forward`, not `mlp`.
//! `llama4` wraps the text model with a vision tower and a projector: `vlm.rs`.
use crate::arch::{
    AttentionSpan, HeadKind, LayerAttention, Moe, QkNorm, RouterScoring, TransformerArch,
};
use crate::error::Result;

use super::config::Cfg;
use super::layer_kinds::{layer_types, rope_layers};
use super::moe::Dims;

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 202048, 5120, 8192, 48, 40, Some(8), Some(128), 131072)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.intermediate_size = cfg.dim("intermediate_size_mlp", 16384)?;
    // NoPE layers: full attention, no rotary embedding, q scaled by a temperature
    let uses_rope = rope_layers(cfg, d.layers)?;
    if cfg.flag("use_qk_norm", true)? {
        a.details.qk_norm = Some(QkNorm::l2(d.head_dim));
    }
    a.details.nope_temperature = cfg.flag("attn_temperature_tuning", true)?;
    let chunk = match cfg.is_null("attention_chunk_size") {
        true => None,
        false => Some(cfg.dim("attention_chunk_size", 8192)?),
    };
    let known: &[&str] = match chunk {
        Some(_) => &["full_attention", "chunked_attention"],
        None => &["full_attention"],
    };
    let chunked: Vec<bool> = match layer_types(cfg, d.layers, known)? {
        Some(types) => types.iter().map(|&t| t == "chunked_attention").collect(),
        None => uses_rope.clone(),
    };
    a.details.layers = chunked
        .into_iter()
        .zip(uses_rope)
        .map(|(chunked, rotary)| LayerAttention {
            span: match (chunked, chunk) {
                (true, Some(c)) => AttentionSpan::Chunked(c),
                _ => AttentionSpan::Full,
            },
            rotary,
        })
        .collect();
    let moe_layers = match cfg.has("moe_layers") {
        true => cfg.count_list("moe_layers")?,
        false => {
            let step = cfg.dim("interleave_moe_layer_step", 1)?;
            (step - 1..d.layers).step_by(step as usize).collect()
        }
    };
    let dense_layers: Vec<u64> = (0..d.layers).filter(|i| !moe_layers.contains(i)).collect();
    if (dense_layers.len() as u64) < d.layers {
        a.moe = Some(Moe {
            num_experts: cfg.dim("num_local_experts", 16)?,
            experts_per_token: cfg.dim("num_experts_per_tok", 1)?,
            expert_intermediate_size: d.inter,
            shared_expert_intermediate_size: d.inter,
            dense_layers,
            scoring: RouterScoring::DenseSigmoid,
            ..Moe::softmax_router()
        });
    }
    Ok(a)
}
