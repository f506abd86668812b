//! t5 (and T5 v1.1 with gated feed-forward).
//!
//! Computes: a shared token embedding, an encoder of N × (RMS-style T5LayerNorm →
//! self-attention, T5LayerNorm → feed-forward) and a decoder of M blocks that add
//! cross-attention, each stack ending in a T5LayerNorm; `T5ForConditionalGeneration`
//! adds the LM head, which transformers 5.x always ties to the shared embedding.
//! Weights: no biases anywhere; q/k/v `d_model → heads × d_kv`, o back; a relative
//! position table `[num_buckets, heads]` in the first block of each stack only;
//! feed-forward `wi`/`wo`, or `wi_0`/`wi_1`/`wo` when `feed_forward_proj` is `gated-*`.
//! Mirrors: `modeling_t5.py` of transformers 5.x.
use crate::arch::{ArchKind, HeadKind, NormKind, Position, TransformerArch};
use crate::error::Result;
use crate::weight::dim;

use super::config::Cfg;
use super::modules::{embedding_row, heads_dim, linear, lm_head, norm_row, Modules};

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d_model = cfg.dim_alias(&["d_model", "hidden_size"], 512)?;
    let layers = cfg.layers(&["num_layers", "num_hidden_layers"], 6)?;
    let proj = cfg.string("feed_forward_proj", "relu")?;
    let parts: Vec<&str> = proj.split('-').collect();
    if (parts.len() > 1 && parts[0] != "gated") || parts.len() > 2 {
        return Err(cfg.invalid(format!(
            "key 'feed_forward_proj' must be an activation or 'gated-' and an activation, got '{proj}'"
        )));
    }
    let gated = parts[0] == "gated";
    let activation = if proj == "gated-gelu" {
        "gelu_new"
    } else {
        parts[parts.len() - 1]
    };
    let heads = cfg.dim_alias(&["num_heads", "num_attention_heads"], 8)?;
    let buckets = cfg.dim("relative_attention_num_buckets", 32)?;
    let vocab = cfg.dim("vocab_size", 32128)?;
    let decoder_layers = cfg.layers(&["num_decoder_layers"], layers)?;
    let head_dim = cfg.dim_alias(&["d_kv", "head_dim"], 64)?;
    let inter = cfg.dim("d_ff", 2048)?;
    Ok(TransformerArch {
        kind: ArchKind::EncoderDecoder,
        head,
        vocab_size: vocab,
        num_decoder_layers: decoder_layers,
        head_dim,
        gated_mlp: gated,
        activation: activation.to_string(),
        norm: NormKind::RmsNorm,
        qkv_bias: false,
        o_bias: false,
        mlp_bias: false,
        position: Position::RelativeBuckets {
            num_buckets: buckets,
            max_distance: cfg.dim("relative_attention_max_distance", 128)?,
        },
        // T5Config.__post_init__ forces it: the flag only decides output scaling.
        tie_word_embeddings: true,
        cross_attention: true,
        // `kwargs.pop("tie_word_embeddings", None) is not False`
        scale_decoder_outputs: cfg.is_null("tie_word_embeddings")
            || cfg.flag("tie_word_embeddings", true)?,
        ..TransformerArch::encoder("t5", d_model, layers, heads, inter)
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    embedding_row(
        m,
        "shared".to_string(),
        "Embedding",
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;
    stack(a, m, "encoder", a.num_layers)?;
    stack(a, m, "decoder", a.num_decoder_layers)?;
    if a.head.has_lm_head() {
        lm_head(m, "lm_head", a, "shared.weight")?;
        return Ok("T5ForConditionalGeneration".to_string());
    }
    Ok("T5Model".to_string())
}

fn attention(
    a: &TransformerArch,
    m: &mut Modules,
    name: String,
    relative_bias: bool,
) -> Result<()> {
    let d_model = dim(a.hidden_size, "d_model");
    let inner = heads_dim(a.num_heads, a.head_dim, "heads×d_kv", m.location())?;
    let mut w = Vec::new();
    for proj in ["q.", "k.", "v."] {
        linear(&mut w, proj, d_model.clone(), inner.clone(), false);
    }
    linear(&mut w, "o.", inner, d_model, false);
    if let (true, Position::RelativeBuckets { num_buckets, .. }) = (relative_bias, a.position) {
        let table = vec![dim(num_buckets, "buckets"), dim(a.num_heads, "heads")];
        w.push(crate::weight::Weight::new(
            "relative_attention_bias.weight",
            table,
        ));
    }
    m.add(name, "T5Attention", w)
}

fn stack(a: &TransformerArch, m: &mut Modules, stack: &str, layers: u64) -> Result<()> {
    let decoder = stack == "decoder";
    let d_model = dim(a.hidden_size, "d_model");
    let d_ff = dim(a.intermediate_size, "d_ff");
    for i in 0..layers {
        let block = format!("{stack}.block.{i}.layer.");
        attention(a, m, format!("{block}0.SelfAttention"), i == 0)?;
        norm_row(
            m,
            format!("{block}0.layer_norm"),
            "T5LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
        if decoder {
            attention(a, m, format!("{block}1.EncDecAttention"), false)?;
            norm_row(
                m,
                format!("{block}1.layer_norm"),
                "T5LayerNorm",
                a.hidden_size,
                a.norm,
            )?;
        }
        let ff = if decoder { 2 } else { 1 };
        let mut w = Vec::new();
        let class = if a.gated_mlp {
            linear(&mut w, "wi_0.", d_model.clone(), d_ff.clone(), false);
            linear(&mut w, "wi_1.", d_model.clone(), d_ff.clone(), false);
            "T5DenseGatedActDense"
        } else {
            linear(&mut w, "wi.", d_model.clone(), d_ff.clone(), false);
            "T5DenseActDense"
        };
        linear(&mut w, "wo.", d_ff.clone(), d_model.clone(), false);
        m.add(format!("{block}{ff}.DenseReluDense"), class, w)?;
        norm_row(
            m,
            format!("{block}{ff}.layer_norm"),
            "T5LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
    }
    norm_row(
        m,
        format!("{stack}.final_layer_norm"),
        "T5LayerNorm",
        a.hidden_size,
        a.norm,
    )
}
