//! Preprocessing layers that encode categories and text: StringLookup, IntegerLookup,
//! TextVectorization, Hashing, CategoryEncoding, Discretization.
//!
//! Weights: none that Keras counts (their vocabularies live in lookup tables, not in
//! `layer.weights`). Output shape: the input's in `int` mode; otherwise an encoding axis
//! of the vocabulary's size, as each layer's `compute_output_shape` places it.
use super::{Built, LayerCtx};
use crate::error::Result;
use crate::shape::Shape;

/// Keras's `output_mode` encodings of a categorical axis.
fn encode(ctx: &LayerCtx, input: &Shape, depth: u64, mode: &str) -> Result<Shape> {
    let mut out = input.clone();
    match mode {
        "int" => {}
        // One-hot encodes each element: a trailing axis of 1 becomes the encoding.
        "one_hot" => {
            if out.len() > 1 && out.last() == Some(&Some(1)) {
                out.pop();
            }
            out.push(Some(depth));
        }
        // multi_hot, count, tf_idf: the last (sample) axis becomes the encoding.
        "multi_hot" | "count" | "tf_idf" | "tf-idf" => {
            out.pop();
            out.push(Some(depth));
        }
        other => return Err(ctx.err(format!("unknown 'output_mode' '{other}'"))),
    }
    Ok(out)
}

/// StringLookup and IntegerLookup (Keras's IndexLookup).
pub fn lookup(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let mode = ctx.str_or("output_mode", "int")?;
    if mode == "int" || ctx.bool_or("invert", false)? {
        return Ok(Built::stateless(input.clone()));
    }
    let depth = lookup_depth(ctx)?;
    Ok(Built::stateless(encode(ctx, input, depth, mode)?))
}

/// `max_tokens` when padded to it, else the vocabulary's size: its tokens, the OOV
/// indices and the mask token.
fn lookup_depth(ctx: &LayerCtx) -> Result<u64> {
    if ctx.bool_or("pad_to_max_tokens", false)? {
        return ctx.positive("max_tokens");
    }
    if let Some(size) = ctx.opt_positive("vocabulary_size")? {
        return Ok(size);
    }
    let tokens = ctx
        .value("vocabulary")
        .and_then(|v| v.as_array())
        .map(Vec::len)
        .ok_or_else(|| {
            ctx.err("the vocabulary size is unknown: no 'vocabulary_size' and no 'vocabulary' list")
        })?;
    let oov = ctx
        .value("num_oov_indices")
        .and_then(|v| v.as_u64())
        .unwrap_or(1);
    let mask = u64::from(ctx.value("mask_token").is_some());
    Ok(tokens as u64 + oov + mask)
}

pub fn text_vectorization(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let mode = ctx.str_or("output_mode", "int")?;
    if mode == "int" {
        let length = ctx.opt_positive("output_sequence_length")?;
        return Ok(Built::stateless(vec![
            input.first().copied().flatten(),
            length,
        ]));
    }
    // Split text gains a token axis; unsplit text is one token per sample.
    let mut tokens = input.clone();
    if ctx.value("split").is_some() {
        tokens.push(None);
    } else if tokens.len() <= 1 {
        tokens.push(Some(1));
    }
    let depth = lookup_depth(ctx)?;
    Ok(Built::stateless(encode(ctx, &tokens, depth, mode)?))
}

pub fn hashing(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let mode = ctx.str_or("output_mode", "int")?;
    if mode == "int" {
        return Ok(Built::stateless(input.clone()));
    }
    let mut out = input.clone();
    out.pop();
    out.push(Some(ctx.positive("num_bins")?));
    Ok(Built::stateless(out))
}

pub fn category_encoding(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let tokens = ctx.positive("num_tokens")?;
    let mode = ctx.str_or("output_mode", "multi_hot")?;
    let mut out = input.clone();
    // one_hot keeps a rank-1 input or one whose last axis is not 1 and appends.
    let append = mode == "one_hot" && (out.last() != Some(&Some(1)) || out.len() == 1);
    if !append {
        out.pop();
    }
    out.push(Some(tokens));
    Ok(Built::stateless(out))
}

pub fn discretization(ctx: &LayerCtx, inputs: &[Shape]) -> Result<Built> {
    let input = ctx.single(inputs)?;
    let mode = ctx.str_or("output_mode", "int")?;
    if mode == "int" {
        return Ok(Built::stateless(input.clone()));
    }
    let depth = match ctx.value("bin_boundaries").and_then(|v| v.as_array()) {
        Some(b) => b.len() as u64 + 1,
        None => ctx.positive("num_bins")?,
    };
    let out = if mode == "one_hot" {
        encode(ctx, input, depth, mode)?
    } else if input.len() >= 2 {
        // Keras drops the second axis and appends the bins.
        let mut out = vec![input[0]];
        out.extend_from_slice(&input[2..]);
        out.push(Some(depth));
        out
    } else {
        vec![Some(depth)]
    };
    Ok(Built::stateless(out))
}
