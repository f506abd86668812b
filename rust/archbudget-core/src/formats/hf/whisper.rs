//! whisper: bart's encoder-decoder (`bart.rs`) with what differs.
//!
//! Computes: the encoder reads log-mel features (`num_mel_bins` channels, twice
//! `max_source_positions` frames) through `conv1` (kernel 3, padding 1) and `conv2`
//! (stride 2), each followed by GELU, and adds a sinusoidal position table that is
//! frozen (`embed_positions.requires_grad_(False)`); the decoder adds learned positions
//! (`WhisperPositionalEmbedding`, `max_target_positions` rows, no offset) to its token
//! embedding (`embed_scale` is computed but never applied). Blocks are pre-norm
//! (LayerNorm → sub-layer → dropout → residual add), each stack ends in a LayerNorm.
//! `WhisperForConditionalGeneration` adds `proj_out`, tied to the decoder's
//! `embed_tokens` when `tie_word_embeddings` (default true).
//! Weights: `WhisperAttention` q/v/out_proj biased, `k_proj` without bias; `fc1`/`fc2`
//! biased; LayerNorms with bias. No buffers.
//! Mirrors: `modeling_whisper.py` of transformers 5.24.
use crate::arch::TransformerArch;
use crate::arch::{ArchKind, AudioFrontend, BlockDetails, HeadKind, Position};
use crate::error::Result;
use crate::weight::{dim, Weight};

use super::bart::stack_blocks;
use super::config::Cfg;
use super::modules::{embedding_row, lm_head, norm_row, Modules};

/// Whisper's attention class; its `k_proj` has no bias.
const WHISPER_ATTENTION: (&str, bool) = ("WhisperAttention", false);

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d_model = cfg.dim_alias(&["d_model", "hidden_size"], 384)?;
    let heads = cfg.dim_alias(&["encoder_attention_heads", "num_attention_heads"], 6)?;
    let inter = cfg.dim("encoder_ffn_dim", 1536)?;
    // one width per stack is what every whisper checkpoint has and what the arch holds
    for (key, encoder_value, default) in [
        ("decoder_attention_heads", heads, 6),
        ("decoder_ffn_dim", inter, 1536),
    ] {
        let value = cfg.dim(key, default)?;
        if value != encoder_value {
            return Err(cfg.invalid(format!(
                "key '{key}' ({value}) differs from its encoder twin ({encoder_value}); whisper with different encoder and decoder widths is not read"
            )));
        }
    }
    cfg.require_divisible(("d_model", d_model), ("encoder_attention_heads", heads))?;
    if d_model % 2 != 0 {
        // `sinusoids` raises on it when transformers initialises the model
        return Err(cfg.invalid(format!(
            "key 'd_model' ({d_model}) must be even: whisper's sinusoidal encoder positions take sin and cos halves"
        )));
    }
    let max_target = cfg.dim("max_target_positions", 448)?;
    let vocab = cfg.dim("vocab_size", 51865)?;
    let layers = cfg.layers(&["encoder_layers", "num_hidden_layers"], 4)?;
    Ok(TransformerArch {
        kind: ArchKind::EncoderDecoder,
        head,
        vocab_size: vocab,
        num_decoder_layers: cfg.layers(&["decoder_layers"], 4)?,
        activation: cfg.string("activation_function", "gelu")?,
        // the decoder's table; the encoder's sinusoids are the front end's
        position: Position::Learned { rows: max_target },
        max_positions: max_target,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", true)?,
        cross_attention: true,
        details: BlockDetails {
            audio: Some(AudioFrontend {
                mel_bins: cfg.dim("num_mel_bins", 80)?,
                positions: cfg.dim("max_source_positions", 1500)?,
            }),
            unbiased_key: true,
            ..BlockDetails::default()
        },
        ..TransformerArch::encoder("whisper", d_model, layers, heads, inter)
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let Some(audio) = a.details.audio else {
        return Err(crate::Error::invalid(
            m.location(),
            "whisper without its audio front end",
        ));
    };
    let lm = a.head.has_lm_head();
    let root = if lm { "model." } else { "" };
    let hidden = || dim(a.hidden_size, "d_model");
    let encoder = format!("{root}encoder.");
    for (name, d_in) in [("conv1", audio.mel_bins), ("conv2", a.hidden_size)] {
        let w = vec![
            Weight::new(
                "weight",
                vec![hidden(), dim(d_in, "channels"), dim(3, "kernel")],
            ),
            Weight::new("bias", vec![hidden()]),
        ];
        m.add(format!("{encoder}{name}"), "Conv1d", w)?;
    }
    let sinusoids = vec![Weight::new(
        "weight",
        vec![dim(audio.positions, "max_source_positions"), hidden()],
    )
    .frozen()];
    m.add(format!("{encoder}embed_positions"), "Embedding", sinusoids)?;
    stack_blocks(a, m, &encoder, false, a.num_layers, WHISPER_ATTENTION)?;
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
    embedding_row(
        m,
        format!("{decoder}embed_positions"),
        "WhisperPositionalEmbedding",
        dim(a.max_positions, "max_target_positions"),
        a.hidden_size,
    )?;
    stack_blocks(
        a,
        m,
        &decoder,
        true,
        a.num_decoder_layers,
        WHISPER_ATTENTION,
    )?;
    norm_row(
        m,
        format!("{decoder}layer_norm"),
        "LayerNorm",
        a.hidden_size,
        a.norm,
    )?;
    if lm {
        lm_head(m, "proj_out", a, &format!("{decoder}embed_tokens.weight"))?;
        return Ok("WhisperForConditionalGeneration".to_string());
    }
    Ok("WhisperModel".to_string())
}
