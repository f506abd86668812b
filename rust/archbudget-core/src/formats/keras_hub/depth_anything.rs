//! keras-hub's DepthAnythingBackbone and DepthAnythingDepthEstimator (Depth Anything V2).
//!
//! Computes: a DINOV2Backbone `image_encoder` ([`super::dinov2`]) whose pyramid outputs
//! (`stem`, `stage1` … `stageN`, or `feature_keys`) a `keras.Model` returns (one
//! `functional` row), the `neck` (per feature: tokens to a patch grid, `reassemble_stage`
//! and a 3×3 convolution to `fusion_hidden_dim`; then one `fusion_stage` per feature) and the
//! `head` (convolutions to the image's depth map). The estimator adds an output activation
//! (ReLU for relative depth, a sigmoid for metric), a `Multiplier` and an `Identity`.
//! Weights: the encoder's as DINOv2 holds them; its final `layernorm` is in the functional
//! row only when `apply_layernorm` (the norm then acts on the pyramid outputs), though the
//! backbone always holds it. Per feature of `neck_hidden_dims` n and factor f: a biased 1×1
//! projection hidden → n, a biased resize (f > 1: a transposed f×f convolution, f < 1: a 3×3
//! convolution, f = 1: none) n → n, a 3×3 convolution n → fusion without bias; per fusion
//! stage two pre-activation residual layers (two biased 3×3 convolutions each) and a biased
//! 1×1 projection, fusion wide; the head's biased convolutions 3×3 fusion → fusion // 2,
//! 3×3 → `head_hidden_dim` and 1×1 → 1.
//! Output shape: `[None, (h // patch) · patch, (w // patch) · patch, 1]`.
//! Mirrors: `keras_hub/src/models/depth_anything/` of keras-hub 0.32 (channels_last).
//!
//! The transformers twin is depth_anything on the encoder's dinov2 twin ([`super::dinov2`]),
//! reading the same features (`out_indices`), `reshape_hidden_states` false;
//! [`twin_edit`] sets what its config cannot say: keras-hub's MLP width and mask token, the
//! neck dropping the register tokens too, and, for the backbone alone, no output
//! activation (the estimator adds it). What else differs is left out of the memory model
//! (see `memory/hf_depth_anything.rs`).
use serde_json::{json, Value};

use super::blocks::{Args, Row};
use super::dinov2::shape_or;
use super::{config_of, dinov2, registered_class, Backbone, TwinEdit};
use crate::arch::TransformerArch;
use crate::error::{Error, Result};
use crate::formats::hf::depth_anything::DepthOutput;
use crate::shape::Shape;
use crate::weight::{dim, Weight};

/// The `image_encoder`'s arguments, a serialized DINOV2Backbone.
fn encoder_args<'a>(a: &Args<'a>) -> Result<Args<'a>> {
    let value = a.config.get("image_encoder").unwrap_or(&Value::Null);
    if registered_class(value) != Some("DINOV2Backbone") {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'image_encoder' must be a serialized keras-hub DINOV2Backbone",
                a.class_name
            ),
        ));
    }
    Ok(Args {
        config: config_of(value, "DINOV2Backbone", a.location)?,
        class_name: "DINOV2Backbone",
        location: a.location,
    })
}

/// The backbone's rows and the encoder weights no row shows (a final norm not applied).
pub(super) fn parts(a: &Args) -> Result<(Vec<Row>, Vec<Weight>, Shape)> {
    let e = encoder_args(a)?;
    let encoder = dinov2::backbone(&e)?;
    let hidden = encoder.hidden;
    let layers = e.dim("num_layers")?;
    let patch = e.dim("patch_size")?;
    let image = shape_or(&e, "image_shape", [224, 224, 3])?;
    let mut encoder_rows = encoder.rows;
    let images = encoder_rows.remove(0);
    let final_norm = encoder_rows.pop().expect("DINOv2 ends with its layernorm");
    let mut unlisted = Vec::new();
    match e.flag_or("apply_layernorm", false)? {
        true => encoder_rows.push(final_norm),
        false => unlisted = final_norm.weights,
    }
    let features = feature_stages(a, layers)?.len() as u64;
    let factors = factors(a)?;
    let dims = a.count_list("neck_hidden_dims")?;
    if factors.len() as u64 != features || dims.len() != factors.len() || factors.len() < 2 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: 'reassemble_factors' ({}) and 'neck_hidden_dims' ({}) must both have one entry per feature ({features}), at least two",
                a.class_name,
                factors.len(),
                dims.len()
            ),
        ));
    }
    let fusion = a.dim("fusion_hidden_dim")?;
    let head_hidden = a.dim("head_hidden_dim")?;
    let mut neck = Vec::new();
    for (i, (&n, &f)) in dims.iter().zip(&factors).enumerate() {
        let stage = format!("reassemble_stage_{i}");
        conv(
            &mut neck,
            &format!("{stage}/projection"),
            1,
            hidden,
            n,
            true,
        );
        if f > 1.0 {
            // a transposed kernel is `[k, k, filters, inputs]`: n both
            conv(&mut neck, &format!("{stage}/resize"), f as u64, n, n, true);
        } else if f < 1.0 {
            conv(&mut neck, &format!("{stage}/resize"), 3, n, n, true);
        }
        conv(&mut neck, &format!("convs_{i}"), 3, n, fusion, false);
    }
    for i in 0..factors.len() {
        let stage = format!("fusion_stage_{i}");
        for residual in ["residual_layer1", "residual_layer2"] {
            for c in ["convolution1", "convolution2"] {
                conv(
                    &mut neck,
                    &format!("{stage}/{residual}/{c}"),
                    3,
                    fusion,
                    fusion,
                    true,
                );
            }
        }
        conv(
            &mut neck,
            &format!("{stage}/projection"),
            1,
            fusion,
            fusion,
            true,
        );
    }
    let mut head = Vec::new();
    conv(&mut head, "conv1", 3, fusion, fusion / 2, true);
    conv(&mut head, "conv2", 3, fusion / 2, head_hidden, true);
    conv(&mut head, "conv3", 1, head_hidden, 1, true);
    let depth: Shape = vec![
        None,
        Some(image[0] / patch * patch),
        Some(image[1] / patch * patch),
        Some(1),
    ];
    let rows = vec![
        images,
        Row {
            name: "functional".to_string(),
            class_name: "Functional".to_string(),
            output_shape: None,
            weights: encoder_rows.into_iter().flat_map(|r| r.weights).collect(),
            nested: true,
        },
        Row {
            output_shape: None,
            ..Row::new("neck", "DepthAnythingNeck", Vec::new(), neck)
        },
        Row::new(
            "head",
            "DepthAnythingDepthEstimationHead",
            depth.clone(),
            head,
        ),
    ];
    Ok((rows, unlisted, depth))
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    let (rows, _, _) = parts(a)?;
    Ok(Backbone::untokenized(Some(twin(a)?), rows, 1, &["images"]))
}

/// The stages `feature_keys` names (`stem` 0, `stage{i}` i), every one when absent, as
/// keras-hub picks them from the encoder's `pyramid_outputs`.
fn feature_stages(a: &Args, layers: u64) -> Result<Vec<u64>> {
    let bad = |v: &Value| {
        Error::invalid(
            a.location,
            format!(
                "{} config key 'feature_keys' must be a list of 'stem' and 'stage1' … 'stage{layers}', got {v}",
                a.class_name
            ),
        )
    };
    match a.config.get("feature_keys") {
        None | Some(Value::Null) => Ok((0..=layers).collect()),
        Some(Value::Array(keys)) => keys
            .iter()
            .map(|k| {
                let stage = match k.as_str() {
                    Some("stem") => Some(0),
                    Some(name) => name
                        .strip_prefix("stage")
                        .and_then(|i| i.parse::<u64>().ok())
                        .filter(|&i| (1..=layers).contains(&i)),
                    None => None,
                };
                stage.ok_or_else(|| bad(k))
            })
            .collect(),
        Some(v) => Err(bad(v)),
    }
}

/// The transformers depth_anything config of the backbone (its output relative depth; see
/// [`twin_edit`]).
fn twin(a: &Args) -> Result<Value> {
    let e = encoder_args(a)?;
    let mut encoder = dinov2::backbone(&e)?
        .hf_config
        .ok_or_else(|| crate::Error::Internal("dinov2 without its twin".into()))?;
    encoder["out_indices"] = json!(feature_stages(a, e.dim("num_layers")?)?);
    encoder["apply_layernorm"] = json!(e.flag_or("apply_layernorm", false)?);
    encoder["reshape_hidden_states"] = json!(false);
    Ok(json!({
        "model_type": "depth_anything",
        "backbone_config": encoder,
        "patch_size": e.dim("patch_size")?,
        "reassemble_hidden_size": e.dim("hidden_dim")?,
        "reassemble_factors": factors(a)?,
        "neck_hidden_sizes": a.count_list("neck_hidden_dims")?,
        "fusion_hidden_size": a.dim("fusion_hidden_dim")?,
        "head_hidden_size": a.dim("head_hidden_dim")?,
        "head_in_index": head_in_index(a)?,
    }))
}

/// `head_in_index`, an integer (negative from the end).
fn head_in_index(a: &Args) -> Result<i64> {
    let v = a.config.get("head_in_index").unwrap_or(&Value::Null);
    v.as_i64().ok_or_else(|| {
        Error::invalid(
            a.location,
            format!(
                "{} config key 'head_in_index' must be an integer, got {v}",
                a.class_name
            ),
        )
    })
}

/// The backbone's twin edit: the encoder's ([`dinov2::twin_edit`]), the neck dropping the
/// register tokens too, and no output activation (the backbone ends at conv3).
pub fn twin_edit(a: &Args) -> Result<TwinEdit> {
    with_output(a, DepthOutput::Bare)
}

/// The estimator's twin edit: the backbone's, with its output activation (ReLU for
/// relative depth, sigmoid for metric; then the `Multiplier`, as transformers'
/// `* max_depth`).
pub fn estimator_twin_edit(a: &Args, nested: &Value) -> Result<TwinEdit> {
    let b = Args {
        config: config_of(nested, "DepthAnythingBackbone", a.location)?,
        class_name: "DepthAnythingBackbone",
        location: a.location,
    };
    let output = match a
        .config
        .get("depth_estimation_type")
        .and_then(Value::as_str)
    {
        Some("metric") => DepthOutput::Metric,
        _ => DepthOutput::Relative,
    };
    with_output(&b, output)
}

fn with_output(a: &Args, output: DepthOutput) -> Result<TwinEdit> {
    let encoder = dinov2::twin_edit(&encoder_args(a)?)?;
    Ok(Box::new(move |arch: &mut TransformerArch| {
        encoder(arch);
        if let Some(d) = arch.details.depth_anything.as_mut() {
            d.drops_registers = true;
            d.output = output;
        }
    }))
}

/// The encoder weights a DepthAnythingBackbone holds beyond its rows.
pub fn unlisted(a: &Args) -> Result<Vec<Weight>> {
    Ok(parts(a)?.1)
}

/// DepthAnythingDepthEstimator's rows: the image, the backbone as one row (every weight it
/// holds), the output activation, the `Multiplier` and the `depths` Identity.
pub fn estimator_rows(name: &str, value: &Value, a: &Args) -> Result<Vec<Row>> {
    let b = Args {
        config: config_of(value, "DepthAnythingBackbone", a.location)?,
        class_name: "DepthAnythingBackbone",
        location: a.location,
    };
    let (mut rows, unlisted, depth) = parts(&b)?;
    let features = rows.split_off(1);
    let mut weights: Vec<Weight> = features.into_iter().flat_map(|r| r.weights).collect();
    weights.extend(unlisted);
    rows.push(Row {
        name: name.to_string(),
        class_name: "DepthAnythingBackbone".to_string(),
        output_shape: Some(crate::summary::OutputShape::Single(depth.clone())),
        weights,
        nested: true,
    });
    let activation = match a
        .config
        .get("depth_estimation_type")
        .and_then(Value::as_str)
    {
        Some("relative") => "ReLU",
        Some("metric") => "Activation",
        _ => {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config key 'depth_estimation_type' must be 'relative' or 'metric'",
                    a.class_name
                ),
            ))
        }
    };
    for (layer, class) in [
        ("output_activation", activation),
        ("multiplier", "Multiplier"),
        ("depths", "Identity"),
    ] {
        rows.push(Row::new(layer, class, depth.clone(), Vec::new()));
    }
    Ok(rows)
}

/// `reassemble_factors`: positive numbers (a float under 1 downsamples).
fn factors(a: &Args) -> Result<Vec<f64>> {
    let v = a.config.get("reassemble_factors").unwrap_or(&Value::Null);
    v.as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|x| x.as_f64().filter(|f| *f > 0.0))
                .collect::<Option<Vec<f64>>>()
        })
        .ok_or_else(|| {
            Error::invalid(
                a.location,
                format!(
                    "{} config key 'reassemble_factors' must be a list of positive numbers, got {v}",
                    a.class_name
                ),
            )
        })
}

/// A `k`×`k` convolution's kernel `[k, k, d_in, d_out]` and, when `bias`, its bias.
fn conv(w: &mut Vec<Weight>, name: &str, k: u64, d_in: u64, d_out: u64, bias: bool) {
    w.push(Weight::new(
        format!("{name}/kernel"),
        vec![
            dim(k, "k"),
            dim(k, "k"),
            dim(d_in, "inputs"),
            dim(d_out, "filters"),
        ],
    ));
    if bias {
        w.push(Weight::new(
            format!("{name}/bias"),
            vec![dim(d_out, "filters")],
        ));
    }
}
