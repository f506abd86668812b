//! What `memory` lowers of a D-FINE model (`memory::d_fine` builds the step from it): the
//! feature extractor as its translated Keras graph at the run's image size, the maps the
//! hybrid encoder reads of it, and the constructor arguments of the layers after it.
use serde_json::Value;

use super::super::blocks::Args;
use super::super::registered_class;
use super::config::{bad, Config};
use super::{denoising_queries, extractor, feature_maps, hgnetv2};
use crate::error::{Error, Result};
use crate::formats::keras;

/// A D-FINE backbone at one image size.
pub struct DFine {
    pub(crate) config: Config,
    /// The `HGNetV2Backbone` as its functional graph, at the image size.
    pub(crate) extractor: keras::Model,
    /// Per level the hybrid encoder reads: the extractor output's index, its channels,
    /// height and width.
    pub(crate) levels: Vec<(usize, u64, u64, u64)>,
    /// Height, width, channels of the image.
    pub(crate) image: [u64; 3],
    /// `weight_embedding` holds the initial queries (built only when the image size,
    /// hence the anchors, is known).
    pub(crate) learned_queries: bool,
    /// Denoising queries per image the config's `labels` make (training only).
    pub(crate) denoising_queries: Option<u64>,
    /// The backbone was saved with `trainable: false`.
    pub(crate) frozen: bool,
}

/// The `DFineBackbone` of `value` (itself, or a `DFineObjectDetector`'s) when its
/// extractor is an `HGNetV2Backbone`; `None` for any other model.
pub fn source(value: &Value) -> Option<&Value> {
    let backbone = match registered_class(value)? {
        "DFineBackbone" => value,
        "DFineObjectDetector" => value.get("config")?.get("backbone")?,
        _ => return None,
    };
    let extractor = backbone.get("config")?.get("backbone")?;
    (registered_class(backbone) == Some("DFineBackbone")
        && registered_class(extractor) == Some("HGNetV2Backbone"))
    .then_some(backbone)
}

/// The backbone `value` (from [`source`]) at `side` × `side` pixels where its
/// `image_shape` leaves the size unknown.
pub fn lowering(value: &Value, side: Option<u64>, location: &str) -> Result<DFine> {
    let original = value
        .get("config")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::invalid(location, "DFineBackbone has no 'config' object"))?;
    let image = |config: &serde_json::Map<String, Value>| -> Option<Vec<Option<u64>>> {
        config
            .get("image_shape")
            .and_then(Value::as_array)
            .map(|dims| dims.iter().map(Value::as_u64).collect())
    };
    let known = image(original).is_some_and(|d| d.len() == 3 && d.iter().all(Option::is_some));
    let mut config = original.clone();
    if !known {
        let side = side.ok_or_else(|| {
            Error::invalid(
                location,
                "D-FINE whose image_shape leaves the image size unknown needs --seq (the image side in pixels)",
            )
        })?;
        fill_image(&mut config, side);
        if let Some(Value::Object(nested)) = config.get_mut("backbone") {
            if let Some(Value::Object(inner)) = nested.get_mut("config") {
                fill_image(inner, side);
            }
        }
    }
    let a = Args {
        config: &config,
        class_name: "DFineBackbone",
        location,
    };
    let c = Config::of(&a)?;
    let Some(nested) = hgnetv2(&a)? else {
        return Err(bad(
            &a,
            "its feature extractor is not an HGNetV2Backbone".into(),
        ));
    };
    if let Some(&l) = c
        .encode_proj_layers
        .iter()
        .find(|&&l| l as usize >= c.levels)
    {
        return Err(bad(
            &a,
            format!(
                "encode_proj_layers names level {l}, past the {} levels of encoder_in_channels",
                c.levels
            ),
        ));
    }
    let ex = extractor(nested, location)?;
    // read with every layer's config, as memory's Keras lowering needs them
    let model = keras::model_from_value(&ex.translated, None, location)?;
    let levels = feature_maps(&a, &c, &ex)?
        .into_iter()
        .map(|(name, shape, output)| match shape[..] {
            [_, Some(h), Some(w), Some(ch)] => Ok((output, ch, h, w)),
            _ => Err(bad(
                &a,
                format!("the backbone's '{name}' has no known size"),
            )),
        })
        .collect::<Result<_>>()?;
    let dims = image(&config).unwrap_or_default();
    let [Some(h), Some(w), Some(ch)] = dims[..] else {
        return Err(bad(
            &a,
            "'image_shape' must be (height, width, channels)".into(),
        ));
    };
    let denoising_queries = match (c.denoising, c.with_labels) {
        (true, true) => Some(denoising_queries(&a)?.1),
        _ => None,
    };
    Ok(DFine {
        learned_queries: c.learn_initial_query && known,
        config: c,
        extractor: model,
        levels,
        image: [h, w, ch],
        denoising_queries,
        frozen: original.get("trainable") == Some(&Value::Bool(false)),
    })
}

/// `image_shape`'s unknown height and width set to `side`.
fn fill_image(config: &mut serde_json::Map<String, Value>, side: u64) {
    match config.get_mut("image_shape") {
        Some(Value::Array(dims)) => {
            for d in dims.iter_mut().take(2).filter(|d| d.is_null()) {
                *d = Value::from(side);
            }
        }
        _ => {
            config.insert("image_shape".into(), serde_json::json!([side, side, 3]));
        }
    }
}
