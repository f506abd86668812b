//! albert, electra and fnet: bert's post-norm encoder, each named as its difference.
//!
//! Computes: word, position and token-type embeddings `embedding_size` wide (albert,
//! electra; fnet: hidden) summed and normalised, then
//! - albert: a biased Linear to the hidden width (`embedding_hidden_mapping_in`) and
//!   `num_hidden_groups` groups of `inner_group_num` layers, the depth applying one group
//!   per step (weights held once); pooler; MLM head `dense → act → LayerNorm`
//!   (`embedding_size` wide) and the tied decoder;
//! - electra: `embeddings_project` when `embedding_size` differs from hidden, bert's
//!   layers, no pooler; LM head `generator_predictions` (`dense → gelu → LayerNorm`,
//!   `embedding_size` wide) and the tied `generator_lm_head`;
//! - fnet: a biased `projection` after the embeddings' LayerNorm; each layer's token
//!   mixing is the real part of `fftn` over sequence and hidden axes (no weights) plus a
//!   LayerNorm; pooler (kept by the MLM class too); bert's LM head.
//!
//! Weights: every Linear is biased. With `tie_word_embeddings` false the heads keep
//! their own `bias` beside the decoder's, as bert's do.
//! Mirrors: `modeling_albert.py` (`AlbertModel`, `AlbertForMaskedLM`),
//! `modeling_electra.py` (`ElectraModel`, `ElectraForCausalLM`), `modeling_fnet.py`
//! (`FNetModel`, `FNetForMaskedLM`) of transformers 5.x.
use crate::arch::{BlockDetails, EncoderFamily, HeadKind, MlmHead, Position, TransformerArch};
use crate::error::Result;
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{embedding_row, linear, norm, norm_row, Modules};

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let (family, defaults) = match cfg.model_type {
        "albert" => {
            let groups = cfg.dim("num_hidden_groups", 1)?;
            let inner = cfg.layers(&["inner_group_num"], 1)?;
            // the summary lists every distinct layer
            if groups.saturating_mul(inner) > super::config::MAX_LAYERS {
                return Err(cfg.invalid(format!(
                    "num_hidden_groups × inner_group_num ({groups} × {inner}) exceeds {} layers",
                    super::config::MAX_LAYERS
                )));
            }
            let fam = EncoderFamily::Albert { groups, inner };
            // vocab, embedding, hidden, layers, heads, inter, act, type vocab, dropout
            (fam, (30000, 128, 4096, 12, 64, 16384, "gelu_new", 2))
        }
        "electra" => (
            EncoderFamily::Electra,
            (30522, 128, 256, 12, 4, 1024, "gelu", 2),
        ),
        _ => (
            EncoderFamily::Fnet,
            (32000, 768, 768, 12, 1, 3072, "gelu_new", 4),
        ),
    };
    let (vocab, embed, hidden, layers, heads, inter, act, type_vocab) = defaults;
    let hidden = cfg.dim("hidden_size", hidden)?;
    let embed = match family {
        EncoderFamily::Fnet => hidden,
        _ => cfg.dim("embedding_size", embed)?,
    };
    let heads = match family {
        EncoderFamily::Fnet => 1,
        _ => cfg.dim("num_attention_heads", heads)?,
    };
    if let EncoderFamily::Albert { groups, .. } = family {
        let layers = cfg.dim("num_hidden_layers", layers)?;
        if groups > layers {
            return Err(cfg.invalid(format!(
                "num_hidden_groups ({groups}) exceeds num_hidden_layers ({layers})"
            )));
        }
    }
    if family == EncoderFamily::Electra || !cfg.has("embedding_size") {
        cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    }
    if hidden < heads {
        return Err(cfg.invalid(format!(
            "hidden_size ({hidden}) is smaller than num_attention_heads ({heads})"
        )));
    }
    let max_positions = cfg.dim("max_position_embeddings", 512)?;
    let tie = cfg.flag("tie_word_embeddings", true)?;
    let vocab = cfg.dim("vocab_size", vocab)?;
    let layers = cfg.layers(&["num_hidden_layers"], layers)?;
    let inter = cfg.dim("intermediate_size", inter)?;
    Ok(TransformerArch {
        head,
        vocab_size: vocab,
        embed_dim: embed,
        activation: cfg.string("hidden_act", act)?,
        final_norm: false,
        pre_norm: false,
        position: Position::Learned {
            rows: max_positions,
        },
        max_positions,
        type_vocab_size: cfg.dim("type_vocab_size", type_vocab)?,
        tie_word_embeddings: tie,
        pooler: match (&family, head) {
            (EncoderFamily::Electra, _) => None,
            (EncoderFamily::Albert { .. }, HeadKind::MaskedLm) => None,
            _ => Some(hidden),
        },
        // electra's untied decoder carries the only vocabulary bias
        mlm_head: head.has_lm_head().then_some(MlmHead {
            untied_bias: !tie && family != EncoderFamily::Electra,
        }),
        details: BlockDetails {
            encoder: Some(Box::new(family)),
            ..BlockDetails::default()
        },
        ..TransformerArch::encoder(cfg.model_type, hidden, layers, heads, inter)
    })
}

/// The family an arch of this file was read as.
fn family(a: &TransformerArch) -> &EncoderFamily {
    a.details
        .encoder
        .as_deref()
        .unwrap_or(&EncoderFamily::Electra)
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let (p, base) = match family(a) {
        EncoderFamily::Albert { .. } => ("Albert", "albert."),
        EncoderFamily::Fnet => ("FNet", "fnet."),
        _ => ("Electra", "electra."),
    };
    let root = if a.head.has_lm_head() { base } else { "" };
    let e = a.embed_dim;
    let word = format!("{root}embeddings.word_embeddings");
    let tables = [
        (word.clone(), a.vocab_size, "vocab"),
        (
            format!("{root}embeddings.position_embeddings"),
            a.max_positions,
            "positions",
        ),
        (
            format!("{root}embeddings.token_type_embeddings"),
            a.type_vocab_size,
            "type_vocab",
        ),
    ];
    for (name, rows, label) in tables {
        embedding_row(m, name, "Embedding", dim(rows, label), e)?;
    }
    norm_row(
        m,
        format!("{root}embeddings.LayerNorm"),
        "LayerNorm",
        e,
        a.norm,
    )?;
    let projection = match family(a) {
        EncoderFamily::Albert { .. } => Some("encoder.embedding_hidden_mapping_in"),
        EncoderFamily::Fnet => Some("embeddings.projection"),
        _ => (e != a.hidden_size).then_some("embeddings_project"),
    };
    if let Some(name) = projection {
        let mut w = Vec::new();
        linear(
            &mut w,
            "",
            dim(e, "embedding"),
            dim(a.hidden_size, "hidden"),
            true,
        );
        m.add(format!("{root}{name}"), "Linear", w)?;
    }
    match family(a) {
        EncoderFamily::Albert { groups, inner } => albert_layers(a, m, root, *groups, *inner)?,
        EncoderFamily::Fnet => fnet_layers(a, m, root)?,
        _ => super::bert::bert_layers(a, m, root, p)?,
    }
    if let Some(out) = a.pooler {
        let mut w = Vec::new();
        let (name, class, prefix) = match family(a) {
            EncoderFamily::Fnet => ("pooler", "FNetPooler", "dense."),
            _ => ("pooler", "Linear", ""),
        };
        linear(
            &mut w,
            prefix,
            dim(a.hidden_size, "hidden"),
            dim(out, "hidden"),
            true,
        );
        m.add(format!("{root}{name}"), class, w)?;
    }
    if !a.head.has_lm_head() {
        return Ok(format!("{p}Model"));
    }
    lm_head(a, m, &format!("{word}.weight"))
}

/// The attention of one bert-like layer: q, k, v, the output `dense` and a LayerNorm.
fn attention_weights(a: &TransformerArch, prefix: &str) -> Vec<Weight> {
    let h = || dim(a.hidden_size, "hidden");
    let mut w = Vec::new();
    for name in ["query.", "key.", "value."] {
        linear(&mut w, &format!("{prefix}{name}"), h(), h(), true);
    }
    linear(&mut w, &format!("{prefix}dense."), h(), h(), true);
    norm(
        &mut w,
        &format!("{prefix}LayerNorm."),
        a.hidden_size,
        a.norm,
    );
    w
}

fn albert_layers(
    a: &TransformerArch,
    m: &mut Modules,
    root: &str,
    groups: u64,
    inner: u64,
) -> Result<()> {
    let (h, i) = (a.hidden_size, a.intermediate_size);
    let mut ffn = Vec::new();
    linear(&mut ffn, "", dim(h, "hidden"), dim(i, "intermediate"), true);
    let mut ffn_output = Vec::new();
    linear(
        &mut ffn_output,
        "",
        dim(i, "intermediate"),
        dim(h, "hidden"),
        true,
    );
    let mut ln = Vec::new();
    norm(&mut ln, "", h, a.norm);
    let rows = [
        (
            "attention".to_string(),
            "AlbertAttention",
            attention_weights(a, ""),
        ),
        ("ffn".to_string(), "Linear", ffn),
        ("ffn_output".to_string(), "Linear", ffn_output),
        ("full_layer_layer_norm".to_string(), "LayerNorm", ln),
    ];
    let distinct = crate::error::mul(groups, inner, m.location(), "layer count")?;
    m.add_blocks(
        distinct,
        |k| {
            format!(
                "{root}encoder.albert_layer_groups.{}.albert_layers.{}.",
                k / inner,
                k % inner
            )
        },
        &rows,
    )
}

fn fnet_layers(a: &TransformerArch, m: &mut Modules, root: &str) -> Result<()> {
    let (h, i) = (a.hidden_size, a.intermediate_size);
    let mut fourier = Vec::new();
    norm(&mut fourier, "output.LayerNorm.", h, a.norm);
    let mut inter = Vec::new();
    linear(
        &mut inter,
        "dense.",
        dim(h, "hidden"),
        dim(i, "intermediate"),
        true,
    );
    let mut out = Vec::new();
    linear(
        &mut out,
        "dense.",
        dim(i, "intermediate"),
        dim(h, "hidden"),
        true,
    );
    norm(&mut out, "LayerNorm.", h, a.norm);
    let rows = [
        ("fourier".to_string(), "FNetFourierTransform", fourier),
        ("intermediate".to_string(), "FNetIntermediate", inter),
        ("output".to_string(), "FNetOutput", out),
    ];
    m.add_blocks(a.num_layers, |k| format!("{root}encoder.layer.{k}."), &rows)
}

/// The MLM transform (`dense` to `embed_dim`, act, LayerNorm) and the decoder onto the
/// vocabulary, tied to the word embedding by default.
fn lm_head(a: &TransformerArch, m: &mut Modules, word: &str) -> Result<String> {
    let (h, e, v) = (a.hidden_size, a.embed_dim, a.vocab_size);
    let mut transform = Vec::new();
    linear(
        &mut transform,
        "dense.",
        dim(h, "hidden"),
        dim(e, "embedding"),
        true,
    );
    norm(&mut transform, "LayerNorm.", e, a.norm);
    let bias = || Weight::new("bias", vec![dim(v, "vocab")]);
    let untied_decoder = |w: &mut Vec<Weight>, prefix: &str| {
        linear(w, prefix, dim(e, "embedding"), dim(v, "vocab"), true);
    };
    let (head, class) = match family(a) {
        EncoderFamily::Albert { .. } => {
            // one module: dense, LayerNorm, bias and the decoder
            let mut w = transform;
            w.insert(0, bias());
            (("predictions", "AlbertMLMHead", w), "AlbertForMaskedLM")
        }
        EncoderFamily::Electra => {
            m.add(
                "generator_predictions".to_string(),
                "ElectraGeneratorPredictions",
                transform,
            )?;
            // the decoder's bias is its own
            if a.tie_word_embeddings {
                m.add_tied("generator_lm_head".into(), "Linear", vec![bias()], word)?;
            } else {
                let mut w = Vec::new();
                untied_decoder(&mut w, "");
                m.add("generator_lm_head".into(), "Linear", w)?;
            }
            return Ok("ElectraForCausalLM".to_string());
        }
        _ => {
            m.add(
                "cls.predictions.transform".to_string(),
                "FNetPredictionHeadTransform",
                transform,
            )?;
            (
                ("cls.predictions", "FNetLMPredictionHead", vec![bias()]),
                "FNetForMaskedLM",
            )
        }
    };
    let (name, module_class, mut w) = head;
    if a.tie_word_embeddings {
        m.add_tied(name.to_string(), module_class, w, word)?;
    } else {
        untied_decoder(&mut w, "decoder.");
        m.add(name.to_string(), module_class, w)?;
    }
    Ok(class.to_string())
}
