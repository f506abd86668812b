//! keras-hub's `StableDiffusion3Backbone`: two CLIP text encoders (`clip_l`, `clip_g`,
//! read by clip.rs) and an optional T5 encoder (t5.rs's layers) make the text context,
//! the `MMDiT` denoiser (mmdit.rs) runs one Euler step on the latent, and a VAE
//! (vae.rs) maps images to latents and back. Its task models (`TextToImage`,
//! `ImageToImage`, `Inpaint`) are functional models on the backbone's own inputs and
//! outputs: the same layers, no weights of their own.
//!
//! Rows (`model.layers` of stable_diffusion_3_backbone.py's functional graph): the nested
//! text encoders, `diffuser` (the MMDiT) and the VAE's `encoder`, `distribution_sampler`
//! and `decoder` (called directly by the backbone: the VAE itself is no row) are one row
//! each; every other layer is weightless except the `clip_*_projection` Dense (no bias).
//! The graph's shape never changes with the sizes (each nested model is one node), so
//! the order is written out; T5's two inputs and its encoder join when it is given.
use serde_json::Value;

use super::blocks::{Args, Row};
use super::mmdit::Mmdit;
use super::t5;
use super::vae::{self, Vae};
use super::vit::ints;
use super::{clip, config_of, Backbone};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::summary::OutputShape;
use crate::weight::{dim, Weight};

/// The text context width without T5 (keras-hub pads the CLIP features to T5-XXL's).
const CONTEXT_WITHOUT_T5: u64 = 4096;

/// The backbone read: its rows, and the sizes memory lowers its denoiser from.
pub struct Sd3 {
    pub rows: Vec<Row>,
    pub mmdit: Mmdit,
    /// Text tokens of the context keras-hub builds without T5 (CLIP's sequence padded
    /// with as many zero rows); `None` with T5, whose length is its preprocessor's.
    pub context_tokens: Option<u64>,
}

/// The denoiser of a `StableDiffusion3Backbone` or of a task model nesting one, and its
/// default text context (see [`Sd3::context_tokens`]); `None` for any other model.
pub fn denoiser(value: &Value, location: &str) -> Result<Option<Sd3>> {
    let class_name = |v: &Value| {
        v.get("registered_name")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let backbone = match value.get("config").and_then(|c| c.get("backbone")) {
        Some(nested) => nested,
        None => value,
    };
    if class_name(backbone).as_deref() != Some("keras_hub>StableDiffusion3Backbone") {
        return Ok(None);
    }
    let class = "StableDiffusion3Backbone";
    let config = config_of(backbone, class, location)?;
    read(&Args {
        config,
        class_name: class,
        location,
    })
    .map(Some)
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    let sd3 = read(a)?;
    Ok(Backbone {
        pooled: true,
        ..Backbone::untokenized(None, sd3.rows, sd3.mmdit.hidden, &[])
    })
}

pub fn read(a: &Args) -> Result<Sd3> {
    let image = match a.config.get("image_shape") {
        None | Some(Value::Null) => [1024, 1024, 3],
        Some(_) => {
            let v = ints(a, "image_shape", 3)?;
            [v[0], v[1], v[2]]
        }
    };
    if image[0] % 8 != 0 || image[1] % 8 != 0 {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config: image_shape {image:?} must have a height and width divisible by 8 (the latent is image_shape / 8)",
                a.class_name
            ),
        ));
    }
    let latent_channels = a.dim_or("latent_channels", 16)?;
    let latent = [image[0] / 8, image[1] / 8, latent_channels];

    let (clip_l_name, clip_l) = clip::nested(a, "clip_l", "CLIPTextEncoder")?;
    let clip_tokens = clip_l.hf["max_position_embeddings"].as_u64().unwrap_or(0);
    let (clip_g_name, clip_g) = clip::nested(a, "clip_g", "CLIPTextEncoder")?;
    let t5 = match a.config.get("t5") {
        None | Some(Value::Null) => None,
        Some(value) => Some(nested(a, "t5", value, "T5Encoder")?),
    };
    let vae_value = a.config.get("vae").unwrap_or(&Value::Null);
    let (_, vae_args) = nested(a, "vae", vae_value, "VAEBackbone")?;
    let vae = vae::read(&vae_args)?;

    let width = |e: &clip::Encoder| e.hf["hidden_size"].as_u64().unwrap_or(0);
    let (clip_l_hidden, clip_g_hidden) = (width(&clip_l), width(&clip_g));
    let t5_sizes = t5
        .as_ref()
        .map(|(_, args)| t5::Sizes::read(args))
        .transpose()?;
    let context = t5_sizes.as_ref().map_or(CONTEXT_WITHOUT_T5, |s| s.hidden);
    if clip_l_hidden + clip_g_hidden > context {
        return Err(Error::invalid(
            a.location,
            format!(
                "{}: the CLIP encoders' widths ({clip_l_hidden} + {clip_g_hidden}) exceed the text context ({context}, T5's hidden_dim or 4096): keras-hub pads the CLIP features up to it",
                a.class_name
            ),
        ));
    }
    let mmdit = Mmdit::read(a, latent, context, clip_l_hidden + clip_g_hidden)?;

    let mut rows = Vec::new();
    let token_input = |name: &str| Row::new(name, "InputLayer", vec![None, None], Vec::new());
    for name in [
        "clip_l_token_ids",
        "clip_g_token_ids",
        "clip_l_negative_token_ids",
        "clip_g_negative_token_ids",
    ] {
        rows.push(token_input(name));
    }
    rows.push(encoder_row(
        &clip_l_name,
        "CLIPTextEncoder",
        &clip_l.rows,
        None,
    ));
    rows.push(encoder_row(
        &clip_g_name,
        "CLIPTextEncoder",
        &clip_g.rows,
        None,
    ));
    if t5.is_some() {
        rows.push(token_input("t5_token_ids"));
        rows.push(token_input("t5_negative_token_ids"));
    }
    let scalar = |name: &str, class: &str| Row::new(name, class, vec![None], Vec::new());
    rows.push(scalar("num_steps", "InputLayer"));
    for (name, hidden) in [
        ("clip_l_projection", clip_l_hidden),
        ("clip_g_projection", clip_g_hidden),
    ] {
        // the pooled token through a square Dense without bias
        let kernel = Weight::new(
            "dense/kernel",
            vec![dim(hidden, "hidden"), dim(hidden, "hidden")],
        );
        rows.push(Row::new(
            name,
            "CLIPProjection",
            vec![None, Some(hidden)],
            vec![kernel],
        ));
    }
    let latent_shape: Shape = std::iter::once(None)
        .chain(latent.iter().copied().map(Some))
        .collect();
    rows.push(Row::new(
        "latents",
        "InputLayer",
        latent_shape.clone(),
        Vec::new(),
    ));
    rows.push(multi_output("clip_concatenate", "CLIPConcatenate"));
    if let (Some((name, _)), Some(sizes)) = (&t5, &t5_sizes) {
        let mut weights = sizes.token_row().weights;
        for i in 0..sizes.layers {
            let layer = format!("transformer_encoder_layer_{i}");
            weights.extend(sizes.layer(i, false).into_iter().map(|w| Weight {
                name: format!("{layer}/{}", w.name),
                ..w
            }));
        }
        weights.extend(sizes.output_norm("encoder").weights);
        rows.push(encoder_row(
            name,
            "T5Encoder",
            &[Row::new("", "", Vec::new(), weights)],
            Some(vec![None, None, Some(sizes.hidden)]),
        ));
    }
    rows.push(multi_output("scheduler", "FlowMatchEulerDiscreteScheduler"));
    rows.push(scalar("timestep_broadcast_to", "TimestepBroadcastTo"));
    rows.push(scalar("guidance_scale", "InputLayer"));
    // Unpatch's output shape leaves the spatial axes unknown
    let noise: Shape = vec![None, None, None, Some(latent_channels)];
    rows.push(Row {
        nested: true,
        ..Row::new("diffuser", "MMDiT", noise.clone(), mmdit.weights())
    });
    rows.push(Row::new(
        "classifier_free_guidance",
        "ClassifierFreeGuidance",
        noise,
        Vec::new(),
    ));
    let image_shape: Shape = std::iter::once(None)
        .chain(image.iter().copied().map(Some))
        .collect();
    rows.push(Row::new("images", "InputLayer", image_shape, Vec::new()));
    rows.push(Row::new(
        "euler_step",
        "EulerStep",
        latent_shape.clone(),
        Vec::new(),
    ));
    rows.extend(vae_rows(&vae, image, latent_shape));
    let context_tokens = t5.is_none().then_some(2 * clip_tokens);
    Ok(Sd3 {
        rows,
        mmdit,
        context_tokens,
    })
}

/// The VAE's layers as the backbone calls them: `encoder`, `latent_rescaling` (the
/// denoised latent back to the VAE's scale), the sampler, `decoder`, and
/// `image_rescaling` (the encoded image to the latent's scale). The VAE layers were first
/// called in the VAE's own graph on an image of unknown size, which is the output shape
/// Keras shows for them.
fn vae_rows(vae: &Vae, image: [u64; 3], latent_shape: Shape) -> Vec<Row> {
    let unknown = |channels: u64| vec![None, None, None, Some(channels)];
    let half = vae.sample_channels / 2;
    let encoded: Shape = vec![
        None,
        Some(image[0] / vae.downsampling),
        Some(image[1] / vae.downsampling),
        Some(half),
    ];
    vec![
        Row::new(
            "encoder",
            "VAEEncoder",
            unknown(vae.sample_channels),
            vae.encoder.clone(),
        ),
        Row::new(
            "latent_rescaling",
            "LatentRescaling",
            latent_shape,
            Vec::new(),
        ),
        Row::new(
            "distribution_sampler",
            "DiagonalGaussianDistributionSampler",
            unknown(half),
            Vec::new(),
        ),
        Row::new(
            "decoder",
            "VAEDecoder",
            unknown(vae.output_channels),
            vae.decoder.clone(),
        ),
        Row::new("image_rescaling", "ImageRescaling", encoded, Vec::new()),
    ]
}

/// A nested model's row: its layers' weights under its name, `output` its shape (`None`:
/// a dict of outputs).
fn encoder_row(name: &str, class: &str, rows: &[Row], output: Option<Shape>) -> Row {
    Row {
        name: name.to_string(),
        class_name: class.to_string(),
        output_shape: output.map(OutputShape::Single),
        weights: rows
            .iter()
            .flat_map(|r| &r.weights)
            .map(|w| Weight {
                name: format!("{name}/{}", w.name),
                ..w.clone()
            })
            .collect(),
        nested: true,
    }
}

/// A weightless layer returning several tensors (no single shape).
fn multi_output(name: &str, class: &str) -> Row {
    Row {
        output_shape: None,
        ..Row::new(name, class, Vec::new(), Vec::new())
    }
}

/// A model serialized under `key` whose class is `class` (keras-hub registers the T5
/// encoder and the VAE under their bare class names): its name and constructor arguments.
fn nested<'v>(
    a: &Args<'v>,
    key: &str,
    value: &'v Value,
    class: &'static str,
) -> Result<(String, Args<'v>)> {
    if value.get("class_name").and_then(Value::as_str) != Some(class) {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key '{key}' must be a serialized keras-hub {class}",
                a.class_name
            ),
        ));
    }
    let config = config_of(value, class, a.location)?;
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(class)
        .to_string();
    Ok((
        name,
        Args {
            config,
            class_name: class,
            location: a.location,
        },
    ))
}
