//! jamba (`modeling_jamba.py`): a llama-like decoder whose layers are mamba1 mixers
//! (with RMSNorms on dt, B and C) except layer `i` with `i % attn_layer_period ==
//! attn_layer_offset`, which is GQA attention without positions; the feed-forward of
//! layer `i` is a sparse MoE (`num_experts` routed by a softmax top-k router, the
//! weights left unnormalised, no shared expert) where `i % expert_layer_period ==
//! expert_layer_offset` and `num_experts > 1`, else the gated MLP. Norms
//! `input_layernorm`, `pre_ff_layernorm` per layer and `final_layernorm`.
use crate::arch::{LayerMixer, Moe, Position, TransformerArch};
use crate::error::Result;
use crate::weight::dim;

use super::config::Cfg;
use super::modules::{embedding_row, lm_head, norm, norm_row, Modules};
use super::moe::{self, Dims};
use super::ssm::{self, SsmDefaults, SsmKeys};
use crate::arch::HeadKind;

const KEYS: SsmKeys = SsmKeys {
    d_state: "mamba_d_state",
    d_conv: "mamba_d_conv",
    expand: "mamba_expand",
    dt_rank: "mamba_dt_rank",
    conv_bias: "mamba_conv_bias",
    proj_bias: "mamba_proj_bias",
    chunk_size: "mamba_chunk_size",
};

/// `layer % period == offset`, with the config's check that the offset is below the
/// period.
fn every(cfg: &Cfg, period: (&str, u64), offset: (&str, u64)) -> Result<(u64, u64)> {
    let p = cfg.dim(period.0, period.1)?;
    let o = cfg.count_opt(offset.0)?.unwrap_or(offset.1);
    if o >= p {
        return Err(cfg.invalid(format!(
            "key '{}' ({o}) must be smaller than '{}' ({p})",
            offset.0, period.0
        )));
    }
    Ok((p, o))
}

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 65536, 4096, 14336, 32, 32, Some(8), None, 262144)?;
    let mut a = d.decoder(cfg, head)?;
    a.position = Position::None;
    let (attn_period, attn_offset) =
        every(cfg, ("attn_layer_period", 8), ("attn_layer_offset", 4))?;
    let (expert_period, expert_offset) =
        every(cfg, ("expert_layer_period", 2), ("expert_layer_offset", 1))?;
    a.details.mixers = (0..d.layers)
        .map(|i| match i % attn_period == attn_offset {
            true => LayerMixer::Attention,
            false => LayerMixer::Ssm,
        })
        .collect();
    let defaults = SsmDefaults {
        d_state: 16,
        d_conv: 4,
        expand: 2,
        conv_bias: true,
        proj_bias: false,
        chunk_size: 256,
    };
    a.details.ssm = Some(crate::arch::Ssm {
        dt_bc_norms: true,
        mixer_only: false,
        ..ssm::mamba1(cfg, &KEYS, &defaults, d.hidden)?
    });
    let num_experts = cfg.count_alias(&["num_experts", "num_local_experts"], 16)?;
    if num_experts > 1 {
        a.moe = Some(Moe {
            num_experts,
            experts_per_token: cfg.dim("num_experts_per_tok", 2)?,
            expert_intermediate_size: d.inter,
            dense_layers: (0..d.layers)
                .filter(|i| i % expert_period != expert_offset)
                .collect(),
            weights_in_logits_dtype: true,
            ..Moe::softmax_router()
        });
    }
    Ok(a)
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let n = moe::names("jamba");
    let loc = m.location();
    let root = if a.head.has_lm_head() { "model." } else { "" };
    let embed_path = format!("{root}embed_tokens");
    embedding_row(
        m,
        embed_path.clone(),
        "Embedding",
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;
    let Some(s) = a.details.ssm else {
        return Err(crate::Error::invalid(loc, "no SSM mixer described"));
    };
    let mixer = ssm::mixer_weights(&s, a.hidden_size, loc)?;
    let attention = moe::attention(a, loc)?;
    let mut norms = Vec::new();
    norm(&mut norms, "", a.hidden_size, a.norm);
    norm(&mut norms, "", a.hidden_size, a.norm);
    let rows = !m.counting_only();
    if !rows {
        // the sweep's totals: each kind of mixer and feed-forward declared once and
        // counted as many times as it occurs
        let ssm_layers = (0..a.num_layers)
            .filter(|&i| a.layer_mixer(i) == LayerMixer::Ssm)
            .count() as u64;
        let sparse = (0..a.num_layers)
            .filter(|&i| a.moe.as_ref().is_some_and(|moe| moe.is_moe_layer(i)))
            .count() as u64;
        m.count_repeated(&mixer, ssm_layers)?;
        m.count_repeated(&attention, a.num_layers - ssm_layers)?;
        m.count_repeated(&norms, a.num_layers)?;
        for (is_sparse, times) in [(true, sparse), (false, a.num_layers - sparse)] {
            let (_, w, idle) = moe::mlp(a, &n, is_sparse, loc)?;
            m.count_repeated(&w, times)?;
            m.add_idle(crate::error::mul(idle, times, loc, "parameter count")?)?;
        }
    }
    norms.truncate(1);
    for i in (0..a.num_layers).filter(|_| rows) {
        let layer = format!("{root}layers.{i}.");
        match a.layer_mixer(i) {
            LayerMixer::Ssm => m.add(format!("{layer}mamba"), "JambaMambaMixer", mixer.clone())?,
            _ => m.add(
                format!("{layer}self_attn"),
                "JambaAttention",
                attention.clone(),
            )?,
        }
        let sparse = a.moe.as_ref().is_some_and(|moe| moe.is_moe_layer(i));
        let (class, w, idle) = moe::mlp(a, &n, sparse, loc)?;
        m.add_idle(idle)?;
        m.add(format!("{layer}feed_forward"), &class, w)?;
        for name in ["input_layernorm", "pre_ff_layernorm"] {
            m.add(format!("{layer}{name}"), "JambaRMSNorm", norms.clone())?;
        }
    }
    norm_row(
        m,
        format!("{root}final_layernorm"),
        "JambaRMSNorm",
        a.hidden_size,
        a.norm,
    )?;
    if !a.head.has_lm_head() {
        return Ok("JambaModel".to_string());
    }
    lm_head(m, "lm_head", a, &format!("{embed_path}.weight"))?;
    Ok("JambaForCausalLM".to_string())
}
