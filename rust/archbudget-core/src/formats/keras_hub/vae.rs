//! keras-hub's `VAEBackbone` (the latent autoencoder of Stable Diffusion 3): a
//! `VAEEncoder` and a `VAEDecoder` layer, each a stack of GroupNorm-SiLU-conv ResNet
//! blocks around a one-head convolutional attention.
//!
//! Weights (keras_hub/src/models/vae/vae_layers.py): every convolution is biased; a
//! `ResNetBlock(f)` on `c` channels holds two GroupNorms (gamma, beta), two 3×3 convs and
//! a 1×1 `residual_projection` when `c != f`; `Conv2DMultiHeadAttention(f)` a GroupNorm and
//! four 1×1 convs. The encoder: a 3×3 input projection to the first stack's filters, the
//! stacks (a stride-2 3×3 conv after each but the last), mid blocks at the last stack's
//! filters, a GroupNorm and a 3×3 projection to `sample_channels`. The decoder mirrors it
//! from `sample_channels / 2` (the sampler halves the channels: mean and log variance),
//! mid blocks at the first stack's filters, an upsampling 3×3 conv after each stack but the
//! last, and a projection to `output_channels`. The sampler holds no weights (its seed
//! state is a variable, not a weight).
use serde_json::Value;

use super::blocks::{kernel, Args};
use crate::error::{Error, Result};
use crate::weight::{dim, Weight};

/// What a VAE gives the models built on it: its two layers' weights (paths under
/// `encoder/` and `decoder/`), and the shapes its layers see.
pub struct Vae {
    pub encoder: Vec<Weight>,
    pub decoder: Vec<Weight>,
    /// Channels of the encoder's output (mean and log variance).
    pub sample_channels: u64,
    pub output_channels: u64,
    /// Image side over encoded side (2 per downsampling stack).
    pub downsampling: u64,
}

pub fn read(a: &Args) -> Result<Vae> {
    let enc_filters = list(a, "encoder_num_filters")?;
    let enc_blocks = counts(a, "encoder_num_blocks", enc_filters.len())?;
    let dec_filters = list(a, "decoder_num_filters")?;
    let dec_blocks = counts(a, "decoder_num_blocks", dec_filters.len())?;
    let input_channels = a.dim_or("input_channels", 3)?;
    let sample_channels = a.dim_or("sample_channels", 32)?;
    let output_channels = a.dim_or("output_channels", 3)?;
    if sample_channels % 2 != 0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'sample_channels' ({sample_channels}) must be even: it holds a mean and a log variance per latent channel",
                a.class_name
            ),
        ));
    }
    let last = |v: &[u64]| v[v.len() - 1];

    let mut enc = Vec::new();
    conv(
        &mut enc,
        "input_projection",
        3,
        input_channels,
        enc_filters[0],
    );
    let mut channels = enc_filters[0];
    for (i, (&f, &n)) in enc_filters.iter().zip(&enc_blocks).enumerate() {
        for j in 0..n {
            resnet_block(&mut enc, &format!("block_{i}_{j}"), channels, f);
            channels = f;
        }
        if i + 1 != enc_filters.len() {
            conv(&mut enc, &format!("downsample_{i}_conv"), 3, f, f);
        }
    }
    mid(&mut enc, last(&enc_filters));
    group_norm(&mut enc, "output_norm", last(&enc_filters));
    conv(
        &mut enc,
        "output_projection",
        3,
        last(&enc_filters),
        sample_channels,
    );

    let mut dec = Vec::new();
    conv(
        &mut dec,
        "input_projection",
        3,
        sample_channels / 2,
        dec_filters[0],
    );
    mid(&mut dec, dec_filters[0]);
    let mut channels = dec_filters[0];
    for (i, (&f, &n)) in dec_filters.iter().zip(&dec_blocks).enumerate() {
        for j in 0..n {
            resnet_block(&mut dec, &format!("block_{i}_{j}"), channels, f);
            channels = f;
        }
        if i + 1 != dec_filters.len() {
            conv(&mut dec, &format!("upsample_{i}_conv"), 3, f, f);
        }
    }
    group_norm(&mut dec, "output_norm", last(&dec_filters));
    conv(
        &mut dec,
        "output_projection",
        3,
        last(&dec_filters),
        output_channels,
    );
    let under = |layer: &str, w: Vec<Weight>| -> Vec<Weight> {
        w.into_iter()
            .map(|w| Weight {
                name: format!("{layer}/{}", w.name),
                ..w
            })
            .collect()
    };
    Ok(Vae {
        encoder: under("encoder", enc),
        decoder: under("decoder", dec),
        sample_channels,
        output_channels,
        downsampling: 1 << (enc_filters.len() - 1),
    })
}

/// The mid blocks: a ResNet block, the attention, a ResNet block, all `f` wide.
fn mid(w: &mut Vec<Weight>, f: u64) {
    resnet_block(w, "mid_block_0", f, f);
    group_norm(w, "mid_attention/group_norm", f);
    for proj in [
        "query_conv2d",
        "key_conv2d",
        "value_conv2d",
        "output_conv2d",
    ] {
        conv(w, &format!("mid_attention/{proj}"), 1, f, f);
    }
    resnet_block(w, "mid_block_1", f, f);
}

fn resnet_block(w: &mut Vec<Weight>, name: &str, c_in: u64, f: u64) {
    group_norm(w, &format!("{name}/norm1"), c_in);
    conv(w, &format!("{name}/conv1"), 3, c_in, f);
    group_norm(w, &format!("{name}/norm2"), f);
    conv(w, &format!("{name}/conv2"), 3, f, f);
    if c_in != f {
        conv(w, &format!("{name}/residual_projection"), 1, c_in, f);
    }
}

/// A biased square `Conv2D`: kernel `[k, k, in, out]`, bias `[out]`.
fn conv(w: &mut Vec<Weight>, name: &str, k: u64, c_in: u64, c_out: u64) {
    w.push(kernel(
        name,
        &[
            (k, "kernel"),
            (k, "kernel"),
            (c_in, "in_channels"),
            (c_out, "filters"),
        ],
    ));
    w.push(Weight::new(
        format!("{name}/bias"),
        vec![dim(c_out, "filters")],
    ));
}

/// `GroupNormalization`: gamma and beta per channel.
fn group_norm(w: &mut Vec<Weight>, name: &str, channels: u64) {
    for leaf in ["gamma", "beta"] {
        w.push(Weight::new(
            format!("{name}/{leaf}"),
            vec![dim(channels, "channels")],
        ));
    }
}

/// A non-empty list of positive integers (filters per stack).
fn list(a: &Args, key: &str) -> Result<Vec<u64>> {
    let v = a.config.get(key).unwrap_or(&Value::Null);
    let items = v
        .as_array()
        .filter(|items| !items.is_empty())
        .and_then(|items| {
            items
                .iter()
                .map(crate::layers::positive_int)
                .collect::<Option<Vec<u64>>>()
        });
    items.ok_or_else(|| {
        Error::invalid(
            a.location,
            format!(
                "{} config key '{key}' must be a non-empty list of positive integers, got {v}",
                a.class_name
            ),
        )
    })
}

/// A list of block counts, one per stack.
fn counts(a: &Args, key: &str, stacks: usize) -> Result<Vec<u64>> {
    let blocks = a.count_list(key)?;
    if blocks.len() != stacks {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key '{key}' must list one block count per stack ({stacks}), got {}",
                a.class_name,
                blocks.len()
            ),
        ));
    }
    Ok(blocks)
}
