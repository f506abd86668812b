//! t5gemma: an encoder-decoder of two Gemma 2 stacks, each described by its own module
//! config (`encoder`, `decoder`: widths, heads, layers and windows of their own).
//!
//! Computes: in each stack its own token embedding (`nn.Embedding`, times
//! `sqrt(hidden_size)` in the forward), dropout, Gemma 2 blocks (RMSNorm `1 + w` before
//! and after each sub-layer: self-attention with rotary q/k, grouped kv heads, scores
//! scaled by `query_pre_attn_scalar**-0.5` and tanh-softcapped by
//! `attn_logit_softcapping`, sliding or full as `layer_types` says (default: every odd
//! layer full); in the decoder a causal self-attention and a cross-attention on the
//! encoder's output; a gated MLP), a final RMSNorm and dropout.
//! `T5GemmaForConditionalGeneration` adds `lm_head.out_proj` (decoder width → decoder
//! vocabulary), tied to the decoder's table when `tie_word_embeddings` (default true),
//! then softcaps the logits by the decoder's `final_logit_softcapping`.
//! Weights: q/k/v/o of the attention with biases when `attention_bias`; the
//! cross-attention's k and v read the encoder's width (`cross_attention_hidden_size`,
//! which `T5GemmaConfig` sets to it); gate/up/down without biases; one weight per RMSNorm.
//! Buffers: each stack's rotary `inv_freq` and `original_inv_freq` (head_dim / 2 each).
//! Mirrors: `modeling_t5gemma.py` and `configuration_t5gemma.py` of transformers 5.24.
use serde_json::Value;

use crate::arch::{
    ArchKind, AttentionSpan, HeadKind, LayerAttention, NormKind, Position, TransformerArch,
};
use crate::error::Result;
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::layer_kinds::layer_types;
use super::modules::{embedding_row, heads_dim, linear, norm, Modules};
use super::vlm::sub_config;

/// One stack's module config (`T5GemmaModuleConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemmaStack {
    pub vocab: u64,
    pub hidden: u64,
    pub inter: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    /// One entry per layer: full, or sliding over `sliding_window` positions.
    pub layers: Vec<LayerAttention>,
    pub bias: bool,
    pub activation: String,
    /// `attn_logit_softcapping` is set (tanh on every score).
    pub attn_softcap: bool,
    /// `final_logit_softcapping` is set (tanh on the logits; the decoder's is read).
    pub final_softcap: bool,
}

impl GemmaStack {
    fn read(cfg: &Cfg) -> Result<GemmaStack> {
        let hidden = cfg.dim("hidden_size", 2304)?;
        let heads = cfg.dim("num_attention_heads", 8)?;
        // `validate_architecture` refuses a width the heads do not divide
        cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
        let layers = cfg.layers(&["num_hidden_layers"], 26)?;
        let window = cfg.dim("sliding_window", 4096)?;
        let kinds = layer_types(cfg, layers, &["full_attention", "sliding_attention"])?;
        let layers = (0..layers as usize)
            .map(|i| {
                // `__post_init__`: "sliding_attention" if (i + 1) % 2 else "full_attention"
                let sliding = match &kinds {
                    Some(k) => k[i] == "sliding_attention",
                    None => (i + 1) % 2 == 1,
                };
                LayerAttention {
                    span: match sliding {
                        true => AttentionSpan::Sliding(window),
                        false => AttentionSpan::Full,
                    },
                    rotary: true,
                }
            })
            .collect();
        Ok(GemmaStack {
            vocab: cfg.dim("vocab_size", 256000)?,
            hidden,
            inter: cfg.dim("intermediate_size", 9216)?,
            heads,
            kv_heads: cfg.dim("num_key_value_heads", 4)?,
            head_dim: cfg.dim("head_dim", 256)?,
            layers,
            bias: cfg.flag("attention_bias", false)?,
            activation: cfg.string("hidden_activation", "gelu_pytorch_tanh")?,
            attn_softcap: !cfg.is_null("attn_logit_softcapping"),
            final_softcap: !cfg.is_null("final_logit_softcapping"),
        })
    }

    pub fn num_layers(&self) -> u64 {
        self.layers.len() as u64
    }
}

/// Both stacks of a t5gemma model and what the model adds around them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct T5Gemma {
    pub encoder: GemmaStack,
    pub decoder: GemmaStack,
    /// Parameters counted but never read by the step (keras-hub's untied backbone keeps
    /// its `reverse_embeddings` without an LM head to use them).
    pub unused_params: u64,
    /// T5Gemma 2's text model (keras-hub's T5Gemma2Backbone, which transformers' t5gemma2
    /// always builds with a vision tower): one rotary table per layer type, and in the
    /// decoder a merged attention (the self-attention's k_proj and v_proj also project
    /// the encoder's output; keys and values of both joined) in place of self- and
    /// cross-attention.
    pub merged_attention: bool,
    /// T5Gemma 2's per-head RMS scales of queries and keys (`q_norm`, `k_norm`).
    pub qk_norm: bool,
}

pub fn arch(config: &Value, cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let sub = |key: &str| -> Result<GemmaStack> {
        let value = sub_config(cfg, config, key, "t5_gemma_module", Value::Null)?;
        let location = format!("{} ({key})", cfg.location);
        GemmaStack::read(&Cfg::new(&value, &location)?)
    };
    let (encoder, decoder) = (sub("encoder")?, sub("decoder")?);
    let t = T5Gemma {
        unused_params: 0,
        merged_attention: false,
        qk_norm: false,
        encoder,
        decoder,
    };
    let d = &t.decoder;
    // the decoder's sizes (what the LM head and the generic readers of an arch see) and
    // the encoder's depth, taken before `t` moves into `details`
    let base = TransformerArch::encoder(
        "t5gemma",
        d.hidden,
        t.encoder.num_layers(),
        d.heads,
        d.inter,
    );
    Ok(TransformerArch {
        kind: ArchKind::EncoderDecoder,
        head,
        vocab_size: d.vocab,
        num_decoder_layers: d.num_layers(),
        num_kv_heads: d.kv_heads,
        head_dim: d.head_dim,
        gated_mlp: true,
        activation: d.activation.clone(),
        norm: NormKind::RmsNorm,
        norms_per_layer: 4,
        qkv_bias: d.bias,
        o_bias: d.bias,
        mlp_bias: false,
        position: Position::Rotary,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", true)?,
        cross_attention: true,
        details: crate::arch::BlockDetails {
            t5gemma: Some(Box::new(t)),
            ..Default::default()
        },
        ..base
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let t = a.details.t5gemma.as_deref().expect("a t5gemma arch");
    let root = if a.head.has_lm_head() { "model." } else { "" };
    stack(m, &format!("{root}encoder."), &t.encoder, None)?;
    stack(
        m,
        &format!("{root}decoder."),
        &t.decoder,
        Some(t.encoder.hidden),
    )?;
    if !a.head.has_lm_head() {
        return Ok("T5GemmaModel".to_string());
    }
    let name = "lm_head.out_proj".to_string();
    if a.tie_word_embeddings {
        m.add_tied(
            name,
            "Linear",
            Vec::new(),
            "model.decoder.embed_tokens.weight",
        )?;
    } else {
        let mut w = Vec::new();
        let (hidden, vocab) = (
            dim(t.decoder.hidden, "hidden"),
            dim(t.decoder.vocab, "vocab"),
        );
        linear(&mut w, "", hidden, vocab, false);
        m.add(name, "Linear", w)?;
    }
    Ok("T5GemmaForConditionalGeneration".to_string())
}

/// q, k, v, o of one attention whose k and v read `kv_in` features.
fn attention(s: &GemmaStack, kv_in: u64, location: &str) -> Result<Vec<Weight>> {
    let q = heads_dim(s.heads, s.head_dim, "heads×head_dim", location)?;
    let kv = heads_dim(s.kv_heads, s.head_dim, "kv_heads×head_dim", location)?;
    let hidden = dim(s.hidden, "hidden");
    let mut w = Vec::new();
    linear(&mut w, "q_proj.", hidden.clone(), q.clone(), s.bias);
    linear(
        &mut w,
        "k_proj.",
        dim(kv_in, "cross hidden"),
        kv.clone(),
        s.bias,
    );
    linear(&mut w, "v_proj.", dim(kv_in, "cross hidden"), kv, s.bias);
    linear(&mut w, "o_proj.", q, hidden, s.bias);
    Ok(w)
}

/// One stack's rows under `path`; `cross_in`: the encoder width a decoder cross-attends.
fn stack(m: &mut Modules, path: &str, s: &GemmaStack, cross_in: Option<u64>) -> Result<()> {
    let loc = m.location();
    embedding_row(
        m,
        format!("{path}embed_tokens"),
        "Embedding",
        dim(s.vocab, "vocab"),
        s.hidden,
    )?;
    let mut rms = Vec::new();
    norm(&mut rms, "", s.hidden, NormKind::RmsNorm);
    let norm_row = |name: &str| (name.to_string(), "T5GemmaRMSNorm", rms.clone());
    let mut mlp = Vec::new();
    let (hidden, inter) = (dim(s.hidden, "hidden"), dim(s.inter, "intermediate"));
    linear(&mut mlp, "gate_proj.", hidden.clone(), inter.clone(), false);
    linear(&mut mlp, "up_proj.", hidden.clone(), inter.clone(), false);
    linear(&mut mlp, "down_proj.", inter, hidden, false);
    let mut rows = vec![
        (
            "self_attn".to_string(),
            "T5GemmaSelfAttention",
            attention(s, s.hidden, loc)?,
        ),
        norm_row("pre_self_attn_layernorm"),
        norm_row("post_self_attn_layernorm"),
        ("mlp".to_string(), "T5GemmaMLP", mlp),
        norm_row("pre_feedforward_layernorm"),
        norm_row("post_feedforward_layernorm"),
    ];
    if let Some(kv_in) = cross_in {
        rows.push((
            "cross_attn".to_string(),
            "T5GemmaCrossAttention",
            attention(s, kv_in, loc)?,
        ));
        rows.push(norm_row("pre_cross_attn_layernorm"));
        rows.push(norm_row("post_cross_attn_layernorm"));
    }
    m.add_blocks(s.num_layers(), |i| format!("{path}layers.{i}."), &rows)?;
    m.add(format!("{path}norm"), "T5GemmaRMSNorm", rms)
}
