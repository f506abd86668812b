//! esm (ESM-2 protein language models): bert's embeddings and layer modules run
//! pre-norm, as a diff against bert:
//! - embeddings: word and, when `position_embedding_type` is "absolute", learned
//!   position tables (rotary otherwise, one `inv_freq` buffer), no token types; a
//!   LayerNorm only with `emb_layer_norm_before`;
//! - each `EsmLayer`: the attention's `LayerNorm` before q/k/v (`attention.LayerNorm`),
//!   the feed-forward's before `intermediate` (`LayerNorm`), residuals after each; the
//!   encoder ends in `emb_layer_norm_after`;
//! - `EsmModel` holds a pooler (bare model only) and a contact-prediction head
//!   (`regression`: `layers × heads → 1`, biased) that `forward` never runs;
//! - the masked LM's `EsmLMHead`: `dense`, GELU, `layer_norm`, an unbiased `decoder`
//!   tied to the word embeddings by default, and its own `bias` added after.
//!
//! esm has no causal-LM class: `causal_lm` is `EsmForMaskedLM`.
//! Mirrors `modeling_esm.py` of transformers 5.x.
use crate::arch::{HeadKind, MlmHead, Position, TransformerArch};
use crate::error::Result;
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{embedding_row, heads_dim, linear, norm, norm_row, Modules};

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let hidden = cfg.dim("hidden_size", 768)?;
    let heads = cfg.dim("num_attention_heads", 12)?;
    let layers = cfg.layers(&["num_hidden_layers"], 12)?;
    let max_positions = cfg.dim("max_position_embeddings", 1026)?;
    // transformers' EsmConfig has no default vocabulary
    let vocab = cfg
        .dim_opt("vocab_size")?
        .ok_or_else(|| cfg.invalid("esm needs 'vocab_size' (EsmConfig has no default)"))?;
    cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    let position = match cfg.string("position_embedding_type", "absolute")?.as_str() {
        "absolute" => Position::Learned {
            rows: max_positions,
        },
        "rotary" => Position::Rotary,
        other => {
            return Err(cfg.invalid(format!(
                "key 'position_embedding_type' must be \"absolute\" or \"rotary\", got \"{other}\""
            )))
        }
    };
    let details = crate::arch::BlockDetails {
        embed_norm: cfg.flag("emb_layer_norm_before", false)?,
        ..Default::default()
    };
    let inter = cfg.dim("intermediate_size", 3072)?;
    Ok(TransformerArch {
        head,
        vocab_size: vocab,
        // `modeling_esm.gelu`: the erf form, written out
        activation: "gelu".to_string(),
        position,
        max_positions,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", true)?,
        pooler: (head == HeadKind::Base).then_some(hidden),
        mlm_head: head.has_lm_head().then_some(MlmHead { untied_bias: false }),
        details,
        ..TransformerArch::encoder(cfg.model_type, hidden, layers, heads, inter)
    })
}

/// Parameters of `EsmContactPredictionHead.regression`, built but never run.
pub fn contact_head_params(a: &TransformerArch) -> u64 {
    a.num_layers * a.num_heads + 1
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let root = if a.head.has_lm_head() { "esm." } else { "" };
    let hidden = dim(a.hidden_size, "hidden");
    let word = format!("{root}embeddings.word_embeddings");
    embedding_row(
        m,
        word.clone(),
        "Embedding",
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;
    if a.details.embed_norm {
        norm_row(
            m,
            format!("{root}embeddings.layer_norm"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
    }
    if let Position::Learned { rows } = a.position {
        let positions = format!("{root}embeddings.position_embeddings");
        embedding_row(
            m,
            positions,
            "Embedding",
            dim(rows, "positions"),
            a.hidden_size,
        )?;
    }
    let all_heads = heads_dim(a.num_heads, a.head_dim, "heads×head_dim", m.location())?;
    let inter = dim(a.intermediate_size, "intermediate");
    for i in 0..a.num_layers {
        let layer = format!("{root}encoder.layer.{i}.");
        let mut w = Vec::new();
        for name in ["self.query.", "self.key.", "self.value."] {
            linear(&mut w, name, hidden.clone(), all_heads.clone(), true);
        }
        linear(
            &mut w,
            "output.dense.",
            all_heads.clone(),
            hidden.clone(),
            true,
        );
        norm(&mut w, "LayerNorm.", a.hidden_size, a.norm);
        m.add(format!("{layer}attention"), "EsmAttention", w)?;
        let mut w = Vec::new();
        linear(&mut w, "dense.", hidden.clone(), inter.clone(), true);
        m.add(format!("{layer}intermediate"), "EsmIntermediate", w)?;
        let mut w = Vec::new();
        linear(&mut w, "dense.", inter.clone(), hidden.clone(), true);
        m.add(format!("{layer}output"), "EsmOutput", w)?;
        norm_row(
            m,
            format!("{layer}LayerNorm"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
    }
    norm_row(
        m,
        format!("{root}encoder.emb_layer_norm_after"),
        "LayerNorm",
        a.hidden_size,
        a.norm,
    )?;
    if a.head == HeadKind::Base {
        let mut w = Vec::new();
        linear(&mut w, "dense.", hidden.clone(), hidden.clone(), true);
        m.add(format!("{root}pooler"), "EsmPooler", w)?;
    }
    let mut w = Vec::new();
    linear(
        &mut w,
        "regression.",
        dim(a.num_layers * a.num_heads, "layers×heads"),
        dim(1, "one"),
        true,
    );
    m.add(format!("{root}contact_head"), "EsmContactPredictionHead", w)?;
    if a.head == HeadKind::Base {
        return Ok("EsmModel".to_string());
    }
    let vocab = dim(a.vocab_size, "vocab");
    let mut w = Vec::new();
    linear(&mut w, "dense.", hidden.clone(), hidden.clone(), true);
    norm(&mut w, "layer_norm.", a.hidden_size, a.norm);
    w.push(Weight::new("bias", vec![vocab.clone()]));
    m.add("lm_head".to_string(), "EsmLMHead", w)?;
    if a.tie_word_embeddings {
        m.add_tied(
            "lm_head.decoder".to_string(),
            "Linear",
            Vec::new(),
            &format!("{word}.weight"),
        )?;
    } else {
        let mut w = Vec::new();
        linear(&mut w, "", hidden, vocab, false);
        m.add("lm_head.decoder".to_string(), "Linear", w)?;
    }
    Ok("EsmForMaskedLM".to_string())
}
