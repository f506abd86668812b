//! keras-hub's PaliGemmaBackbone: Gemma's decoder (`PaliGemmaDecoderBlock` is
//! `GemmaDecoderBlock`, see `gemma.rs`) reading the image tokens of a SigLIP-style
//! `PaliGemmaVit`: a biased patch convolution, one learned position per patch, N
//! pre-norm blocks of biased multi-head attention and a two-layer MLP, a final
//! LayerNorm (`encoder_layer_norm`) and the biased
//! `image_classifier` projecting onto the text width.
//!
//! The transformers twin is paligemma (`PaliGemmaModel`, `PaliGemmaForConditionalGeneration`):
//! a `siglip_vision_model` without its pooling head (`encoder_layer_norm` is its
//! `post_layernorm`), the biased one-Linear projector (`image_classifier`) and the Gemma
//! (gemma2 with post norms) decoder. Its memory is the wrappers': a text-only prompt,
//! the tower and projector held but idle (keras-hub's PaliGemma runs the image tokens
//! through the decoder with the text; the memory model does not lower that yet).
use serde_json::{json, Value};

use super::blocks::{dense, embedding, layer_norm, Args, Row};
use crate::error::{Error, Result};
use crate::weight::{dim, Weight};

/// The `pali_gemma_vit` row: the whole vision model, one row of the backbone.
pub fn vit_row(a: &Args, hidden: u64) -> Result<Row> {
    let image = a.dim("image_size")?;
    let patch = a.dim("vit_patch_size")?;
    let width = a.dim("vit_hidden_dim")?;
    let heads = a.dim("vit_num_heads")?;
    let layers = a.dim("vit_num_layers")?;
    let inter = a.dim("vit_intermediate_dim")?;
    a.per_head(("vit_hidden_dim", width), ("vit_num_heads", heads))?;
    if image % patch != 0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: image_size ({image}) must be a multiple of vit_patch_size ({patch})",
                a.class_name
            ),
        ));
    }
    let patches = (image / patch) * (image / patch);
    // a pooled vision output (keras-hub's "map", "gap", "zero") cannot be joined to the
    // text tokens: keras-hub builds only the unpooled backbone
    if let Some(v) = a.config.get("vit_pooling").filter(|v| !v.is_null()) {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'vit_pooling' must be null (keras-hub joins every patch to the text tokens), got {v}",
                a.class_name
            ),
        ));
    }
    let enc = "image_encoder";
    let mut w = Vec::new();
    layer_norm(&mut w, &format!("{enc}/encoder_layer_norm"), width);
    w.push(Weight::new(
        format!("{enc}/encoder_embeddings/embedding_conv/kernel"),
        vec![
            dim(patch, "patch"),
            dim(patch, "patch"),
            dim(3, "channels"),
            dim(width, "filters"),
        ],
    ));
    w.push(Weight::new(
        format!("{enc}/encoder_embeddings/embedding_conv/bias"),
        vec![dim(width, "filters")],
    ));
    embedding(
        &mut w,
        &format!("{enc}/encoder_embeddings/position_embedding"),
        patches,
        width,
    );
    for i in 0..layers {
        let block = format!("{enc}/encoder_block_{i}");
        for proj in ["query_proj", "key_proj", "value_proj", "out_proj"] {
            dense(
                &mut w,
                &format!("{block}/multi_head_attention/{proj}"),
                width,
                width,
                true,
            );
        }
        layer_norm(&mut w, &format!("{block}/layer_norm_1"), width);
        dense(&mut w, &format!("{block}/mlp_dense_1"), width, inter, true);
        dense(&mut w, &format!("{block}/mlp_dense_2"), inter, width, true);
        layer_norm(&mut w, &format!("{block}/layer_norm_2"), width);
    }
    dense(&mut w, "image_classifier", width, hidden, true);
    let shape = vec![None, Some(patches), Some(hidden)];
    Ok(Row::new("pali_gemma_vit", "PaliGemmaVit", shape, w))
}

/// transformers' paligemma config around the Gemma twin `text`, `hidden` wide.
pub fn hf_config(a: &Args, text: Value, hidden: u64) -> Result<Value> {
    let vision = json!({
        "model_type": "siglip_vision_model", "hidden_size": a.dim("vit_hidden_dim")?,
        "intermediate_size": a.dim("vit_intermediate_dim")?,
        "num_hidden_layers": a.dim("vit_num_layers")?,
        "num_attention_heads": a.dim("vit_num_heads")?, "image_size": a.dim("image_size")?,
        "patch_size": a.dim("vit_patch_size")?, "vision_use_head": false,
        "hidden_act": "gelu_pytorch_tanh",
    });
    Ok(json!({
        "model_type": "paligemma", "text_config": text, "vision_config": vision,
        "projection_dim": hidden, "tie_word_embeddings": true,
    }))
}

/// The image input, `(batch, image_size, image_size, 3)`.
pub fn images_row(a: &Args) -> Result<Row> {
    let image = a.dim("image_size")?;
    Ok(Row::new(
        "images",
        "InputLayer",
        vec![None, Some(image), Some(image), Some(3)],
        Vec::new(),
    ))
}
