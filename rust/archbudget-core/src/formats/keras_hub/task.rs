//! The task models keras-hub builds on a backbone (CausalLM, TextClassifier, MaskedLM,
//! Seq2SeqLM, image classifiers and segmenters, text embedders): their rows after the
//! backbone's, and the transformers class each runs as for memory.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::summary::OutputShape;
use crate::weight::Weight;

use super::blocks::{dense, layer_norm, seq_shape, Args, Row};
use super::{
    blip2, d_fine, deit, depth_anything, hf, mit, sam, swin, t5gemma, vit, Backbone, Classifier,
};

#[derive(Clone, Copy)]
pub(super) enum Task {
    CausalLm,
    TextClassifier,
    MaskedLm,
    Seq2SeqLm,
    /// `ViTImageClassifier`, `DeiTImageClassifier`, `SwinTransformerImageClassifier` (the
    /// other image classifiers are `keras_hub_vision`'s).
    ImageClassifier,
    /// A functional model on its backbone's own inputs and outputs (Stable Diffusion 3's
    /// TextToImage, ImageToImage, Inpaint): the backbone's layers, nothing added.
    SameGraph,
    /// `SegFormerImageSegmenter`, `SAMImageSegmenter`.
    ImageSegmenter,
    /// `DepthAnythingDepthEstimator`.
    DepthEstimator,
    /// `DFineObjectDetector`.
    ObjectDetector,
    /// The backbone pooled by `keras.ops` (mean, last token, L2 norm): no layers of its own.
    TextEmbedder,
}

impl Task {
    pub(super) fn of(class_name: &str) -> Option<Task> {
        [
            ("CausalLM", Task::CausalLm),
            ("TextClassifier", Task::TextClassifier),
            ("MaskedLM", Task::MaskedLm),
            // ESM's protein tasks are its masked LM and text classifier
            ("MaskedPLM", Task::MaskedLm),
            ("ProteinClassifier", Task::TextClassifier),
            ("Seq2SeqLM", Task::Seq2SeqLm),
            ("MoonshineAudioToText", Task::Seq2SeqLm),
            ("ViTImageClassifier", Task::ImageClassifier),
            ("TextToImage", Task::SameGraph),
            ("ImageToImage", Task::SameGraph),
            ("Inpaint", Task::SameGraph),
            ("DeiTImageClassifier", Task::ImageClassifier),
            ("SwinTransformerImageClassifier", Task::ImageClassifier),
            ("MiTImageClassifier", Task::ImageClassifier),
            ("SegFormerImageSegmenter", Task::ImageSegmenter),
            ("SAMImageSegmenter", Task::ImageSegmenter),
            ("DepthAnythingDepthEstimator", Task::DepthEstimator),
            ("DFineObjectDetector", Task::ObjectDetector),
            ("TextEmbedder", Task::TextEmbedder),
        ]
        .into_iter()
        .find(|(suffix, _)| class_name.ends_with(suffix))
        .map(|(_, t)| t)
    }

    /// The transformers class the task runs as for memory: a classifier's few-unit head
    /// is left out; a masked LM runs as the type's LM-head class.
    pub(super) fn head(self) -> hf::Head {
        match self {
            Task::TextClassifier
            | Task::ImageClassifier
            | Task::ImageSegmenter
            | Task::DepthEstimator
            | Task::ObjectDetector
            | Task::SameGraph
            | Task::TextEmbedder => hf::Head::Base,
            Task::CausalLm | Task::MaskedLm | Task::Seq2SeqLm => hf::Head::CausalLm,
        }
    }

    /// The task model's rows: its inputs (sorted, as Keras orders a dict of inputs), the
    /// backbone (`class`, `name`, serialized `value`) as one row, then the head's layers.
    pub(super) fn rows(
        self,
        b: &Backbone,
        (class, name, value): (&str, &str, &Value),
        args: &Args,
    ) -> Result<Vec<Row>> {
        let mut inputs: Vec<&str> = b.inputs.to_vec();
        inputs.sort_unstable();
        // the backbone's own input rows where it has them (a Gemma3's `images`)
        let input_row = |input: &str| {
            b.rows
                .iter()
                .find(|r| r.name == input && r.class_name == "InputLayer")
                .cloned()
                .unwrap_or_else(|| Row::input(input))
        };
        let mut rows: Vec<Row> = inputs.into_iter().map(input_row).collect();
        let sequence = match b.rows.last() {
            Some(Row {
                output_shape: Some(shape),
                ..
            }) => shape.clone(),
            _ => OutputShape::Single(seq_shape(Some(b.hidden))),
        };
        rows.push(Row {
            name: name.to_string(),
            class_name: class.to_string(),
            // a dict of outputs (sequence and pooled) is no single shape
            output_shape: (!b.pooled).then_some(sequence),
            // each variable once, as `count_params()` counts it (Gemma3n's processor row
            // holds its text model's weights)
            weights: {
                let mut seen = std::collections::HashSet::new();
                b.rows
                    .iter()
                    .flat_map(|r| r.weights.iter())
                    .filter(|w| seen.insert(w.name.as_str()))
                    .cloned()
                    .collect()
            },
            nested: true,
        });
        let (h, v) = (b.hidden, b.vocab);
        match self {
            // the LM head reuses the embedding inside the backbone's text model: no row
            Task::CausalLm if class == "Gemma3nBackbone" => {}
            // the backbone's own `Dense` head gives the logits: nothing added
            Task::CausalLm if class == "PARSeqBackbone" => {}
            Task::CausalLm | Task::Seq2SeqLm if class == "BLIP2Backbone" => {
                return blip2::task_rows(matches!(self, Task::Seq2SeqLm), b, value, rows, args)
            }
            // a functional model on the backbone's own inputs and outputs
            Task::CausalLm if class == "RWKV7Backbone" => return Ok(b.rows.clone()),
            Task::Seq2SeqLm if class.starts_with("T5Gemma") => rows.push(t5gemma::head_row(b)),
            Task::CausalLm | Task::Seq2SeqLm => rows.push(Row {
                name: "token_embedding".to_string(),
                class_name: "ReversibleEmbedding".to_string(),
                output_shape: Some(OutputShape::Single(seq_shape(Some(
                    if b.lm_row_shows_vocab { v } else { h },
                )))),
                weights: b.token_weights.clone(),
                nested: false,
            }),
            Task::MaskedLm => {
                rows.push(Row::input("mask_positions"));
                let mut w = vec![Weight::new(
                    "output_bias",
                    vec![crate::weight::dim(v, "vocab")],
                )];
                dense(&mut w, "intermediate_dense", h, b.embed_dim, true);
                layer_norm(&mut w, "intermediate_layer_norm", b.embed_dim);
                let mut row = Row::new("mlm_head", "MaskedLMHead", seq_shape(Some(v)), w);
                // the projection onto the vocabulary is the token embedding's table
                row.weights.extend(b.token_weights.iter().take(1).cloned());
                rows.push(row);
            }
            // an image's input and features are not a token sequence's
            Task::ImageClassifier if class == "DeiTBackbone" => {
                return deit::classifier_rows(b, name, args)
            }
            Task::ImageClassifier if class == "SwinTransformerBackbone" => {
                return swin::classifier_rows(b, name, args)
            }
            Task::ImageClassifier if class == "MiTBackbone" => {
                return mit::classifier_rows(b, name, args)
            }
            Task::ImageClassifier => return vit::classifier_rows(b, class, name, args),
            Task::SameGraph => return Ok(b.rows.clone()),
            Task::ImageSegmenter if class == "SAMBackbone" => {
                return sam::segmenter_rows(name, value, args)
            }
            Task::ImageSegmenter => return mit::segmenter_rows(name, value, args),
            Task::DepthEstimator => return depth_anything::estimator_rows(name, value, args),
            Task::ObjectDetector => return d_fine::detector_rows(b, name, value, args),
            Task::TextEmbedder => {}
            Task::TextClassifier => {
                let classes = args.dim("num_classes")?;
                let first_token = |w: u64| Some(OutputShape::Single(vec![None, Some(w)]));
                let plain = |name: &str, class: &str, width: u64| Row {
                    output_shape: first_token(width),
                    ..Row::plain(name, class, width)
                };
                let mut width = h;
                match b.classifier {
                    Classifier::OnPooled { dropout } => rows.push(plain(dropout, "Dropout", h)),
                    Classifier::DenseOnFirstToken { before, after } => {
                        if let Some(dropout) = before {
                            rows.push(plain(dropout, "Dropout", h));
                        }
                        width = args.dim_opt("hidden_dim")?.unwrap_or(h);
                        let mut w = Vec::new();
                        dense(&mut w, "", h, width, true);
                        rows.push(Row {
                            output_shape: first_token(width),
                            ..dense_row("pooled_dense", w)
                        });
                        rows.push(plain(after, "Dropout", width));
                    }
                    Classifier::None => {
                        return Err(Error::invalid(
                            args.location,
                            format!("{} has no TextClassifier in keras-hub", class),
                        ))
                    }
                }
                let mut w = Vec::new();
                dense(&mut w, "", width, classes, true);
                rows.push(Row {
                    output_shape: first_token(classes),
                    ..dense_row("logits", w)
                });
            }
        }
        Ok(rows)
    }
}

/// A `Dense` row (its output shape set by the caller).
fn dense_row(name: &str, weights: Vec<Weight>) -> Row {
    Row::new(name, "Dense", Vec::new(), weights)
}
