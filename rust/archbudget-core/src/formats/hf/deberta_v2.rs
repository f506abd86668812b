//! deberta-v2 (DeBERTa-v2 and v3): bert's post-norm encoder with disentangled attention.
//!
//! Computes: word embeddings `embedding_size` wide, plus learned positions when
//! `position_biased_input` and token types when `type_vocab_size` > 0, a bias-free
//! `embed_proj` to the hidden width when the widths differ, a LayerNorm; N layers whose
//! attention adds to q·kᵀ the content-to-position (q · relative keys) and
//! position-to-content (k · relative queries) terms, gathered at each pair's bucketed
//! distance, over a shared `rel_embeddings` table of 2 × span rows (LayerNorm-ed with
//! `norm_rel_ebd: layer_norm`); with `conv_kernel_size` a Conv1d branch after layer 0.
//! No pooler. LM head: `cls.predictions` (legacy: `dense` to `embedding_size`, act,
//! LayerNorm, a decoder tied to the word embedding) or `lm_predictions.lm_head`
//! (`dense`, act, LayerNorm, `bias`; the product with the word embedding is a matmul).
//! Weights: q/k/v `hidden → heads × attention_head_size`, biased; `pos_key_proj` (c2p)
//! and `pos_query_proj` (p2c) of the same shape unless `share_att_key`.
//! Mirrors: `modeling_deberta_v2.py` (`DebertaV2Model`, `DebertaV2ForMaskedLM`) of
//! transformers 5.x; model_type `deberta-v2`.
use crate::arch::{
    BlockDetails, Disentangled, EncoderFamily, HeadKind, MlmHead, Position, TransformerArch,
};
use crate::error::Result;
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{embedding_row, heads_dim, linear, norm, norm_row, Modules};

/// A signed integer key where -1 means "unset" (`max_relative_positions`,
/// `position_buckets`): `None` unless positive.
fn positive(cfg: &Cfg, key: &str, default: f64) -> Result<Option<u64>> {
    let v = cfg.float(key, None, default)?;
    if v.fract() != 0.0 {
        return Err(cfg.invalid(format!("key '{key}' must be an integer, got {v}")));
    }
    Ok((v >= 1.0).then_some(v as u64))
}

/// `pos_att_type`: "p2c|c2p" or a list of those names.
fn pos_att_types(cfg: &Cfg) -> Result<(bool, bool)> {
    let names: Vec<String> = match cfg.string("pos_att_type", "") {
        Ok(s) => s
            .to_lowercase()
            .split('|')
            .map(|x| x.trim().to_string())
            .collect(),
        Err(_) => cfg
            .strings("pos_att_type")?
            .unwrap_or_default()
            .iter()
            .map(|x| x.trim().to_lowercase())
            .collect(),
    };
    Ok((
        names.iter().any(|n| n == "c2p"),
        names.iter().any(|n| n == "p2c"),
    ))
}

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let hidden = cfg.dim("hidden_size", 1536)?;
    let heads = cfg.dim("num_attention_heads", 24)?;
    cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    let head_dim = cfg.dim("attention_head_size", hidden / heads)?;
    let max_positions = cfg.dim("max_position_embeddings", 512)?;
    let relative = cfg.flag("relative_attention", false)?;
    let (c2p, p2c) = pos_att_types(cfg)?;
    let max_relative = positive(cfg, "max_relative_positions", -1.0)?.unwrap_or(max_positions);
    let att_span = positive(cfg, "position_buckets", -1.0)?.unwrap_or(max_relative);
    let conv = match cfg.count("conv_kernel_size", 0)? {
        0 => None,
        k => Some((
            k,
            cfg.dim("conv_groups", 1)?,
            cfg.string("conv_act", "tanh")?,
        )),
    };
    let rel_norm = cfg
        .string("norm_rel_ebd", "none")?
        .to_lowercase()
        .split('|')
        .any(|x| x.trim() == "layer_norm");
    let biased_positions = cfg.flag("position_biased_input", true)?;
    let tie = cfg.flag("tie_word_embeddings", true)?;
    let legacy_head = cfg.flag("legacy", true)?;
    let disentangled = Disentangled {
        relative,
        c2p,
        p2c,
        share_att_key: cfg.flag("share_att_key", false)?,
        att_span,
        rel_norm,
        conv,
        legacy_head,
    };
    let vocab = cfg.dim("vocab_size", 128100)?;
    let embed = cfg.dim("embedding_size", hidden)?;
    let layers = cfg.layers(&["num_hidden_layers"], 24)?;
    let inter = cfg.dim("intermediate_size", 6144)?;
    Ok(TransformerArch {
        head,
        vocab_size: vocab,
        embed_dim: embed,
        head_dim,
        activation: cfg.string("hidden_act", "gelu")?,
        final_norm: false,
        pre_norm: false,
        position: match biased_positions {
            true => Position::Learned {
                rows: max_positions,
            },
            false => Position::None,
        },
        max_positions,
        type_vocab_size: cfg.count("type_vocab_size", 0)?,
        tie_word_embeddings: tie,
        mlm_head: head.has_lm_head().then_some(MlmHead {
            untied_bias: legacy_head && !tie,
        }),
        details: BlockDetails {
            encoder: Some(Box::new(EncoderFamily::DebertaV2(disentangled))),
            ..BlockDetails::default()
        },
        ..TransformerArch::encoder(cfg.model_type, hidden, layers, heads, inter)
    })
}

/// The disentangled attention of an arch read here.
pub fn disentangled(a: &TransformerArch) -> Option<&Disentangled> {
    match a.details.encoder.as_deref() {
        Some(EncoderFamily::DebertaV2(d)) => Some(d),
        _ => None,
    }
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let Some(d) = disentangled(a) else {
        return Err(crate::Error::invalid(
            m.location(),
            "no disentangled attention described",
        ));
    };
    let root = if a.head.has_lm_head() { "deberta." } else { "" };
    let (h, e) = (a.hidden_size, a.embed_dim);
    let word = format!("{root}embeddings.word_embeddings");
    embedding_row(m, word.clone(), "Embedding", dim(a.vocab_size, "vocab"), e)?;
    if let Position::Learned { rows } = a.position {
        let name = format!("{root}embeddings.position_embeddings");
        embedding_row(m, name, "Embedding", dim(rows, "positions"), e)?;
    }
    if a.type_vocab_size > 0 {
        let name = format!("{root}embeddings.token_type_embeddings");
        embedding_row(
            m,
            name,
            "Embedding",
            dim(a.type_vocab_size, "type_vocab"),
            e,
        )?;
    }
    if e != h {
        let mut w = Vec::new();
        linear(&mut w, "", dim(e, "embedding"), dim(h, "hidden"), false);
        m.add(format!("{root}embeddings.embed_proj"), "Linear", w)?;
    }
    norm_row(
        m,
        format!("{root}embeddings.LayerNorm"),
        "LayerNorm",
        h,
        a.norm,
    )?;

    let hd = || dim(h, "hidden");
    let all = heads_dim(a.num_heads, a.head_dim, "heads×head_size", m.location())?;
    let mut attention = Vec::new();
    let mut projections = vec!["self.query_proj.", "self.key_proj.", "self.value_proj."];
    if d.relative && !d.share_att_key {
        projections.extend(d.c2p.then_some("self.pos_key_proj."));
        projections.extend(d.p2c.then_some("self.pos_query_proj."));
    }
    for name in projections {
        linear(&mut attention, name, hd(), all.clone(), true);
    }
    linear(&mut attention, "output.dense.", hd(), hd(), true);
    norm(&mut attention, "output.LayerNorm.", h, a.norm);
    let inter = dim(a.intermediate_size, "intermediate");
    let mut up = Vec::new();
    linear(&mut up, "dense.", hd(), inter.clone(), true);
    let mut down = Vec::new();
    linear(&mut down, "dense.", inter, hd(), true);
    norm(&mut down, "LayerNorm.", h, a.norm);
    let rows = [
        ("attention".to_string(), "DebertaV2Attention", attention),
        ("intermediate".to_string(), "DebertaV2Intermediate", up),
        ("output".to_string(), "DebertaV2Output", down),
    ];
    m.add_blocks(a.num_layers, |i| format!("{root}encoder.layer.{i}."), &rows)?;
    if d.relative {
        let rows = crate::error::mul(2, d.att_span, m.location(), "relative positions")?;
        let name = format!("{root}encoder.rel_embeddings");
        embedding_row(m, name, "Embedding", dim(rows, "2 × span"), h)?;
    }
    if d.rel_norm {
        norm_row(
            m,
            format!("{root}encoder.LayerNorm"),
            "LayerNorm",
            h,
            a.norm,
        )?;
    }
    if let Some((kernel, groups, _)) = &d.conv {
        if h % groups != 0 {
            return Err(crate::Error::invalid(
                m.location(),
                format!("hidden_size ({h}) must be a multiple of conv_groups ({groups})"),
            ));
        }
        let w = vec![
            Weight::new(
                "conv.weight",
                vec![
                    hd(),
                    dim(h / groups, "hidden / groups"),
                    dim(*kernel, "kernel"),
                ],
            ),
            Weight::new("conv.bias", vec![hd()]),
        ];
        m.add(format!("{root}encoder.conv.conv"), "Conv1d", w)?;
        norm_row(
            m,
            format!("{root}encoder.conv.LayerNorm"),
            "LayerNorm",
            h,
            a.norm,
        )?;
    }
    if !a.head.has_lm_head() {
        return Ok("DebertaV2Model".to_string());
    }
    let bias = || Weight::new("bias", vec![dim(a.vocab_size, "vocab")]);
    if !d.legacy_head {
        let mut w = Vec::new();
        linear(&mut w, "dense.", hd(), hd(), true);
        norm(&mut w, "LayerNorm.", h, a.norm);
        w.push(bias());
        m.add(
            "lm_predictions.lm_head".into(),
            "DebertaV2LMPredictionHead",
            w,
        )?;
        return Ok("DebertaV2ForMaskedLM".to_string());
    }
    let mut transform = Vec::new();
    linear(&mut transform, "dense.", hd(), dim(e, "embedding"), true);
    norm(&mut transform, "LayerNorm.", e, a.norm);
    m.add(
        "cls.predictions.transform".into(),
        "LegacyDebertaV2PredictionHeadTransform",
        transform,
    )?;
    let mut w = vec![bias()];
    let class = "LegacyDebertaV2LMPredictionHead";
    if a.tie_word_embeddings {
        m.add_tied(
            "cls.predictions".into(),
            class,
            w,
            &format!("{word}.weight"),
        )?;
    } else {
        linear(
            &mut w,
            "decoder.",
            dim(e, "embedding"),
            dim(a.vocab_size, "vocab"),
            true,
        );
        m.add("cls.predictions".into(), class, w)?;
    }
    Ok("DebertaV2ForMaskedLM".to_string())
}
