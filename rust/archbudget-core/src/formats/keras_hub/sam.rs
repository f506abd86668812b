//! keras-hub's SAMBackbone and SAMImageSegmenter (Segment Anything).
//!
//! Computes: the `image_encoder` (a ViTDetBackbone, [`super::vit_det`], whose layers join the
//! backbone's graph), the `SAMPromptEncoder` on the four prompt inputs (points, labels,
//! boxes, masks) and, in the segmenter, the `SAMMaskDecoder` on both (a two-way transformer
//! between the prompt tokens and the image embedding, then the upscaled masks and their
//! IoU scores).
//! Weights: the prompt encoder holds a non-trainable random-frequency matrix
//! `[2, hidden // 2]`, six one-row embeddings `[1, hidden]` (foreground, background, two box
//! corners, not-a-point, no-mask) and `mask_downscaler` (biased convolutions 2×2 stride 2 to
//! `mask_in_channels // 4`, 2×2 stride 2 to `mask_in_channels`, 1×1 to `hidden`, LayerNorms
//! after the first two). The mask decoder holds `num_layers` `TwoWayMultiHeadAttention`
//! blocks (self-attention, token→image and image→token cross-attentions whose q, k, v are
//! `hidden // heads // 2` per head, a biased two-Dense MLP, four LayerNorms), a final
//! token→image attention and LayerNorm, the IoU token `[1, E]` and one mask token `[1, E]`
//! per mask (`num_multimask_outputs` and one more), `output_upscaling` (biased 2×2 transposed convolutions to
//! `E // 4` and `E // 8`, a LayerNorm between), a three-Dense hypernetwork MLP per mask
//! token (E, E, E // 8) and the IoU head (`iou_head_depth` Dense layers, `iou_head_hidden_dim`
//! wide, then one unit per mask token), E = `embedding_dim`; every Dense biased.
//! Mirrors: `keras_hub/src/models/sam/` of keras-hub 0.32. The backbone holds the mask
//! decoder as an attribute but does not call it: a backbone alone has built none of its
//! weights, a segmenter's backbone row counts them (the decoder is built by then).
//!
//!
//! Memory: the model runs as its transformers twin `sam` (`SamModel`, `formats/hf/sam_model.rs`,
//! prompted with one point and one box per image, no mask, as keras-hub's SAMBackbone example
//! fills its inputs): the image encoder's twin (ViTDet's), `num_pos_feats` set to the
//! prompt encoder's `hidden_size // 2` (transformers' default is 128), the prompt encoder on
//! the encoder's grid, the mask decoder's two-way transformer. Where keras-hub differs:
//! - a SAMBackbone alone never calls or builds its decoder: its twin runs no decoder and its
//!   step ends at the image embedding (the loss is on it; the prompt encoder runs beside);
//! - the random-frequency matrix is a non-trainable weight in keras-hub, a parameter in
//!   transformers: the twin trains it (`2 · hidden // 2` elements);
//! - an IoU head of depth 1 is one Dense in keras-hub (transformers' `SamFeedForward` has at
//!   least two Linears): the twin's is that one Linear;
//! - the upscaling's activation is GELU whatever the decoder's `activation` says.
//!
//! No twin (memory refused) where transformers cannot hold the same weights: an
//! `embedding_dim` other than the decoder's `hidden_size`, an odd `hidden_size // num_heads`
//! (keras-hub's cross-attention is `heads · (key_dim // 2)` wide, transformers'
//! `hidden_size // 2`), a prompt `image_embedding_size` other than the encoder's grid.
use serde_json::{json, Value};

use super::blocks::{dense, embedding, layer_norm, Args, Row};
use super::{config_of, registered_class, vit_det, Backbone};
use crate::error::{Error, Result};
use crate::weight::{dim, Weight};

/// The prompt inputs, in the order Keras lists a dict of inputs (sorted by key).
const PROMPTS: [(&str, &[Option<u64>]); 4] = [
    ("boxes", &[None, None, Some(2), Some(2)]),
    ("labels", &[None, None]),
    ("masks", &[None, None, None, None, Some(1)]),
    ("points", &[None, None, Some(2)]),
];

pub fn backbone(a: &Args) -> Result<Backbone> {
    // unbuilt in a backbone alone, the decoder counts nothing there, but a bad one is bad input
    let decoder = part(a, "mask_decoder", "SAMMaskDecoder")?;
    mask_decoder(&decoder)?;
    let encoder = part(a, "image_encoder", "ViTDetBackbone")?;
    let image = vit_det::image_encoder(&encoder)?;
    let prompt = part(a, "prompt_encoder", "SAMPromptEncoder")?;
    let twin = twin(image.twin, &prompt, &decoder)?;
    let mut rows = image.rows;
    // the neck and the prompt encoder are both one step from the outputs, after the
    // prompt inputs in Keras's order of layers
    let neck = rows.pop().expect("a ViTDet encoder ends with its neck");
    for (name, shape) in PROMPTS {
        rows.push(Row::new(name, "InputLayer", shape.to_vec(), Vec::new()));
    }
    rows.push(neck);
    rows.push(Row {
        output_shape: None,
        ..Row::new(
            "sam_prompt_encoder",
            "SAMPromptEncoder",
            Vec::new(),
            prompt_encoder(&prompt)?,
        )
    });
    Ok(Backbone::untokenized(
        twin,
        rows,
        image.channels,
        &["images"],
    ))
}

/// SAMImageSegmenter's rows: the backbone's inputs (sorted), the backbone as one row (its
/// mask decoder's weights included) and the mask decoder.
pub fn segmenter_rows(name: &str, value: &Value, a: &Args) -> Result<Vec<Row>> {
    let b = Args {
        config: config_of(value, "SAMBackbone", a.location)?,
        class_name: "SAMBackbone",
        location: a.location,
    };
    let backbone = backbone(&b)?;
    let decoder = mask_decoder(&part(&b, "mask_decoder", "SAMMaskDecoder")?)?;
    let decoder = Row::new("sam_mask_decoder", "SAMMaskDecoder", Vec::new(), decoder);
    let mut inputs: Vec<Row> = backbone
        .rows
        .iter()
        .filter(|r| r.class_name == "InputLayer")
        .cloned()
        .collect();
    inputs.sort_by(|x, y| x.name.cmp(&y.name));
    let mut weights: Vec<Weight> = backbone.rows.into_iter().flat_map(|r| r.weights).collect();
    weights.extend(decoder.weights.iter().cloned());
    inputs.push(Row {
        name: name.to_string(),
        class_name: "SAMBackbone".to_string(),
        output_shape: None,
        weights,
        nested: true,
    });
    inputs.push(Row {
        output_shape: None,
        ..decoder
    });
    Ok(inputs)
}

/// The `sam` config of the SamModel the three parts make (`None` where none holds the
/// same weights; see the module's doc).
fn twin(mut vision: Value, prompt: &Args, decoder: &Args) -> Result<Option<Value>> {
    let hidden = decoder.dim("hidden_size")?;
    let heads = decoder.dim("num_heads")?;
    let key_dim = hidden / heads;
    let side =
        vision["image_size"].as_u64().unwrap_or(0) / vision["patch_size"].as_u64().unwrap_or(1);
    let grid = prompt.config.get("image_embedding_size");
    let on_grid = match grid {
        None | Some(Value::Null) => side == 64,
        Some(v) => *v == json!([side, side]),
    };
    if decoder.dim_or("embedding_dim", 256)? != hidden || key_dim % 2 != 0 || !on_grid {
        return Ok(None);
    }
    let prompt_hidden = prompt.dim_or("hidden_size", 256)?;
    let vision_map = vision.as_object_mut().expect("ViTDet's twin is an object");
    vision_map.remove("model_type");
    vision_map.insert("num_pos_feats".into(), json!(prompt_hidden / 2));
    let activation = prompt
        .config
        .get("activation")
        .cloned()
        .unwrap_or(json!("gelu"));
    Ok(Some(json!({
        "model_type": "sam",
        "prompt_encoder_config": {
            "hidden_size": prompt_hidden,
            "image_size": vision["image_size"],
            "patch_size": vision["patch_size"],
            "mask_input_channels": prompt.dim_or("mask_in_channels", 16)?,
            "hidden_act": activation,
        },
        "mask_decoder_config": {
            "hidden_size": hidden,
            "mlp_dim": decoder.dim("intermediate_dim")?,
            "num_hidden_layers": decoder.dim("num_layers")?,
            "num_attention_heads": heads,
            "num_multimask_outputs": decoder.count_or("num_multimask_outputs", 3)?,
            // depth 1 is set on the arch ([`twin_edit`]): transformers' reader wants two
            "iou_head_depth": decoder.dim_or("iou_head_depth", 3)?.max(2),
            "iou_head_hidden_dim": decoder.dim_or("iou_head_hidden_dim", 256)?,
        },
        "vision_config": vision,
    })))
}

/// The edit of a SAM's twin: keras-hub's IoU head depth (one Dense at depth 1) and, for a
/// SAMBackbone alone (`segmenter` false), no mask decoder.
pub fn twin_edit(a: &Args, segmenter: bool) -> Result<super::TwinEdit> {
    let depth = part(a, "mask_decoder", "SAMMaskDecoder")?.dim_or("iou_head_depth", 3)?;
    Ok(Box::new(move |arch: &mut crate::arch::TransformerArch| {
        if let Some(m) = arch.details.sam_model.as_mut() {
            m.decoder.iou_depth = depth;
            m.runs_decoder = segmenter;
        }
    }))
}

/// The serialized layer under `key`, which must be keras-hub's `class`.
fn part<'a>(a: &Args<'a>, key: &str, class: &'static str) -> Result<Args<'a>> {
    let value = a.config.get(key).unwrap_or(&Value::Null);
    if registered_class(value) != Some(class) {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key '{key}' must be a serialized keras-hub {class}",
                a.class_name
            ),
        ));
    }
    Ok(Args {
        config: config_of(value, class, a.location)?,
        class_name: class,
        location: a.location,
    })
}

fn prompt_encoder(a: &Args) -> Result<Vec<Weight>> {
    let hidden = a.dim_or("hidden_size", 256)?;
    let mask_channels = a.dim_or("mask_in_channels", 16)?;
    let mut w = vec![Weight::new(
        "positional_encoding_gaussian_matrix",
        vec![dim(2, "2"), dim(hidden / 2, "features")],
    )
    .frozen()];
    for table in [
        "foreground_point_embed",
        "background_point_embed",
        "top_left_corner_embed",
        "bottom_right_corner_embed",
        "not_a_point_embed",
        "no_mask_embed",
    ] {
        embedding(&mut w, table, 1, hidden);
    }
    let quarter = mask_channels / 4;
    conv(&mut w, "mask_downscaler/conv_0", 2, 1, quarter);
    layer_norm(&mut w, "mask_downscaler/norm_0", quarter);
    conv(&mut w, "mask_downscaler/conv_1", 2, quarter, mask_channels);
    layer_norm(&mut w, "mask_downscaler/norm_1", mask_channels);
    conv(&mut w, "mask_downscaler/conv_2", 1, mask_channels, hidden);
    Ok(w)
}

fn mask_decoder(a: &Args) -> Result<Vec<Weight>> {
    let hidden = a.dim("hidden_size")?;
    let layers = a.dim("num_layers")?;
    let inter = a.dim("intermediate_dim")?;
    let heads = a.dim("num_heads")?;
    let e = a.dim_or("embedding_dim", 256)?;
    let masks = a.count_or("num_multimask_outputs", 3)? + 1;
    let iou_depth = a.dim_or("iou_head_depth", 3)?;
    let iou_hidden = a.dim_or("iou_head_hidden_dim", 256)?;
    let key_dim = a.per_head(("hidden_size", hidden), ("num_heads", heads))?;
    // the attention layers are built on `heads · key_dim`, not on `hidden` itself
    let width = heads * key_dim;
    // TwoWayTransformer's `attention_downsample_rate` (the decoder keeps its default, 2)
    let downsampled = key_dim / 2;
    let mut w = Vec::new();
    for i in 0..layers {
        let block = format!("transformer/layer_{i}");
        attention(
            &mut w,
            &format!("{block}/self_attention"),
            width,
            heads * key_dim,
        );
        let cross = heads * downsampled;
        attention(&mut w, &format!("{block}/token_to_image"), width, cross);
        attention(&mut w, &format!("{block}/image_to_token"), width, cross);
        for norm in 1..=4 {
            layer_norm(&mut w, &format!("{block}/layer_norm{norm}"), width);
        }
        dense(&mut w, &format!("{block}/mlp/dense_0"), width, inter, true);
        dense(&mut w, &format!("{block}/mlp/dense_1"), inter, width, true);
    }
    attention(&mut w, "transformer/final", width, heads * downsampled);
    layer_norm(&mut w, "transformer/final_layer_norm", hidden);
    embedding(&mut w, "iou_token", 1, e);
    embedding(&mut w, "mask_tokens", masks, e);
    transposed_conv(&mut w, "output_upscaling/conv_0", e, e / 4);
    layer_norm(&mut w, "output_upscaling/norm_0", e / 4);
    transposed_conv(&mut w, "output_upscaling/conv_1", e / 4, e / 8);
    for m in 0..masks {
        mlp(&mut w, &format!("hypernetwork_{m}"), e, &[e, e, e / 8]);
    }
    let mut iou = vec![iou_hidden; iou_depth as usize - 1];
    iou.push(masks);
    mlp(&mut w, "iou_prediction_head", e, &iou);
    Ok(w)
}

/// `MultiHeadAttentionWithDownsampling`: biased q, k, v Dense `width → inner` and a biased
/// output Dense `inner → width`.
fn attention(w: &mut Vec<Weight>, name: &str, width: u64, inner: u64) {
    for proj in ["query_proj", "key_proj", "value_proj"] {
        dense(w, &format!("{name}/{proj}"), width, inner, true);
    }
    dense(w, &format!("{name}/out_proj"), inner, width, true);
}

/// keras-hub's SAM `MLP`: biased Dense layers of `widths` on `d_in` features.
fn mlp(w: &mut Vec<Weight>, name: &str, d_in: u64, widths: &[u64]) {
    let mut d = d_in;
    for (i, &out) in widths.iter().enumerate() {
        dense(w, &format!("{name}/dense_{i}"), d, out, true);
        d = out;
    }
}

/// A biased `Conv2D` of a `k`×`k` kernel.
fn conv(w: &mut Vec<Weight>, name: &str, k: u64, d_in: u64, d_out: u64) {
    w.push(Weight::new(
        format!("{name}/kernel"),
        vec![
            dim(k, "k"),
            dim(k, "k"),
            dim(d_in, "inputs"),
            dim(d_out, "filters"),
        ],
    ));
    w.push(Weight::new(
        format!("{name}/bias"),
        vec![dim(d_out, "filters")],
    ));
}

/// A biased 2×2 `Conv2DTranspose` (its kernel is `[k, k, filters, inputs]`).
fn transposed_conv(w: &mut Vec<Weight>, name: &str, d_in: u64, d_out: u64) {
    w.push(Weight::new(
        format!("{name}/kernel"),
        vec![
            dim(2, "k"),
            dim(2, "k"),
            dim(d_out, "filters"),
            dim(d_in, "inputs"),
        ],
    ));
    w.push(Weight::new(
        format!("{name}/bias"),
        vec![dim(d_out, "filters")],
    ));
}
