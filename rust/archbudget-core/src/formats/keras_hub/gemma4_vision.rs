//! keras-hub's Gemma4VisionEncoder (gemma4_vision_encoder.py), alone or as a
//! Gemma4Backbone's `vision_encoder`: a functional model of `image_encoder` (the patch
//! embedder: `input_proj` `[3·patch², hidden]` and a 2-D position table
//! `[2, position_embedding_size, hidden]`; then `num_layers` blocks of four RMS norms,
//! EinsumDense q/k/v/o with q/k norms of `head_dim` and a gated MLP), a weightless
//! `pooling`, and `vision_output_encoder` (a scale-free norm and a bias-free projection to
//! `output_dim`; with `standardize`, a non-trainable bias and scale before them).
//!
//! With `use_clipped_linears` (the default) each of a block's seven linears carries four
//! non-trainable scalar clip bounds (`input_min`, `input_max`, `output_min`, `output_max`).
//!
//! Memory: the twin is transformers' `gemma4_vision` tower of the same widths (the clip
//! bounds and `standardize`'s bias and scale are buffers there), on images of
//! `image_size`: `(image_size / patch_size / pool_size)²` soft tokens (`max_soft_tokens`),
//! with gemma4's `Gemma4MultimodalEmbedder` after it ([`twin_edit`]), one image a sample.
use serde_json::{json, Value};

use super::blocks::{dense, rms_norm, Args, Row};
use super::{config_of, registered_class, Backbone};
use crate::arch::{TransformerArch, VisionOutput};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::weight::{dim, Weight};

const CLASS: &str = "Gemma4VisionEncoder";

/// A vision encoder's rows and what the backbone around it needs.
pub struct Encoder {
    /// The encoder's own layers: inputs, `image_encoder`, `pooling`,
    /// `vision_output_encoder`.
    rows: Vec<Row>,
    pub output_dim: u64,
    /// transformers' `gemma4_vision` config of the same tower.
    hf_vision: Value,
}

impl Encoder {
    /// The encoder as one row of a backbone, named `name`, its weights under that name.
    pub fn row(&self, name: &str) -> Row {
        let weights = self.rows.iter().flat_map(|r| r.weights.clone()).collect();
        Row::new(name, CLASS, images(Some(self.output_dim)), weights)
    }
}

/// `(batch, images, patches, width)`, all but the width unknown.
fn images(width: Option<u64>) -> Shape {
    vec![None, None, None, width]
}

pub fn read(a: &Args) -> Result<Encoder> {
    let patch = a.dim("patch_size")?;
    let hidden = a.dim("hidden_dim")?;
    let layers = a.dim("num_layers")?;
    let heads = a.dim("num_heads")?;
    let kv = a.dim_opt("num_key_value_heads")?.unwrap_or(heads);
    let head_dim = a.dim("head_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let output_dim = a.dim("output_dim")?;
    let positions = a.dim_or("position_embedding_size", 1024)?;
    let clipped = a.flag_or("use_clipped_linears", true)?;
    let standardize = a.flag_or("standardize", false)?;
    let pixels = 3 * patch * patch;
    let image = a.dim("image_size")?;
    let pool = a.dim_or("pool_size", 3)?;
    let side = image / patch / pool;
    if side == 0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{}: image_size {image} / patch_size {patch} / pool_size {pool} leaves no soft token",
                a.class_name
            ),
        ));
    }
    let hf_vision = json!({
        "model_type": "gemma4_vision", "hidden_size": hidden, "intermediate_size": inter,
        "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
        "head_dim": head_dim, "patch_size": patch, "position_embedding_size": positions,
        "pooling_kernel_size": pool, "max_soft_tokens": side * side,
        "use_clipped_linears": clipped, "standardize": standardize,
        "rms_norm_eps": a.float_or("layer_norm_epsilon", 1e-6)?,
        "hidden_activation": "gelu_pytorch_tanh",
        "rope_parameters": {"rope_type": "axial", "rope_theta": a.float_or("rope_max_wavelength", 100.0)?},
    });

    let mut enc = vec![Weight::new(
        "patch_embedder/position_embedding_table",
        vec![
            dim(2, "axes"),
            dim(positions, "positions"),
            dim(hidden, "features"),
        ],
    )];
    dense(&mut enc, "patch_embedder/input_proj", pixels, hidden, false);
    for i in 0..layers {
        let b = format!("encoder_block_{i}");
        let linear = |w: &mut Vec<Weight>, name: &str, dims: &[(u64, &'static str)]| {
            let dims = dims.iter().map(|&(n, l)| dim(n, l)).collect();
            w.push(Weight::new(format!("{b}/{name}/dense/kernel"), dims));
            if clipped {
                for bound in ["input_min", "input_max", "output_min", "output_max"] {
                    w.push(Weight::new(format!("{b}/{name}/{bound}"), Vec::new()).frozen());
                }
            }
        };
        for norm in ["pre_attention_norm", "post_attention_norm"] {
            rms_norm(&mut enc, &format!("{b}/{norm}"), hidden);
        }
        let per_head = |n: u64| [(n, "heads"), (hidden, "inputs"), (head_dim, "head_dim")];
        linear(&mut enc, "attention/query", &per_head(heads));
        linear(&mut enc, "attention/key", &per_head(kv));
        linear(&mut enc, "attention/value", &per_head(kv));
        rms_norm(&mut enc, &format!("{b}/attention/query_norm"), head_dim);
        rms_norm(&mut enc, &format!("{b}/attention/key_norm"), head_dim);
        linear(
            &mut enc,
            "attention/attention_output",
            &[(heads, "heads"), (head_dim, "head_dim"), (hidden, "units")],
        );
        for norm in ["pre_ffw_norm", "post_ffw_norm"] {
            rms_norm(&mut enc, &format!("{b}/{norm}"), hidden);
        }
        let up = [(hidden, "inputs"), (inter, "units")];
        linear(&mut enc, "ffw_gating", &up);
        linear(&mut enc, "ffw_gating_2", &up);
        linear(
            &mut enc,
            "ffw_linear",
            &[(inter, "inputs"), (hidden, "units")],
        );
    }
    let mut out = Vec::new();
    if standardize {
        for name in ["std_bias", "std_scale"] {
            out.push(Weight::new(name, vec![dim(hidden, "features")]).frozen());
        }
    }
    dense(
        &mut out,
        "vision_input_projection",
        hidden,
        output_dim,
        false,
    );
    let rows = vec![
        Row::new(
            "pixel_values",
            "InputLayer",
            images(Some(pixels)),
            Vec::new(),
        ),
        Row::new(
            "pixel_position_ids",
            "InputLayer",
            images(Some(2)),
            Vec::new(),
        ),
        Row::new(
            "image_encoder",
            "Gemma4VisionEncoderBlock",
            images(Some(hidden)),
            enc,
        ),
        Row::new(
            "pooling",
            "Gemma4VisionAveragePooling",
            images(Some(hidden)),
            Vec::new(),
        ),
        Row::new(
            "vision_output_encoder",
            "Gemma4VisionOutput",
            images(Some(output_dim)),
            out,
        ),
    ];
    Ok(Encoder {
        rows,
        output_dim,
        hf_vision,
    })
}

/// A Gemma4VisionEncoder read alone.
pub fn standalone(a: &Args) -> Result<Backbone> {
    let enc = read(a)?;
    Ok(Backbone::untokenized(
        Some(enc.hf_vision),
        enc.rows,
        enc.output_dim,
        &["pixel_position_ids", "pixel_values"],
    ))
}

/// gemma4's embedder after the twin tower, `output_dim` wide.
pub fn twin_edit(a: &Args) -> Result<super::TwinEdit> {
    let output = VisionOutput::Gemma4Embedder {
        width: read(a)?.output_dim,
    };
    Ok(Box::new(move |arch: &mut TransformerArch| {
        if let Some(vm) = arch.details.vision_model.as_mut() {
            vm.output = output;
        }
    }))
}

/// The `vision_encoder` a Gemma4Backbone holds, if any, with the name its row takes
/// (its config carries none: keras-hub's `get_config` leaves it out, so Keras names it
/// after the class).
pub fn nested(a: &Args) -> Result<Option<(String, Encoder)>> {
    let Some(value) = a.config.get("vision_encoder").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    if registered_class(value) != Some(CLASS) {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'vision_encoder' must be a serialized keras-hub {CLASS}",
                a.class_name
            ),
        ));
    }
    let config = config_of(value, CLASS, a.location)?;
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("gemma4_vision_encoder")
        .to_string();
    let args = Args {
        config,
        class_name: CLASS,
        location: a.location,
    };
    Ok(Some((name, read(&args)?)))
}
