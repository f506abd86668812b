//! moonshine: a speech encoder-decoder, llama-style blocks with LayerNorms on both sides
//! of a whisper-like split (transformers' `modular_moonshine.py`: GLM's attention and
//! rotary, llama's decoder layer, whisper's model).
//!
//! Computes: the encoder reads raw audio (`input_values`, batch × samples) through
//! `conv1` (1 → hidden, kernel 127, stride 64, no bias), tanh, a one-group `groupnorm`,
//! `conv2` (hidden → 2·hidden, 7, stride 3) and `conv3` (2·hidden → hidden, 3, stride 2),
//! each followed by GELU; then pre-norm blocks (LayerNorm without bias → self-attention
//! → residual add; LayerNorm → MLP → add) and a final LayerNorm. The decoder embeds
//! tokens and runs blocks of causal self-attention, cross-attention on the encoder's
//! output and the MLP, each after its LayerNorm, then `norm`. Attention is GLM's: q, k, v
//! biased with `attention_bias`, `o_proj` never; partial rotary on q and k of
//! self-attention (`int(head_dim · partial_rotary_factor)` channels, rounded up to even:
//! `inv_freq` has ⌈that/2⌉ entries, interleaved); heads are zero-padded to a multiple of
//! `pad_head_dim_to_multiple_of` for attention alone. The encoder's MLP is `fc1` → act →
//! `fc2`; the decoder's `fc1` is twice as wide, halves gated (`act(gate) · x`). Every
//! Linear of the MLPs is biased. `MoonshineForConditionalGeneration` adds `proj_out`,
//! tied to `embed_tokens` unless `tie_word_embeddings` is false.
//! Weights: as above. Buffers: each stack's rotary `inv_freq` and `original_inv_freq`.
//! Mirrors: `modeling_moonshine.py` of transformers 5.24, quirk included: each
//! `MoonshineAttention` writes its heads into the shared config (`config.update`), and
//! `num_attention_heads` maps to the decoder's, so the decoder (and both rotary tables)
//! run with the encoder's heads.
use crate::arch::{ArchKind, BlockDetails, HeadKind, NormKind, Position, TransformerArch};
use crate::error::Result;
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{embedding_row, heads_dim, linear, lm_head, norm, norm_row, times, Modules};

/// What one moonshine stack has of its own (the arch's own widths are the decoder's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoonshineStack {
    pub heads: u64,
    pub kv_heads: u64,
    /// Width of each head as projected.
    pub head_dim: u64,
    /// Zeros appended to each head of q, k and v for attention alone (transformers'
    /// `head_dim_padding`; keras-hub pads its kernels instead).
    pub attention_padding: u64,
    /// Channels of q and k the rotary embedding turns (twice `inv_freq`'s entries).
    pub rotary_dim: u64,
    /// The MLP's first Linear is twice as wide, halves gated (`act(gate) · x`).
    pub gated: bool,
    pub activation: String,
    /// Width of the MLP's inner activation.
    pub inter: u64,
}

/// The two stacks and the audio stem of a moonshine model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moonshine {
    pub encoder: MoonshineStack,
    pub decoder: MoonshineStack,
    /// Channels of `conv1` and `conv3` (`conv2` has twice as many): transformers' hidden
    /// width, keras-hub's `filter_dim`.
    pub filters: u64,
}

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let hidden = cfg.dim("hidden_size", 288)?;
    let inter = cfg.dim("intermediate_size", 1152)?;
    let enc_heads = cfg.dim("encoder_num_attention_heads", 8)?;
    let enc_kv = cfg.dim("encoder_num_key_value_heads", enc_heads)?;
    // `config.update` in each attention: the decoder is built with the encoder's heads
    let (dec_heads, dec_kv) = (enc_heads, enc_kv);
    cfg.require_divisible(
        ("hidden_size", hidden),
        ("encoder_num_attention_heads", enc_heads),
    )?;
    let head_dim = hidden / enc_heads;
    let padding = match cfg.dim_opt("pad_head_dim_to_multiple_of")? {
        Some(m) => match head_dim.div_ceil(m).checked_mul(m) {
            Some(padded) => padded - head_dim,
            None => {
                return Err(cfg.invalid(format!(
                    "key 'pad_head_dim_to_multiple_of' ({m}) pads heads past the largest size"
                )))
            }
        },
        None => 0,
    };
    let factor = cfg.float("partial_rotary_factor", Some("rope_parameters"), 0.9)?;
    if !(factor > 0.0 && factor <= 1.0) {
        return Err(cfg.invalid(format!(
            "key 'partial_rotary_factor' must be a number between 0 and 1 (above 0), got {factor}"
        )));
    }
    // `arange(0, dim, 2)` entries of `inv_freq`, each cos/sin entry used twice
    let rotary_dim = ((head_dim as f64 * factor) as u64).div_ceil(2) * 2;
    let stack = |heads: u64, kv_heads: u64, gated: bool, act: String| MoonshineStack {
        heads,
        kv_heads,
        head_dim,
        attention_padding: padding,
        rotary_dim,
        gated,
        activation: act,
        inter,
    };
    let decoder_act = cfg.string("decoder_hidden_act", "silu")?;
    let moonshine = Moonshine {
        encoder: stack(
            enc_heads,
            enc_kv,
            false,
            cfg.string("encoder_hidden_act", "gelu")?,
        ),
        decoder: stack(dec_heads, dec_kv, true, decoder_act.clone()),
        filters: hidden,
    };
    let max_positions = cfg.dim("max_position_embeddings", 512)?;
    let vocab = cfg.dim("vocab_size", 32768)?;
    let layers = cfg.layers(&["encoder_num_hidden_layers"], 6)?;
    Ok(TransformerArch {
        kind: ArchKind::EncoderDecoder,
        head,
        vocab_size: vocab,
        num_decoder_layers: cfg.layers(&["decoder_num_hidden_layers"], 6)?,
        num_kv_heads: dec_kv,
        head_dim,
        gated_mlp: true,
        activation: decoder_act,
        norm: NormKind::LayerNorm { bias: false },
        norms_per_layer: 3,
        qkv_bias: cfg.flag("attention_bias", false)?,
        o_bias: false,
        position: Position::Rotary,
        max_positions,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", true)?,
        cross_attention: true,
        details: BlockDetails {
            rotary_dim,
            moonshine: Some(Box::new(moonshine)),
            ..BlockDetails::default()
        },
        ..TransformerArch::encoder("moonshine", hidden, layers, dec_heads, inter)
    })
}

/// `MoonshineAttention`'s q, k, v and o projections.
fn attention(a: &TransformerArch, s: &MoonshineStack, location: &str) -> Result<Vec<Weight>> {
    let d = || dim(a.hidden_size, "hidden");
    let heads = |n: u64| heads_dim(n, s.head_dim, "heads × head_dim", location);
    let mut w = Vec::new();
    linear(&mut w, "q_proj.", d(), heads(s.heads)?, a.qkv_bias);
    linear(&mut w, "k_proj.", d(), heads(s.kv_heads)?, a.qkv_bias);
    linear(&mut w, "v_proj.", d(), heads(s.kv_heads)?, a.qkv_bias);
    linear(&mut w, "o_proj.", heads(s.heads)?, d(), a.o_bias);
    Ok(w)
}

fn mlp(a: &TransformerArch, s: &MoonshineStack, location: &str) -> Result<Vec<Weight>> {
    let first = times(if s.gated { 2 } else { 1 }, s.inter, "fc1", location)?;
    let mut w = Vec::new();
    linear(&mut w, "fc1.", dim(a.hidden_size, "hidden"), first, true);
    linear(
        &mut w,
        "fc2.",
        dim(s.inter, "inter"),
        dim(a.hidden_size, "hidden"),
        true,
    );
    Ok(w)
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let Some(ms) = a.details.moonshine.as_deref() else {
        return Err(crate::Error::invalid(
            m.location(),
            "moonshine without its stacks",
        ));
    };
    let lm = a.head.has_lm_head();
    let root = if lm { "model." } else { "" };
    let encoder = format!("{root}encoder.");
    let loc = m.location();
    let f = ms.filters;
    let doubled = times(2, f, "filters", loc)?.size;
    for (name, d_in, d_out, kernel, bias) in [
        ("conv1", 1, f, 127, false),
        ("conv2", f, doubled, 7, true),
        ("conv3", doubled, f, 3, true),
    ] {
        let mut w = vec![Weight::new(
            "weight",
            vec![
                dim(d_out, "filters"),
                dim(d_in, "channels"),
                dim(kernel, "kernel"),
            ],
        )];
        if bias {
            w.push(Weight::new("bias", vec![dim(d_out, "filters")]));
        }
        m.add(format!("{encoder}{name}"), "Conv1d", w)?;
    }
    let group = ["weight", "bias"].map(|p| Weight::new(p, vec![dim(f, "channels")]));
    m.add(format!("{encoder}groupnorm"), "GroupNorm", group.to_vec())?;
    let mut ln = Vec::new();
    norm(&mut ln, "", a.hidden_size, a.norm);
    let rows = [
        (
            "self_attn".to_string(),
            "MoonshineAttention",
            attention(a, &ms.encoder, loc)?,
        ),
        (
            "mlp".to_string(),
            "MoonshineEncoderMLP",
            mlp(a, &ms.encoder, loc)?,
        ),
        ("input_layernorm".to_string(), "LayerNorm", ln.clone()),
        (
            "post_attention_layernorm".to_string(),
            "LayerNorm",
            ln.clone(),
        ),
    ];
    m.add_blocks(a.num_layers, |i| format!("{encoder}layers.{i}."), &rows)?;
    norm_row(
        m,
        format!("{encoder}layer_norm"),
        "LayerNorm",
        a.hidden_size,
        a.norm,
    )?;
    let decoder = format!("{root}decoder.");
    embedding_row(
        m,
        format!("{decoder}embed_tokens"),
        "Embedding",
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;
    let rows = [
        (
            "self_attn".to_string(),
            "MoonshineAttention",
            attention(a, &ms.decoder, loc)?,
        ),
        (
            "encoder_attn".to_string(),
            "MoonshineAttention",
            attention(a, &ms.decoder, loc)?,
        ),
        (
            "mlp".to_string(),
            "MoonshineDecoderMLP",
            mlp(a, &ms.decoder, loc)?,
        ),
        ("input_layernorm".to_string(), "LayerNorm", ln.clone()),
        (
            "post_attention_layernorm".to_string(),
            "LayerNorm",
            ln.clone(),
        ),
        ("final_layernorm".to_string(), "LayerNorm", ln),
    ];
    m.add_blocks(
        a.num_decoder_layers,
        |i| format!("{decoder}layers.{i}."),
        &rows,
    )?;
    norm_row(
        m,
        format!("{decoder}norm"),
        "LayerNorm",
        a.hidden_size,
        a.norm,
    )?;
    if lm {
        lm_head(m, "proj_out", a, &format!("{decoder}embed_tokens.weight"))?;
        return Ok("MoonshineForConditionalGeneration".to_string());
    }
    Ok("MoonshineModel".to_string())
}
