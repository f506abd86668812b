//! keras-hub's DFineBackbone (D-FINE) and the DFineObjectDetector on it.
//!
//! Computes: a feature extractor (an `HGNetV2Backbone`, nested; its stage outputs
//! `out_features`), a 1x1 convolution and BatchNorm per stage output
//! (`encoder_input_proj_*`), the `DFineHybridEncoder` (transformer layers on the levels
//! of `encode_proj_layers`, then FPN and PAN paths of CSP/RepVGG blocks), the decoder's
//! input projections (identities when `hidden_dim` is the encoder's width, else 1x1
//! convolutions; extra levels by strided 3x3 convolutions), the encoder's proposals
//! (`enc_output_*`, `enc_score_head`, `enc_bbox_head` on the flattened levels) and the
//! `DFineDecoder` (self-attention, multi-scale deformable cross-attention, a gated
//! residual and an FFN per layer, with class, box and localization-quality heads).
//! Weights: each layer's as keras-hub builds it; the decoder's deformable attention
//! holds only its sampling offsets and attention weights (no value or output projection)
//! and a frozen `num_points_scale`, the decoder a frozen `reg_scale` and
//! `upsampling_factor`. A `denoising_class_embed` is built when `num_denoising > 0` but
//! is in the graph only with `labels`; otherwise its table is counted in the totals only
//! (`unlisted`).
//! Mirrors: `keras_hub/src/models/d_fine/` (d_fine_backbone.py, d_fine_hybrid_encoder.py,
//! d_fine_encoder.py, d_fine_decoder.py, d_fine_attention.py, d_fine_layers.py,
//! d_fine_object_detector.py) of keras-hub 0.32.
//!
//! Rows come in Keras's `map_graph` order of the graph the constructor builds (the
//! `keras_hub_vision` ordering), each with the output shape Keras gives it where it has
//! one. `memory` lowers the same layers by hand (`lowering`, `memory::d_fine`).
mod config;
mod lowering;
mod weights;

use serde_json::Value;

use super::blocks::{dense, embedding, layer_norm, Args, Row};
use super::Backbone;
use crate::error::{Error, Result};
use crate::formats::keras;
use crate::formats::keras_hub_vision;
use crate::shape::Shape;
use crate::summary::OutputShape;
use crate::weight::{dim, Weight};
use config::{bad, Config};
pub use lowering::{lowering, source, DFine};
pub(crate) use weights::{aggregation_width, csp_blocks, MAX_NUM_BINS, TOP_PROB_VALUES};
use weights::{batch_norm, decoder, hybrid_encoder, mlp};

/// Whether `class` is D-FINE's backbone, whose `backbone` key is its feature extractor
/// (not a task model's backbone).
pub fn is_backbone(class: &str) -> bool {
    class == "DFineBackbone"
}

/// One layer of the backbone's graph: its row and the nodes its call reads, in the
/// order the call flattens its arguments (keyword arguments sorted by name).
struct Node {
    row: Row,
    parents: Vec<usize>,
    /// A `keras.ops` call (`where`, `+`): a node of the graph, in no row.
    op: bool,
}

/// The graph as the constructor calls its layers.
#[derive(Default)]
struct Graph {
    nodes: Vec<Node>,
}

impl Graph {
    fn add(&mut self, row: Row, parents: &[usize]) -> usize {
        self.nodes.push(Node {
            row,
            parents: parents.to_vec(),
            op: false,
        });
        self.nodes.len() - 1
    }

    fn op(&mut self, name: &str, class: &str, parents: &[usize]) -> usize {
        let node = self.add(row(name, class, None, Vec::new()), parents);
        self.nodes[node].op = true;
        node
    }

    /// The rows in `model.layers` order, for a model whose outputs (a dict, flattened in
    /// key order) are produced by `outputs`.
    fn rows(self, outputs: &[usize]) -> Vec<Row> {
        let parents: Vec<Vec<usize>> = self.nodes.iter().map(|n| n.parents.clone()).collect();
        let order = keras_hub_vision::map_graph_order(&parents, outputs);
        let mut rows: Vec<Option<Row>> = self
            .nodes
            .into_iter()
            .map(|n| (!n.op).then_some(n.row))
            .collect();
        order.into_iter().filter_map(|i| rows[i].take()).collect()
    }
}

/// The nested feature extractor: its row (every weight of the translated functional
/// model, `HGNetV2Backbone` as `keras_hub_vision` writes it) and the shape of each of its
/// outputs by stage name.
struct Extractor {
    row: Row,
    shapes: Vec<(String, Shape)>,
    /// The translated functional JSON, and each stage's index among its outputs (as
    /// `shapes`).
    translated: Value,
    outputs: Vec<usize>,
}

fn extractor(nested: &Value, location: &str) -> Result<Extractor> {
    let class = nested
        .get("registered_name")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("keras_hub>"))
        .unwrap_or("");
    let translated = keras_hub_vision::read(nested, location).ok_or_else(|| {
        Error::invalid(location, format!("DFineBackbone's '{class}' is not read"))
    })??;
    let model = keras::summary_model(&translated, None, location, false)?;
    let mut weights = Vec::new();
    collect_weights(&model, &model.name, &mut weights);
    // the output dict: stage name -> [layer, node, tensor]
    let refs = translated["config"]["output_layers"]
        .as_object()
        .ok_or_else(|| {
            Error::invalid(
                location,
                "the HGNetV2Backbone translation has no output dict",
            )
        })?;
    let mut shapes = Vec::new();
    let mut outputs = Vec::new();
    for (stage, r) in refs {
        let layer = r[0].as_str().unwrap_or("");
        let tensor = r[2].as_u64().unwrap_or(0) as usize;
        outputs.push(
            model
                .outputs
                .iter()
                .position(|t| model.layers[t.layer].name == layer && t.tensor == tensor)
                .unwrap_or(0),
        );
        let shape = model
            .layers
            .iter()
            .find(|l| l.name == layer)
            .and_then(|l| l.calls.first())
            .and_then(|c| c.outputs.get(tensor))
            .cloned()
            .ok_or_else(|| {
                Error::invalid(
                    location,
                    format!("HGNetV2Backbone output '{stage}' not found"),
                )
            })?;
        shapes.push((stage.clone(), shape));
    }
    // Keras returns a dict's tensors in key order
    let mut sorted = shapes.clone();
    sorted.sort_by(|x, y| x.0.cmp(&y.0));
    let row = Row {
        name: model.name.clone(),
        class_name: class.to_string(),
        output_shape: Some(OutputShape::Multi(
            sorted.into_iter().map(|(_, s)| s).collect(),
        )),
        weights,
        nested: true,
    };
    Ok(Extractor {
        row,
        shapes,
        translated,
        outputs,
    })
}

/// Every weight of a Keras model, nested models' included, named by its layer path.
fn collect_weights(model: &keras::Model, prefix: &str, out: &mut Vec<Weight>) {
    for layer in &model.layers {
        let path = format!("{prefix}/{}", layer.name);
        match &layer.nested {
            Some(inner) => collect_weights(inner, &path, out),
            None => out.extend(layer.weights.iter().map(|w| Weight {
                name: format!("{path}/{}", w.name),
                ..w.clone()
            })),
        }
    }
}

/// A row of the graph with its weights under `name`.
fn row(name: &str, class: &str, shape: Option<Shape>, weights: Vec<Weight>) -> Row {
    let mut r = Row::new(name, class, Vec::new(), weights);
    r.output_shape = shape.map(OutputShape::Single);
    r
}

/// A channels_last map's shape with `c` channels.
fn with_channels(like: &Shape, c: u64) -> Shape {
    let mut s = like.clone();
    if let Some(last) = s.last_mut() {
        *last = Some(c);
    }
    s
}

/// A 3x3 stride-2 `same` convolution's output sides.
fn halved(s: &Shape) -> Shape {
    let mut out = s.clone();
    for side in &mut out[1..3] {
        *side = side.map(|v| v.div_ceil(2));
    }
    out
}

impl Graph {
    /// A bias-free `k`x`k` `Conv2D` named `conv` and a `BatchNormalization` named `bn`
    /// after it, on `parent`; the BatchNorm's node.
    fn conv_bn(
        &mut self,
        (conv, bn): (&str, &str),
        k: u64,
        c_in: u64,
        shape: &Shape,
        parent: usize,
    ) -> usize {
        let c_out = shape[shape.len() - 1].unwrap_or(0);
        let kernel = Weight::new(
            "kernel",
            vec![
                dim(k, "kernel"),
                dim(k, "kernel"),
                dim(c_in, "in"),
                dim(c_out, "filters"),
            ],
        );
        let conv = self.add(
            row(conv, "Conv2D", Some(shape.clone()), vec![kernel]),
            &[parent],
        );
        let mut w = Vec::new();
        batch_norm(&mut w, "", c_out);
        self.add(
            row(bn, "BatchNormalization", Some(shape.clone()), w),
            &[conv],
        )
    }
}

/// The extractor's maps the hybrid encoder reads (`out_features`, by default its last
/// `levels` stages): each stage's name, shape and index among the extractor's outputs.
fn feature_maps(a: &Args, c: &Config, ex: &Extractor) -> Result<Vec<(String, Shape, usize)>> {
    let out_features: Vec<String> = match a.config.get("out_features") {
        Some(Value::Array(names)) => names
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| bad(a, "'out_features' must list stage names".to_string()))?,
        _ => {
            let mut names: Vec<String> = ex.shapes.iter().map(|(n, _)| n.clone()).collect();
            names.sort_by_key(|n| stage_index(n));
            names.split_off(names.len().saturating_sub(c.levels))
        }
    };
    if out_features.len() != c.levels {
        return Err(bad(
            a,
            format!(
                "'out_features' ({}) must name one backbone output per level of encoder_in_channels ({})",
                out_features.len(),
                c.levels
            ),
        ));
    }
    out_features
        .into_iter()
        .map(|f| {
            let i = ex.shapes.iter().position(|(n, _)| *n == f).ok_or_else(|| {
                bad(
                    a,
                    format!("'out_features' names '{f}', which the backbone does not output"),
                )
            })?;
            let shape = ex.shapes[i].1.clone();
            Ok((f, shape, ex.outputs[i]))
        })
        .collect()
}

/// The extractor of a D-FINE backbone on an `HGNetV2Backbone`; `None` on any other.
fn hgnetv2<'v>(a: &Args<'v>) -> Result<Option<&'v Value>> {
    let nested = a.config.get("backbone").ok_or_else(|| {
        bad(
            a,
            "'backbone' (the feature extractor) is missing".to_string(),
        )
    })?;
    if nested.get("registered_name").and_then(Value::as_str) != Some("keras_hub>HGNetV2Backbone") {
        return Ok(None);
    }
    if a.config.get("data_format").and_then(Value::as_str) == Some("channels_first") {
        // keras-hub 0.32's hybrid encoder flattens its maps as channels_last whatever the
        // format: its widths then follow the image size
        return Err(bad(
            a,
            "data_format 'channels_first' is not read (keras-hub 0.32's hybrid encoder mixes the axes of a channels_first map); build it channels_last".to_string(),
        ));
    }
    Ok(Some(nested))
}

/// The backbone on an `HGNetV2Backbone` (keras-hub's presets' extractor); `None` on any
/// other, which is counted from its `.keras` archive.
pub fn backbone(a: &Args) -> Result<Option<Backbone>> {
    let c = Config::of(a)?;
    let Some(nested) = hgnetv2(a)? else {
        return Ok(None);
    };
    let ex = extractor(nested, a.location)?;
    let levels = feature_maps(a, &c, &ex)?;
    let (out_features, maps): (Vec<String>, Vec<Shape>) =
        levels.into_iter().map(|(n, s, _)| (n, s)).unzip();

    let (e, h) = (c.encoder_hidden, c.hidden);
    let mut g = Graph::default();
    let pixels = g.add(
        row(
            "pixel_values",
            "InputLayer",
            Some(input_shape(a)),
            Vec::new(),
        ),
        &[],
    );
    let extractor = g.add(ex.row, &[pixels]);
    let mut projected = Vec::new();
    for (i, map) in maps.iter().enumerate() {
        let in_channels = map[map.len() - 1].ok_or_else(|| {
            bad(
                a,
                format!("the backbone's '{}' has no known width", out_features[i]),
            )
        })?;
        let shape = with_channels(map, e);
        let names = (
            format!("encoder_input_proj_conv_{i}"),
            format!("encoder_input_proj_bn_{i}"),
        );
        let node = g.conv_bn((&names.0, &names.1), 1, in_channels, &shape, extractor);
        projected.push((node, shape));
    }
    let encoder_inputs: Vec<usize> = projected.iter().map(|p| p.0).collect();
    let encoder = g.add(
        row(
            "hybrid_encoder",
            "DFineHybridEncoder",
            None,
            hybrid_encoder(&c),
        ),
        &encoder_inputs,
    );
    let mut sources: Vec<(usize, Shape)> = Vec::new();
    for level in 0..c.feature_levels {
        // the encoder's levels, then one from its last map, then each from the one before
        let (from, input, c_in) = match level {
            l if l < c.levels => (encoder, projected[l].1.clone(), e),
            l if l == c.levels => (encoder, projected[l - 1].1.clone(), e),
            l => (sources[l - 1].0, sources[l - 1].1.clone(), h),
        };
        let (node, shape) = match (c.projects, level < c.levels) {
            (false, _) => {
                let name = format!("decoder_input_proj_identity_{level}");
                let identity = row(&name, "Identity", Some(input.clone()), Vec::new());
                (g.add(identity, &[from]), input)
            }
            (true, true) => {
                let shape = with_channels(&input, h);
                let conv = format!("decoder_input_proj_conv1_{level}");
                let bn = format!("decoder_input_proj_bn1_{level}");
                (g.conv_bn((&conv, &bn), 1, c_in, &shape, from), shape)
            }
            (true, false) => {
                let shape = with_channels(&halved(&input), h);
                let conv = format!("decoder_input_proj_conv3_{level}");
                let bn = format!("decoder_input_proj_bn3_{level}");
                (g.conv_bn((&conv, &bn), 3, c_in, &shape, from), shape)
            }
        };
        sources.push((node, shape));
    }
    let source_nodes: Vec<usize> = sources.iter().map(|s| s.0).collect();
    let tokens = sources
        .iter()
        .try_fold(0u64, |n, (_, s)| Some(n + s[1]? * s[2]?));
    let seq = |width: u64| Some(vec![None, tokens, Some(width)]);
    let spatial = g.add(
        row(
            "spatial_shapes_extractor",
            "DFineSpatialShapesExtractor",
            Some(vec![Some(c.feature_levels as u64), Some(2)]),
            Vec::new(),
        ),
        &source_nodes,
    );
    let flattener = g.add(
        row(
            "source_flattener",
            "DFineSourceFlattener",
            seq(h),
            Vec::new(),
        ),
        &source_nodes,
    );
    let denoising = match (c.denoising, c.with_labels) {
        (true, true) => {
            let processor = g.add(
                row(
                    "denoising_processor",
                    "DFineDenoisingPreprocessorLayer",
                    None,
                    Vec::new(),
                ),
                &[pixels],
            );
            let mut w = Vec::new();
            embedding(&mut w, "", c.labels + 1, h);
            let (images, queries) = denoising_queries(a)?;
            let shape = vec![Some(images), Some(queries), Some(h)];
            let embed = g.add(
                row("denoising_class_embed", "Embedding", Some(shape), w),
                &[processor],
            );
            Some((processor, embed))
        }
        _ => None,
    };
    let anchors = g.add(
        row("anchor_generator", "DFineAnchorGenerator", None, Vec::new()),
        &source_nodes,
    );
    let memory = g.op("where", "Where", &[anchors, flattener]);
    let mut w = Vec::new();
    dense(&mut w, "", h, h, true);
    let enc_dense = g.add(row("enc_output_dense", "Dense", seq(h), w), &[memory]);
    let mut w = Vec::new();
    layer_norm(&mut w, "", h);
    let enc_norm = g.add(
        row("enc_output_ln", "LayerNormalization", seq(h), w),
        &[enc_dense],
    );
    let mut w = Vec::new();
    dense(&mut w, "", h, c.labels, true);
    let score = g.add(
        row("enc_score_head", "Dense", seq(c.labels), w),
        &[enc_norm],
    );
    let mut w = Vec::new();
    mlp(&mut w, "", "linear", (h, h, 4), 3);
    let bbox = g.add(
        row("enc_bbox_head", "DFineMLPPredictionHead", seq(4), w),
        &[enc_norm],
    );
    let plus_anchors = g.op("add", "Add", &[bbox, anchors]);
    let mut query_inputs = vec![score, plus_anchors, enc_norm, sources[sources.len() - 1].0];
    let mut w = Vec::new();
    // its embedding is built by tracing its call, which keras-hub cannot do for an
    // unknown number of anchors
    if c.learn_initial_query && tokens.is_some() {
        embedding(&mut w, "weight_embedding", c.queries, h);
    }
    if let Some((processor, embed)) = denoising {
        query_inputs.extend([processor, embed]);
    }
    let queries = g.add(
        row(
            "initial_query_reference_generator",
            "DFineInitialQueryAndReferenceGenerator",
            None,
            w,
        ),
        &query_inputs,
    );
    let mut decoder_inputs = Vec::new();
    decoder_inputs.extend(denoising.map(|d| d.0));
    decoder_inputs.extend([flattener, queries, queries, spatial]);
    let decoder = g.add(
        row("decoder", "DFineDecoder", None, decoder(&c)),
        &decoder_inputs,
    );
    // the output dict's producers, in key order
    let mut outputs = vec![decoder];
    outputs.extend(denoising.map(|d| d.0));
    outputs.extend([score, bbox, queries, encoder, queries, decoder]);
    let rows = g.rows(&outputs);
    Ok(Some(Backbone::untokenized(None, rows, h, &["images"])))
}

/// The denoising queries `labels` make (`DFineContrastiveDenoisingGroupGenerator`): one
/// row per image, `2 * max_gt * (num_denoising // max_gt or 1)` queries, `max_gt` the
/// most boxes an image has.
fn denoising_queries(a: &Args) -> Result<(u64, u64)> {
    let fail = || {
        bad(
            a,
            "'labels' must be a list of {\"boxes\", \"labels\"} dicts".to_string(),
        )
    };
    let images = a
        .config
        .get("labels")
        .and_then(Value::as_array)
        .ok_or_else(fail)?;
    let max_gt = images
        .iter()
        .map(|t| {
            t.get("labels")
                .and_then(Value::as_array)
                .map(Vec::len)
                .ok_or_else(fail)
        })
        .try_fold(0, |m, n| n.map(|n| m.max(n as u64)))?;
    if max_gt == 0 {
        return Err(bad(
            a,
            "'labels' holds no boxes (keras-hub makes no denoising queries then)".to_string(),
        ));
    }
    let groups = (a.count_or("num_denoising", 0)? / max_gt).max(1);
    Ok((images.len() as u64, 2 * max_gt * groups))
}

/// `stem` first, then `stage1`, `stage2`, ... (the backbone's `stage_names` order).
fn stage_index(name: &str) -> u64 {
    name.strip_prefix("stage")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// `pixel_values`' shape: the batch axis, then `image_shape` (default `(None, None, 3)`).
fn input_shape(a: &Args) -> Shape {
    let image = match a.config.get("image_shape") {
        Some(Value::Array(dims)) => dims.iter().map(Value::as_u64).collect(),
        _ => vec![None, None, Some(3)],
    };
    std::iter::once(None).chain(image).collect()
}

/// A `DFineBackbone` built with `num_denoising > 0` but no `labels` holds its
/// `denoising_class_embed` table outside its graph: counted in the totals, in no row.
pub fn unlisted(a: &Args) -> Result<Vec<Weight>> {
    let c = Config::of(a)?;
    let mut w = Vec::new();
    if c.denoising && !c.with_labels {
        embedding(&mut w, "denoising_class_embed", c.labels + 1, c.hidden);
    }
    Ok(w)
}

/// `DFineObjectDetector`'s rows: `images` and the backbone (`value`, named `name`) as one
/// row (the last decoder layer's logits and boxes are read by `keras.ops` indexing, in
/// no row).
pub fn detector_rows(b: &Backbone, name: &str, value: &Value, args: &Args) -> Result<Vec<Row>> {
    let config = value
        .get("config")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(args, "'backbone' has no config".to_string()))?;
    let backbone_args = Args {
        config,
        class_name: "DFineBackbone",
        location: args.location,
    };
    let mut weights: Vec<Weight> = b
        .rows
        .iter()
        .flat_map(|r| r.weights.iter().cloned())
        .collect();
    weights.extend(unlisted(&backbone_args)?);
    let backbone = Row {
        name: name.to_string(),
        class_name: "DFineBackbone".to_string(),
        output_shape: None,
        weights,
        nested: true,
    };
    Ok(vec![
        row(
            "images",
            "InputLayer",
            Some(input_shape(&backbone_args)),
            Vec::new(),
        ),
        backbone,
    ])
}
