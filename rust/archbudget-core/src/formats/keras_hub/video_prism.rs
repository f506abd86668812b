//! keras-hub's VideoPrismBackbone, its video encoder alone (`num_text_layers` 0; with a
//! text encoder, the class is left to the `.keras` archive reader, `saved`): frames
//! folded into the batch, patched and embedded, a spatial encoder per frame, a temporal
//! embedding and encoder per patch, and the factorized decoding back to
//! `(frames, patches, hidden)`.
//!
//! Weights (video_prism_layers.py): the patch embedding Dense `[patch² × channels,
//! hidden]` with bias and a position table `[patches, hidden]`; a temporal table
//! `[num_frames, hidden]`; per `VideoPrismEncoder` block pre-norm LayerNorms `ln_1`,
//! `ln_2`, Keras `MultiHeadAttention` with biases and a two-Dense MLP
//! (`intermediate_dim`) with biases, then a final LayerNorm `ln`.
//!
//! Its transformers twin is `VideoPrismVisionModel` (transformers 5.24 `videoprism`:
//! a Conv3d of tubelet `(1, p, p)` holding the Dense's weights, the same tables, blocks
//! and two final norms): `memory` lowers it from [`lowered`] (`memory/video_prism.rs`).
use serde_json::Value;

use super::blocks::{attention, dense, layer_norm, Args, Heads, Row};
use super::{Backbone, Classifier};
use crate::arch::TransformerArch;
use crate::error::{Error, Result};
use crate::memory::hf::Dropouts;
use crate::weight::{dim, Weight};

/// The `model_type` of the arch [`lowered`] makes (keras-hub's VideoPrism video encoder,
/// run as transformers' `videoprism_vision_model`).
pub const MODEL_TYPE: &str = "keras_hub_video_prism";

/// The video side of the encoder: what the arch's transformer widths do not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoPrism {
    pub frames: u64,
    /// (height, width) of a frame.
    pub image: (u64, u64),
    pub patch: u64,
    pub channels: u64,
    pub spatial_layers: u64,
    pub temporal_layers: u64,
}

impl VideoPrism {
    pub fn patches(&self) -> u64 {
        (self.image.0 / self.patch) * (self.image.1 / self.patch)
    }
}

/// What `memory` runs: the twin's widths (one block shape for both encoders, `gelu`),
/// the video's shape in `details.video_prism`, `dropout_rate` after the embeddings and
/// on each branch, `attention_dropout_rate` on the probabilities. `None` for a
/// VideoPrism with a text encoder (its summary comes from the archive).
pub fn lowered(a: &Args) -> Result<Option<(TransformerArch, Dropouts)>> {
    let Some(b) = backbone(a)? else {
        return Ok(None);
    };
    let hidden = b.hidden;
    let heads = a.dim("num_heads")?;
    let (_, [height, width, channels]) = image(a)?;
    let video = VideoPrism {
        frames: a.dim("num_frames")?,
        image: (height, width),
        patch: a.dim("patch_size")?,
        channels,
        spatial_layers: a.dim("num_spatial_layers")?,
        temporal_layers: a.dim("num_temporal_layers")?,
    };
    let dropout = a.float_or("dropout_rate", 0.0)?;
    // no `position`: the lowering adds its learned tables itself (patches, frames)
    let mut arch = TransformerArch::encoder(
        MODEL_TYPE,
        hidden,
        video.spatial_layers + video.temporal_layers,
        heads,
        a.dim("intermediate_dim")?,
    );
    arch.details.video_prism = Some(video);
    let dropouts = Dropouts {
        embed: dropout,
        attn: a.float_or("attention_dropout_rate", 0.0)?,
        resid: dropout,
        activation: 0.0,
    };
    Ok(Some((arch, dropouts)))
}

/// `None` for a VideoPrism with a text encoder (left to the archive reader).
pub fn backbone(a: &Args) -> Result<Option<Backbone>> {
    if a.count_or("num_text_layers", 0)? > 0 {
        return Ok(None);
    }
    let frames = a.dim("num_frames")?;
    let patch = a.dim("patch_size")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let heads = a.dim("num_heads")?;
    let head_dim = a.per_head(("hidden_dim", hidden), ("num_heads", heads))?;
    let (stored, [height, width, channels]) = image(a)?;
    let patches = (height / patch) * (width / patch);
    if patches == 0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: image_shape {height}x{width} is smaller than patch_size {patch}",
                a.class_name
            ),
        ));
    }
    let encoder = |layers: u64| {
        let mut w = Vec::new();
        let h = Heads {
            hidden,
            q: heads,
            kv: heads,
            head_dim,
        };
        for i in 0..layers {
            let b = format!("transformer_block_{i}");
            layer_norm(&mut w, &format!("{b}/ln_1"), hidden);
            attention(&mut w, &format!("{b}/mha"), h, true, true);
            layer_norm(&mut w, &format!("{b}/ln_2"), hidden);
            dense(&mut w, &format!("{b}/mlp/dense_1"), hidden, inter, true);
            dense(&mut w, &format!("{b}/mlp/dense_2"), inter, hidden, true);
        }
        layer_norm(&mut w, "ln", hidden);
        w
    };
    let shape = |dims: &[u64]| -> Vec<Option<u64>> {
        std::iter::once(None)
            .chain(dims.iter().map(|&d| Some(d)))
            .collect()
    };
    let mut embed = Vec::new();
    dense(
        &mut embed,
        "patch_embedding",
        patch * patch * channels,
        hidden,
        true,
    );
    embed.push(Weight::new(
        "position_embedding/embeddings",
        vec![dim(patches, "patches"), dim(hidden, "features")],
    ));
    let temporal = vec![Weight::new(
        "temporal_position_embedding/embeddings",
        vec![dim(frames, "frames"), dim(hidden, "features")],
    )];
    let mut frames_in = vec![frames];
    frames_in.extend(stored);
    let rows = vec![
        Row::new("pixel_values", "InputLayer", shape(&frames_in), Vec::new()),
        Row::new(
            "spatial_reshape",
            "VideoPrismFactorizedReshape",
            shape(&stored),
            Vec::new(),
        ),
        Row::new(
            "spatial_patching_and_embedding",
            "VideoPrismPatchingAndEmbedding",
            shape(&[patches, hidden]),
            embed,
        ),
        Row::new(
            "spatial_encoder",
            "VideoPrismEncoder",
            shape(&[patches, hidden]),
            encoder(a.dim("num_spatial_layers")?),
        ),
        Row::new(
            "temporal_embedding",
            "VideoPrismTemporalEmbedding",
            shape(&[frames, hidden]),
            temporal,
        ),
        Row::new(
            "temporal_encoder",
            "VideoPrismEncoder",
            shape(&[frames, hidden]),
            encoder(a.dim("num_temporal_layers")?),
        ),
        Row::new(
            "factorized_decoding",
            "VideoPrismFactorizedDecoding",
            shape(&[frames, patches, hidden]),
            Vec::new(),
        ),
    ];
    Ok(Some(Backbone {
        hf_config: None,
        rows,
        hidden,
        vocab: 0,
        embed_dim: hidden,
        token_weights: Vec::new(),
        inputs: &["pixel_values"],
        pooled: false,
        classifier: Classifier::None,
        lm_row_shows_vocab: false,
    }))
}

/// `image_shape` as stored, and as (height, width, channels) read in the order
/// `data_format` gives it.
fn image(a: &Args) -> Result<([u64; 3], [u64; 3])> {
    let bad = || {
        Error::invalid(
            a.location,
            format!(
                "{} config key 'image_shape' must be three positive integers, got {}",
                a.class_name,
                a.config.get("image_shape").unwrap_or(&Value::Null)
            ),
        )
    };
    let dims: Vec<u64> = match a.config.get("image_shape") {
        None | Some(Value::Null) => vec![288, 288, 3],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| crate::layers::positive_int(v).ok_or_else(bad))
            .collect::<Result<_>>()?,
        Some(_) => return Err(bad()),
    };
    let [a0, a1, a2] = dims[..] else {
        return Err(bad());
    };
    let hwc = match a.config.get("data_format").and_then(Value::as_str) {
        Some("channels_first") => [a1, a2, a0],
        _ => [a0, a1, a2],
    };
    Ok(([a0, a1, a2], hwc))
}
