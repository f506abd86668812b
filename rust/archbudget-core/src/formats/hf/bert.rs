//! Bert-like encoders: bert, roberta, distilbert, and roberta's copies under other names
//! (xlm-roberta, camembert, data2vec-text: the same modules, their own class names).
//!
//! Computes: word + learned position (+ token-type) embeddings and a LayerNorm,
//! N × post-norm blocks (self-attention + LayerNorm, [cross-attention], MLP + LayerNorm),
//! then the `AutoModel` pooler (bert/roberta: `hidden → hidden` + tanh) or the LM head:
//! a `dense + LayerNorm` transform and a vocabulary projection tied to the word embedding
//! by default, with its own vocabulary bias.
//! Weights: every Linear is biased; q/k/v have `heads × ⌊hidden / heads⌋` outputs.
//! With `tie_word_embeddings` false bert/roberta keep the head's `bias` and the decoder's
//! bias as two tensors, as transformers then ties neither.
//! Mirrors: `modeling_bert.py` (`BertModel`, `BertLMHeadModel`), `modeling_roberta.py`
//! (`RobertaForCausalLM`, whose positions are used as is), `modeling_distilbert.py`
//! (`DistilBertForMaskedLM`, the type having no causal-LM class) of transformers 5.x.
use crate::arch::{HeadKind, MlmHead, Position, TransformerArch};
use crate::error::Result;
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{embedding_row, heads_dim, linear, norm_row, Modules};

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let distil = cfg.model_type == "distilbert";
    let (hidden, heads, layers, inter, max_positions, type_vocab, vocab, activation);
    if distil {
        hidden = cfg.dim_alias(&["dim", "hidden_size"], 768)?;
        heads = cfg.dim_alias(&["n_heads", "num_attention_heads"], 12)?;
        layers = cfg.layers(&["n_layers", "num_hidden_layers"], 6)?;
        inter = cfg.dim("hidden_dim", 4 * 768)?;
        max_positions = cfg.dim("max_position_embeddings", 512)?;
        type_vocab = 0;
        vocab = cfg.dim("vocab_size", 30522)?;
        activation = cfg.string("activation", "gelu")?;
        cfg.require_divisible(("dim", hidden), ("n_heads", heads))?;
    } else {
        hidden = cfg.dim("hidden_size", 768)?;
        heads = cfg.dim("num_attention_heads", 12)?;
        layers = cfg.layers(&["num_hidden_layers"], 12)?;
        inter = cfg.dim("intermediate_size", 3072)?;
        max_positions = cfg.dim("max_position_embeddings", 512)?;
        type_vocab = cfg.count("type_vocab_size", 2)?;
        vocab = cfg.dim(
            "vocab_size",
            if cfg.model_type == "roberta" {
                50265
            } else {
                30522
            },
        )?;
        activation = cfg.string("hidden_act", "gelu")?;
        // transformers only skips this check for configs carrying `embedding_size`.
        if !cfg.has("embedding_size") {
            cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
        }
    }
    if hidden < heads {
        return Err(cfg.invalid(format!(
            "hidden_size ({hidden}) is smaller than num_attention_heads ({heads})"
        )));
    }
    let cross_attention = !distil && cfg.flag("add_cross_attention", false)?;
    if cross_attention && !cfg.flag("is_decoder", false)? {
        return Err(cfg.invalid("add_cross_attention needs is_decoder: true"));
    }
    let tie = cfg.flag("tie_word_embeddings", true)?;
    Ok(TransformerArch {
        head,
        vocab_size: vocab,
        activation,
        norms_per_layer: if cross_attention { 3 } else { 2 },
        final_norm: false,
        pre_norm: false,
        position: Position::Learned {
            rows: max_positions,
        },
        max_positions,
        type_vocab_size: type_vocab,
        tie_word_embeddings: tie,
        cross_attention,
        pooler: (head == HeadKind::Base && !distil).then_some(hidden),
        mlm_head: head.has_lm_head().then_some(MlmHead {
            untied_bias: !distil && !tie,
        }),
        ..TransformerArch::encoder(cfg.model_type, hidden, layers, heads, inter)
    })
}

/// Class-name prefix and the attribute holding the base model inside the LM-head class.
fn names(model_type: &str) -> (&'static str, &'static str) {
    match model_type {
        "roberta" => ("Roberta", "roberta."),
        "xlm-roberta" => ("XLMRoberta", "roberta."),
        "camembert" => ("Camembert", "roberta."),
        "data2vec-text" => ("Data2VecText", "data2vec_text."),
        "distilbert" => ("DistilBert", "distilbert."),
        _ => ("Bert", "bert."),
    }
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let (p, base) = names(&a.model_type);
    let root = if a.head.has_lm_head() { base } else { "" };
    let ln = a.norm;
    let word = format!("{root}embeddings.word_embeddings");
    embedding_row(
        m,
        word.clone(),
        "Embedding",
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;
    let positions = format!("{root}embeddings.position_embeddings");
    embedding_row(
        m,
        positions,
        "Embedding",
        dim(a.max_positions, "positions"),
        a.hidden_size,
    )?;
    if a.model_type != "distilbert" {
        let types = format!("{root}embeddings.token_type_embeddings");
        embedding_row(
            m,
            types,
            "Embedding",
            dim(a.type_vocab_size, "type_vocab"),
            a.hidden_size,
        )?;
    }
    norm_row(
        m,
        format!("{root}embeddings.LayerNorm"),
        "LayerNorm",
        a.hidden_size,
        ln,
    )?;
    if a.model_type == "distilbert" {
        distil_layers(a, m, root)?;
    } else {
        bert_layers(a, m, root, p)?;
    }
    match a.head {
        HeadKind::Base => {
            if let Some(out) = a.pooler {
                let mut w = Vec::new();
                linear(
                    &mut w,
                    "dense.",
                    dim(a.hidden_size, "hidden"),
                    dim(out, "hidden"),
                    true,
                );
                m.add(format!("{root}pooler"), &format!("{p}Pooler"), w)?;
            }
            Ok(format!("{p}Model"))
        }
        _ => lm_head(a, m, &format!("{word}.weight")),
    }
}

pub(super) fn bert_layers(a: &TransformerArch, m: &mut Modules, root: &str, p: &str) -> Result<()> {
    let loc = m.location();
    let hidden = dim(a.hidden_size, "hidden");
    let all_heads = heads_dim(a.num_heads, a.head_dim, "heads×head_dim", loc)?;
    let attention = |w: &mut Vec<Weight>| {
        for name in ["self.query.", "self.key.", "self.value."] {
            linear(w, name, hidden.clone(), all_heads.clone(), true);
        }
        linear(w, "output.dense.", hidden.clone(), hidden.clone(), true);
        super::modules::norm(w, "output.LayerNorm.", a.hidden_size, a.norm);
    };
    for i in 0..a.num_layers {
        let layer = format!("{root}encoder.layer.{i}.");
        let mut w = Vec::new();
        attention(&mut w);
        m.add(format!("{layer}attention"), &format!("{p}Attention"), w)?;
        if a.cross_attention {
            let mut w = Vec::new();
            attention(&mut w);
            m.add(
                format!("{layer}crossattention"),
                &format!("{p}Attention"),
                w,
            )?;
        }
        let inter = dim(a.intermediate_size, "intermediate");
        let mut w = Vec::new();
        linear(&mut w, "dense.", hidden.clone(), inter.clone(), true);
        m.add(
            format!("{layer}intermediate"),
            &format!("{p}Intermediate"),
            w,
        )?;
        let mut w = Vec::new();
        linear(&mut w, "dense.", inter, hidden.clone(), true);
        super::modules::norm(&mut w, "LayerNorm.", a.hidden_size, a.norm);
        m.add(format!("{layer}output"), &format!("{p}Output"), w)?;
    }
    Ok(())
}

fn distil_layers(a: &TransformerArch, m: &mut Modules, root: &str) -> Result<()> {
    let hidden = dim(a.hidden_size, "dim");
    for i in 0..a.num_layers {
        let layer = format!("{root}transformer.layer.{i}.");
        let mut w = Vec::new();
        for name in ["q_lin.", "k_lin.", "v_lin.", "out_lin."] {
            linear(&mut w, name, hidden.clone(), hidden.clone(), true);
        }
        m.add(format!("{layer}attention"), "DistilBertSelfAttention", w)?;
        norm_row(
            m,
            format!("{layer}sa_layer_norm"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
        let inter = dim(a.intermediate_size, "hidden_dim");
        let mut w = Vec::new();
        linear(&mut w, "lin1.", hidden.clone(), inter.clone(), true);
        linear(&mut w, "lin2.", inter, hidden.clone(), true);
        m.add(format!("{layer}ffn"), "FFN", w)?;
        norm_row(
            m,
            format!("{layer}output_layer_norm"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
    }
    Ok(())
}

/// The transform (`dense` + LayerNorm) and the biased vocabulary projection.
fn lm_head(a: &TransformerArch, m: &mut Modules, word: &str) -> Result<String> {
    let hidden = dim(a.hidden_size, "hidden");
    let vocab = dim(a.vocab_size, "vocab");
    let (transform, dense, norm, projection, projection_class, class) = match a.model_type.as_str()
    {
        "roberta" | "xlm-roberta" | "camembert" | "data2vec-text" => {
            let (head_class, class) = match a.model_type.as_str() {
                "xlm-roberta" => ("XLMRobertaLMHead", "XLMRobertaForCausalLM"),
                "camembert" => ("CamembertLMHead", "CamembertForCausalLM"),
                "data2vec-text" => ("Data2VecTextLMHead", "Data2VecTextForCausalLM"),
                _ => ("RobertaLMHead", "RobertaForCausalLM"),
            };
            (
                "",
                "lm_head.dense",
                "lm_head.layer_norm",
                "lm_head",
                head_class,
                class,
            )
        }
        "distilbert" => (
            "",
            "vocab_transform",
            "vocab_layer_norm",
            "vocab_projector",
            "Linear",
            "DistilBertForMaskedLM",
        ),
        _ => (
            "cls.predictions.transform",
            "dense",
            "LayerNorm",
            "cls.predictions",
            "BertLMPredictionHead",
            "BertLMHeadModel",
        ),
    };
    if transform.is_empty() {
        let mut w = Vec::new();
        linear(&mut w, "", hidden.clone(), hidden.clone(), true);
        m.add(dense.to_string(), "Linear", w)?;
        norm_row(m, norm.to_string(), "LayerNorm", a.hidden_size, a.norm)?;
    } else {
        let mut w = Vec::new();
        linear(
            &mut w,
            &format!("{dense}."),
            hidden.clone(),
            hidden.clone(),
            true,
        );
        super::modules::norm(&mut w, &format!("{norm}."), a.hidden_size, a.norm);
        m.add(transform.to_string(), "BertPredictionHeadTransform", w)?;
    }
    // distilbert's projector is a plain biased Linear; bert/roberta keep a separate
    // `bias` tensor that is the decoder's bias only when the head is tied.
    let separate_bias = a.model_type != "distilbert";
    let mut w = Vec::new();
    if separate_bias {
        w.push(Weight::new("bias", vec![vocab.clone()]));
    }
    let prefix = if separate_bias { "decoder." } else { "" };
    if a.tie_word_embeddings {
        if !separate_bias {
            w.push(Weight::new("bias", vec![vocab]));
        }
        m.add_tied(projection.to_string(), projection_class, w, word)?;
    } else {
        linear(&mut w, prefix, hidden, vocab, true);
        m.add(projection.to_string(), projection_class, w)?;
    }
    Ok(class.to_string())
}
