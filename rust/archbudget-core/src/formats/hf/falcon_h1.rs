//! falcon_h1 (`modeling_falcon_h1.py`): a llama-like decoder whose every layer runs a
//! mamba2 mixer (`FalconH1Mixer`: `mamba_d_ssm` channels, the gated RMSNorm only with
//! `mamba_rms_norm`, `out_proj` biased with `projectors_bias`) and GQA attention with
//! rotary positions side by side on the same normalised input, their outputs summed
//! into the residual, then the gated MLP. The µP multipliers (`embedding_multiplier`,
//! `attention_in/out_multiplier`, `ssm_in/out_multiplier`, `mlp_multipliers`,
//! `lm_head_multiplier`, `ssm_multipliers` as each mixer's non-persistent `mup_vector`
//! buffer) are plain floats: no parameters. Norms `input_layernorm`, `pre_ff_layernorm`
//! per layer and `final_layernorm`.
use crate::arch::{HeadKind, LayerMixer, Ssm, TransformerArch};
use crate::error::{mul, Result};
use crate::weight::dim;

use super::config::Cfg;
use super::modules::{embedding_row, lm_head, norm, norm_row, Modules};
use super::moe::{self, Dims};
use super::ssm::{self, SsmDefaults, SsmKeys};

const KEYS: SsmKeys = SsmKeys {
    d_state: "mamba_d_state",
    d_conv: "mamba_d_conv",
    expand: "mamba_expand",
    dt_rank: "",
    conv_bias: "mamba_conv_bias",
    proj_bias: "mamba_proj_bias",
    chunk_size: "mamba_chunk_size",
};

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 128000, 4096, 14336, 32, 32, Some(8), None, 8192)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.mlp_bias = cfg.flag("mlp_bias", false)?;
    // `int(mamba_expand * hidden_size)` when `mamba_d_ssm` is null
    let d_inner = match cfg.is_null("mamba_d_ssm") {
        true => mul(
            cfg.dim("mamba_expand", 2)?,
            d.hidden,
            cfg.location,
            "mamba_d_ssm",
        )?,
        false => cfg.dim("mamba_d_ssm", 1024)?,
    };
    let heads = cfg.dim("mamba_n_heads", 128)?;
    let head_dim = match cfg.string("mamba_d_head", "auto") {
        Ok(s) if s == "auto" => d_inner / heads,
        Ok(s) => {
            return Err(cfg.invalid(format!(
                "key 'mamba_d_head' must be a positive integer or \"auto\", got \"{s}\""
            )))
        }
        Err(_) => cfg.dim("mamba_d_head", d_inner / heads)?,
    };
    let defaults = SsmDefaults {
        d_state: 256,
        d_conv: 4,
        expand: 2,
        conv_bias: true,
        proj_bias: false,
        chunk_size: 256,
    };
    let n_groups = cfg.dim("mamba_n_groups", 1)?;
    let mixer = ssm::mamba2(cfg, d_inner, heads, head_dim, n_groups, &KEYS, &defaults)?;
    a.details.ssm = Some(Ssm {
        out_proj_bias: cfg.flag("projectors_bias", false)?,
        gated_norm: cfg.flag("mamba_rms_norm", false)?,
        mup: true,
        mixer_only: false,
        ..mixer
    });
    a.details.mixers = vec![LayerMixer::AttentionAndSsm; d.layers as usize];
    // `logits * lm_head_multiplier`
    a.details.logit_scale = true;
    Ok(a)
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let n = moe::names("falcon_h1");
    let loc = m.location();
    let root = if a.head.has_lm_head() { "model." } else { "" };
    let embed_path = format!("{root}embed_tokens");
    let vocab = dim(a.vocab_size, "vocab");
    embedding_row(m, embed_path.clone(), "Embedding", vocab, a.hidden_size)?;
    let Some(s) = a.details.ssm else {
        return Err(crate::Error::invalid(loc, "no SSM mixer described"));
    };
    let mut norms = Vec::new();
    norm(&mut norms, "", a.hidden_size, a.norm);
    let (mlp_class, mlp, _) = moe::mlp(a, &n, false, loc)?;
    let block = [
        ("feed_forward".to_string(), mlp_class.as_str(), mlp),
        (
            "mamba".to_string(),
            "FalconH1Mixer",
            ssm::mixer_weights(&s, a.hidden_size, loc)?,
        ),
        (
            "self_attn".to_string(),
            "FalconH1Attention",
            moe::attention(a, loc)?,
        ),
        (
            "input_layernorm".to_string(),
            "FalconH1RMSNorm",
            norms.clone(),
        ),
        ("pre_ff_layernorm".to_string(), "FalconH1RMSNorm", norms),
    ];
    m.add_blocks(a.num_layers, |i| format!("{root}layers.{i}."), &block)?;
    let final_path = format!("{root}final_layernorm");
    norm_row(m, final_path, "FalconH1RMSNorm", a.hidden_size, a.norm)?;
    if !a.head.has_lm_head() {
        return Ok("FalconH1Model".to_string());
    }
    lm_head(m, "lm_head", a, &format!("{embed_path}.weight"))?;
    Ok("FalconH1ForCausalLM".to_string())
}
