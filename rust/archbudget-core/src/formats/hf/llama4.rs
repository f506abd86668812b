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
use crate::arch::{HeadKind, LayerAttention, Moe, QkNorm, RouterScoring, TransformerArch};
use crate::error::Result;

use super::config::Cfg;
use super::gpt_oss::layer_kinds;
use super::moe::Dims;

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 202048, 5120, 8192, 48, 40, Some(8), Some(128), 131072)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.intermediate_size = cfg.dim("intermediate_size_mlp", 16384)?;
    // `no_rope_layers[i]` is 1 where layer i uses rope; empty or absent: every
    // `no_rope_layer_interval`-th layer skips it
    let interval = cfg.dim("no_rope_layer_interval", 4)?;
    let flags = cfg.count_list("no_rope_layers")?;
    let uses_rope: Vec<bool> = match flags.is_empty() {
        true => (0..d.layers).map(|i| (i + 1) % interval != 0).collect(),
        false => flags.iter().map(|&f| f != 0).collect(),
    };
    if (uses_rope.len() as u64) < d.layers {
        return Err(cfg.invalid(format!(
            "key 'no_rope_layers' has {} entries but the model has {} layers",
            uses_rope.len(),
            d.layers
        )));
    }
    a.variants.nope_layers = (0..d.layers).filter(|&i| !uses_rope[i as usize]).collect();
    if cfg.flag("use_qk_norm", true)? {
        a.variants.qk_norm = QkNorm::L2;
    }
    let chunk = match cfg.is_null("attention_chunk_size") {
        true => None,
        false => Some(cfg.dim("attention_chunk_size", 8192)?),
    };
    a.variants.layer_attention = match cfg.string_list("layer_types")? {
        Some(types) => layer_kinds(cfg, &types, d.layers, |t| match (t, chunk) {
            ("full_attention", _) => Some(LayerAttention::Full),
            ("chunked_attention", Some(c)) => Some(LayerAttention::Chunked(c)),
            _ => None,
        })?,
        None => (0..d.layers as usize)
            .map(|i| match (uses_rope[i], chunk) {
                (true, Some(c)) => LayerAttention::Chunked(c),
                _ => LayerAttention::Full,
            })
            .collect(),
    };
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
