//! Layers no rule knows: custom layers (`@register_keras_serializable` classes),
//! `Lambda`, and `keras.ops` nodes without a shape rule of their own.
//!
//! Weights: every variable Keras saved under `layers/<name>/` in the archive's
//! `model.weights.h5` (a custom layer's own `add_weight`s and those of the layers it
//! holds), else the user's declaration (`layers::declared`); `Lambda` and ops have none. Output shapes: Lambda's `output_shape`, else what
//! the layer's consumers recorded (the `shape` of each `__keras_tensor__` argument, a
//! Sequential successor's `build_config`); a layer nobody consumes (a model output) has
//! an unknown shape, shown as such.
use crate::error::Result;
use crate::layers::{self, LayerCtx};
use crate::shape::Shape;
use crate::weight::{dim, Weight};

use super::h5::Tree;
use super::shape_from_json;

/// The saved weights of a `.keras` archive, seen from one model or layer.
pub struct Saved<'a> {
    tree: &'a Tree,
    prefix: String,
}

impl<'a> Saved<'a> {
    pub fn root(tree: &'a Tree) -> Saved<'a> {
        Saved {
            tree,
            prefix: String::new(),
        }
    }

    /// The view of layer `name` of this model (Keras saves `model.layers` by name).
    pub fn layer(&self, name: &str) -> Saved<'a> {
        Saved {
            tree: self.tree,
            prefix: format!("{}layers/{name}/", self.prefix),
        }
    }

    /// Every dataset under this view, in the file's (name) order. Keras saves a layer's
    /// trainable variables before its non-trainable ones but records no flag; the one
    /// case told apart is a BatchNormalization held by a custom layer (its `vars` group
    /// named `batch_normalization…`, as Keras names it), whose last two variables are
    /// the moving statistics.
    fn weights(&self, trainable: bool) -> Vec<Weight> {
        let mut out = Vec::new();
        for (path, dims) in self.tree.datasets.range(self.prefix.clone()..) {
            let Some(relative) = path.strip_prefix(&self.prefix) else {
                break;
            };
            let group = &path[..path.rfind('/').unwrap_or(0)];
            let statistics = self
                .tree
                .group_names
                .get(group)
                .is_some_and(|n| n.starts_with("batch_normalization"))
                && self.is_last_two(group, path);
            let weight = Weight::new(
                relative.replace("/vars/", "/"),
                dims.iter().map(|&d| dim(d, "saved")).collect(),
            );
            out.push(if trainable && !statistics {
                weight
            } else {
                weight.frozen()
            });
        }
        out
    }

    /// Whether `path` is one of the two highest-numbered variables of `group`.
    fn is_last_two(&self, group: &str, path: &str) -> bool {
        let prefix = format!("{group}/");
        let count = self
            .tree
            .datasets
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .count();
        let index = path[prefix.len()..].parse::<usize>().unwrap_or(0);
        index + 2 >= count
    }
}

/// A layer counted without a rule.
#[derive(Debug, Clone)]
pub struct Counted {
    pub weights: Vec<Weight>,
    pub outputs: Vec<Shape>,
    /// False when nothing recorded the output shape (it is then shown as unknown).
    pub shape_known: bool,
}

pub fn count(ctx: &LayerCtx, inputs: &[Shape], op: bool, saved: Option<&Saved>) -> Result<Counted> {
    let declaration = layers::declared::lookup(ctx.class_name);
    let declared = match &declaration {
        Some(d) if !op => Some(d.build(ctx, inputs)?),
        _ => None,
    };
    let trainable = ctx.bool_or("trainable", true)?;
    let (weights, declared_output) = match (saved, declared) {
        _ if op || ctx.class_name == "Lambda" => (Vec::new(), None),
        // Saved weights are the truth; a declaration may still give the output shape.
        (Some(s), declared) => (
            s.layer(ctx.name).weights(trainable),
            declared.and_then(|d| d.1),
        ),
        (None, Some((weights, output))) => {
            let weights = weights
                .into_iter()
                .map(|w| if trainable { w } else { w.frozen() })
                .collect();
            (weights, output)
        }
        (None, None) => return Err(layers::unknown_class(ctx, op)),
    };
    if let Some(shape) = declared_output {
        return Ok(Counted {
            weights,
            outputs: vec![shape],
            shape_known: true,
        });
    }
    if let Some(declared) = ctx
        .value("output_shape")
        .filter(|_| ctx.class_name == "Lambda")
    {
        let mut shape = shape_from_json(declared, "'output_shape'", &ctx.location)?;
        // Lambda's output_shape leaves out the batch axis (Keras adds the input's).
        shape.insert(0, inputs.first().and_then(|s| s.first().copied()).flatten());
        return Ok(Counted {
            weights,
            outputs: vec![shape],
            shape_known: true,
        });
    }
    match ctx.consumers {
        Some(seen) if !seen.is_empty() => Ok(Counted {
            weights,
            outputs: seen.to_vec(),
            shape_known: true,
        }),
        _ if op => Err(ctx.shape_err(format!(
            "the output shape of keras.ops node {} is not known: no rule, and no layer consumes it",
            ctx.class_name
        ))),
        _ => Ok(Counted {
            weights,
            outputs: vec![Shape::new()],
            shape_known: false,
        }),
    }
}
