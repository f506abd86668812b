//! mamba and mamba2 (`modeling_mamba.py`, `modeling_mamba2.py`): a token embedding, N ×
//! (RMSNorm → selective state-space mixer, residual), a final RMSNorm `norm_f`, and an
//! LM head tied to the embedding unless `tie_word_embeddings` is false. No attention
//! and no positions: every layer is [`LayerMixer::Ssm`], the mixer described by
//! [`Ssm`] (`ssm.rs`).
//!
//! Modules: `embeddings`, `layers.{i}.norm`, `layers.{i}.mixer`, `norm_f` in
//! `MambaModel` / `Mamba2Model`, under `backbone.` in the causal-LM class beside
//! `lm_head`.
use crate::arch::{BlockDetails, HeadKind, LayerMixer, NormKind, Ssm, SsmVersion, TransformerArch};
use crate::error::Result;
use crate::weight::dim;

use super::config::Cfg;
use super::modules::{embedding_row, lm_head, norm_row, Modules};
use super::ssm::{self, SsmDefaults, SsmKeys};

const KEYS: SsmKeys = SsmKeys {
    d_state: "state_size",
    d_conv: "conv_kernel",
    expand: "expand",
    dt_rank: "time_step_rank",
    conv_bias: "use_conv_bias",
    proj_bias: "use_bias",
    chunk_size: "chunk_size",
};

pub fn mamba(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let hidden = cfg.dim("hidden_size", 768)?;
    let defaults = SsmDefaults {
        d_state: 16,
        d_conv: 4,
        expand: 2,
        conv_bias: true,
        proj_bias: false,
        chunk_size: 256,
    };
    let ssm = ssm::mamba1(cfg, &KEYS, &defaults, hidden)?;
    decoder(cfg, head, hidden, 50280, 32, true, ssm)
}

pub fn mamba2(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let hidden = cfg.dim("hidden_size", 4096)?;
    let expand = cfg.dim("expand", 2)?;
    let d_inner = crate::error::mul(expand, hidden, cfg.location, "intermediate size")?;
    let heads = cfg.dim("num_heads", 128)?;
    let head_dim = cfg.dim("head_dim", 64)?;
    let n_groups = cfg.dim("n_groups", 8)?;
    let defaults = SsmDefaults {
        d_state: 128,
        d_conv: 4,
        expand: 2,
        conv_bias: true,
        proj_bias: false,
        chunk_size: 256,
    };
    let ssm = ssm::mamba2(cfg, d_inner, heads, head_dim, n_groups, &KEYS, &defaults)?;
    decoder(cfg, head, hidden, 32768, 64, false, ssm)
}

fn decoder(
    cfg: &Cfg,
    head: HeadKind,
    hidden: u64,
    vocab: u64,
    layers: u64,
    tie: bool,
    ssm: Ssm,
) -> Result<TransformerArch> {
    let layers = cfg.layers(&["num_hidden_layers"], layers)?;
    Ok(TransformerArch {
        head,
        vocab_size: cfg.dim("vocab_size", vocab)?,
        activation: cfg.string("hidden_act", "silu")?,
        norm: NormKind::RmsNorm,
        norms_per_layer: 1,
        qkv_bias: false,
        o_bias: false,
        mlp_bias: false,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", tie)?,
        details: BlockDetails {
            mixers: vec![LayerMixer::Ssm; layers as usize],
            ssm: Some(ssm),
            ..BlockDetails::default()
        },
        // no attention: the fields of attention layers stay empty (no heads)
        ..TransformerArch::decoder(cfg.model_type, hidden, layers, 0, ssm.d_inner)
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let Some(s) = a.details.ssm else {
        return Err(crate::Error::invalid(
            m.location(),
            "no SSM mixer described",
        ));
    };
    let prefix = match s.version {
        SsmVersion::Mamba1 => "Mamba",
        SsmVersion::Mamba2 => "Mamba2",
    };
    let root = if a.head.has_lm_head() {
        "backbone."
    } else {
        ""
    };
    let embed_path = format!("{root}embeddings");
    let vocab = dim(a.vocab_size, "vocab");
    embedding_row(m, embed_path.clone(), "Embedding", vocab, a.hidden_size)?;
    let norm_class = format!("{prefix}RMSNorm");
    let mut norm = Vec::new();
    super::modules::norm(&mut norm, "", a.hidden_size, a.norm);
    let mixer = ssm::mixer_weights(&s, a.hidden_size, m.location())?;
    let block = [
        ("norm".to_string(), norm_class.as_str(), norm),
        (
            "mixer".to_string(),
            &format!("{prefix}Mixer") as &str,
            mixer,
        ),
    ];
    m.add_blocks(a.num_layers, |i| format!("{root}layers.{i}."), &block)?;
    norm_row(
        m,
        format!("{root}norm_f"),
        &norm_class,
        a.hidden_size,
        a.norm,
    )?;
    if !a.head.has_lm_head() {
        return Ok(format!("{prefix}Model"));
    }
    lm_head(m, "lm_head", a, &format!("{embed_path}.weight"))?;
    Ok(format!("{prefix}ForCausalLM"))
}
