//! deepseek_v2, deepseek_v3, glm4_moe, glm4_moe_lite and dots1: the DeepSeek MoE block (routed experts, a
//! router `gate` in fp32, `n_shared_experts` shared experts as one gated MLP of
//! `moe_intermediate_size × n_shared_experts`, dense MLPs in the first
//! `first_k_dense_replace` layers) behind multi-head latent attention (deepseek,
//! glm4_moe_lite) or GQA
//! attention with partial rotary and optional qk-norm (glm4_moe), or qwen3's attention
//! with per-head qk-norms and sliding layers from `max_window_layers` (dots1).
//!
//! Routers: deepseek_v2 softmax top-k (greedy or group-limited), scaled, never
//! renormalised; deepseek_v3 and glm4_moe sigmoid scores with an fp32
//! `e_score_correction_bias` buffer (not a parameter), group-limited top-k,
//! `norm_topk_prob` renormalisation and scaling.
//! Mirrors: `modeling_deepseek_v2.py`, `modeling_deepseek_v3.py`, `modeling_glm4_moe.py`
//! of transformers 5.x; `head_dim` is `qk_rope_head_dim` for the MLA types (their
//! `__post_init__`), the rotary width.
use crate::arch::{
    AttentionSpan, HeadKind, LayerAttention, Mla, Moe, QkNorm, RouterScoring, TransformerArch,
};
use crate::error::{add, mul, Result};

use super::config::Cfg;
use super::decoder::rotary_dim;
use super::layer_kinds::layer_types;
use super::moe::Dims;
use super::spec::Rotary;

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let v3 = cfg.model_type == "deepseek_v3";
    let d = if v3 {
        Dims::read(cfg, 129280, 7168, 18432, 61, 128, None, None, 4096)?
    } else {
        Dims::read(cfg, 102400, 4096, 11008, 32, 32, None, None, 2048)?
    };
    if !v3 {
        cfg.require_divisible(("hidden_size", d.hidden), ("num_attention_heads", d.heads))?;
    }
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.mlp_bias = !v3 && cfg.flag("mlp_bias", false)?;
    latent_attention(cfg, &mut a, (1536, 128, 128))?;
    let moe_inter = cfg.dim("moe_intermediate_size", if v3 { 2048 } else { 1407 })?;
    let shared = cfg.count("n_shared_experts", if v3 { 1 } else { 2 })?;
    let first_dense = cfg.count("first_k_dense_replace", if v3 { 3 } else { 0 })?;
    a.moe = moe_layers(d.layers, first_dense, || {
        let experts_key = if v3 {
            "num_local_experts"
        } else {
            "num_experts"
        };
        Ok(Moe {
            num_experts: cfg.dim_alias(
                &["n_routed_experts", experts_key],
                if v3 { 256 } else { 64 },
            )?,
            // deepseek_v2's default `None` cannot route; counted as no routed expert used
            experts_per_token: cfg.count("num_experts_per_tok", if v3 { 8 } else { 0 })?,
            expert_intermediate_size: moe_inter,
            shared_expert_intermediate_size: mul(
                moe_inter,
                shared,
                cfg.location,
                "n_shared_experts",
            )?,
            dense_layers: (0..first_dense.min(d.layers)).collect(),
            renormalize: v3 && cfg.flag("norm_topk_prob", true)?,
            scoring: if v3 {
                RouterScoring::GroupSigmoid
            } else {
                RouterScoring::Softmax
            },
            shared_expert_bias: a.mlp_bias,
            correction_bias: v3,
            ..Moe::softmax_router()
        })
    })?;
    Ok(a)
}

/// Multi-head latent attention from the config onto `a`; `defaults` are the type's
/// (`q_lora_rank`, `qk_nope_head_dim`, `v_head_dim`).
fn latent_attention(cfg: &Cfg, a: &mut TransformerArch, defaults: (u64, u64, u64)) -> Result<()> {
    let mla = Mla {
        q_lora_rank: match cfg.is_null("q_lora_rank") {
            true => None,
            false => Some(cfg.dim("q_lora_rank", defaults.0)?),
        },
        kv_lora_rank: cfg.dim("kv_lora_rank", 512)?,
        qk_nope_head_dim: cfg.dim("qk_nope_head_dim", defaults.1)?,
        qk_rope_head_dim: cfg.dim("qk_rope_head_dim", 64)?,
        v_head_dim: cfg.dim("v_head_dim", defaults.2)?,
    };
    // q and k heads are nope + rope wide; every head gets its own k and v (kv_b_proj)
    a.head_dim = add(
        mla.qk_nope_head_dim,
        mla.qk_rope_head_dim,
        cfg.location,
        "qk head dim",
    )?;
    a.num_kv_heads = a.num_heads;
    a.details.rotary_dim = mla.qk_rope_head_dim;
    a.details.mla = Some(mla);
    Ok(())
}

/// glm4_moe_lite (`modular_glm4_moe_lite.py`): deepseek_v3's latent attention in
/// glm4_moe's decoder, dense or sparse per `mlp_layer_types` (dense first by default).
pub fn glm4_moe_lite(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 154_880, 2048, 10240, 47, 20, None, None, 202_752)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    latent_attention(cfg, &mut a, (768, 192, 256))?;
    let dense_layers: Vec<u64> = match cfg.strings("mlp_layer_types")? {
        None => (0..d.layers.min(1)).collect(),
        Some(kinds) if kinds.len() as u64 == d.layers => {
            if let Some(other) = kinds.iter().find(|k| !["dense", "sparse"].contains(k)) {
                return Err(cfg.invalid(format!(
                    "key 'mlp_layer_types' holds '{other}'; each entry must be 'dense' or 'sparse'"
                )));
            }
            (0..d.layers)
                .filter(|&i| kinds[i as usize] == "dense")
                .collect()
        }
        Some(kinds) => {
            return Err(cfg.invalid(format!(
                "key 'mlp_layer_types' has {} entries but the model has {} layers",
                kinds.len(),
                d.layers
            )))
        }
    };
    if dense_layers.len() as u64 == d.layers {
        return Ok(a);
    }
    let moe_inter = cfg.dim("moe_intermediate_size", 1536)?;
    let shared = cfg.count("n_shared_experts", 1)?;
    a.moe = Some(Moe {
        num_experts: cfg.dim_alias(&["n_routed_experts", "num_local_experts"], 64)?,
        experts_per_token: cfg.count("num_experts_per_tok", 4)?,
        expert_intermediate_size: moe_inter,
        shared_expert_intermediate_size: mul(moe_inter, shared, cfg.location, "n_shared_experts")?,
        dense_layers,
        renormalize: cfg.flag("norm_topk_prob", true)?,
        scoring: RouterScoring::GroupSigmoid,
        correction_bias: true,
        ..Moe::softmax_router()
    });
    Ok(a)
}

pub fn glm4_moe(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 151552, 4096, 10944, 46, 96, Some(8), None, 131072)?;
    let mut a = d.decoder(cfg, head)?;
    a.qkv_bias = cfg.flag("attention_bias", false)?;
    if cfg.flag("use_qk_norm", false)? {
        a.details.qk_norm = Some(QkNorm::rms_per_head(d.head_dim));
    }
    // `partial_rotary_factor` defaults to 0.5 (the config's `__post_init__`)
    a.details.rotary_dim = rotary_dim(cfg, Rotary::Factor(0.5), d.head_dim)?;
    let moe_inter = cfg.dim("moe_intermediate_size", 1408)?;
    let shared = cfg.count("n_shared_experts", 1)?;
    let first_dense = cfg.count("first_k_dense_replace", 1)?;
    a.moe = moe_layers(d.layers, first_dense, || {
        Ok(Moe {
            num_experts: cfg.dim_alias(&["n_routed_experts", "num_local_experts"], 128)?,
            experts_per_token: cfg.count("num_experts_per_tok", 8)?,
            expert_intermediate_size: moe_inter,
            shared_expert_intermediate_size: mul(
                moe_inter,
                shared,
                cfg.location,
                "n_shared_experts",
            )?,
            dense_layers: (0..first_dense.min(d.layers)).collect(),
            renormalize: cfg.flag("norm_topk_prob", true)?,
            scoring: RouterScoring::GroupSigmoid,
            correction_bias: true,
            ..Moe::softmax_router()
        })
    })?;
    Ok(a)
}

/// dots1 (`modeling_dots1.py`): glm4_moe's router and shared experts behind qwen3's
/// attention (full rotary, RMSNorms on each head's q and k). Its config leaves the expert
/// counts and top-k null, which builds no model: they must be given.
pub fn dots1(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 152064, 4608, 10944, 62, 32, None, None, 2048)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.details.qk_norm = Some(QkNorm::rms_per_head(d.head_dim));
    let window = cfg
        .dim_opt("sliding_window")?
        .or(match cfg.is_null("sliding_window") {
            true => None,
            false => Some(4096),
        });
    let sliding: Vec<bool> =
        match layer_types(cfg, d.layers, &["full_attention", "sliding_attention"])? {
            Some(types) => types.iter().map(|&t| t == "sliding_attention").collect(),
            None => {
                let from = cfg.count("max_window_layers", 62)?;
                (0..d.layers)
                    .map(|i| window.is_some() && i >= from)
                    .collect()
            }
        };
    if sliding.iter().any(|&s| s) {
        let Some(w) = window else {
            return Err(cfg.invalid("sliding layers need 'sliding_window' (a positive integer)"));
        };
        a.details.layers = sliding
            .into_iter()
            .map(|s| LayerAttention {
                span: match s {
                    true => AttentionSpan::Sliding(w),
                    false => AttentionSpan::Full,
                },
                rotary: true,
            })
            .collect();
    }
    // `n_routed_experts` must be positive, the others may be 0
    let required = |key: &str| {
        let given = match key {
            "n_routed_experts" => cfg.dim_opt(key)?,
            _ => cfg.count_opt(key)?,
        };
        given.ok_or_else(|| {
            cfg.invalid(format!(
                "key '{key}' must be set for model_type 'dots1' (its default, null, builds no model)"
            ))
        })
    };
    let moe_inter = cfg.dim("moe_intermediate_size", 1408)?;
    let shared = required("n_shared_experts")?;
    let first_dense = cfg.count("first_k_dense_replace", 0)?;
    let num_experts = required("n_routed_experts")?;
    let top_k = required("num_experts_per_tok")?;
    a.moe = moe_layers(d.layers, first_dense, || {
        Ok(Moe {
            num_experts,
            experts_per_token: top_k,
            expert_intermediate_size: moe_inter,
            shared_expert_intermediate_size: mul(
                moe_inter,
                shared,
                cfg.location,
                "n_shared_experts",
            )?,
            dense_layers: (0..first_dense.min(d.layers)).collect(),
            renormalize: cfg.flag("norm_topk_prob", false)?,
            scoring: RouterScoring::GroupSigmoid,
            correction_bias: true,
            ..Moe::softmax_router()
        })
    })?;
    Ok(a)
}

/// The MoE description when some layer at or after `first_dense` exists.
fn moe_layers(
    layers: u64,
    first_dense: u64,
    moe: impl FnOnce() -> Result<Moe>,
) -> Result<Option<Moe>> {
    if first_dense >= layers {
        return Ok(None);
    }
    moe().map(Some)
}
