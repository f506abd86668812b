//! KerasHub transformers (text models, and ViT, CLIP and SigLIP): the JSON of `model.to_json()` for a keras-hub backbone
//! (`registered_name: "keras_hub>GPT2Backbone"`, its constructor arguments under
//! `config`) or a task model nesting one under `config.backbone` (CausalLM,
//! TextClassifier, MaskedLM, Seq2SeqLM, TextEmbedder; the `preprocessor` carries no weights
//! and is not read). A class no reader knows is counted from its `.keras` archive's
//! weights (`saved`).
//!
//! One source of truth: each family translates the constructor arguments into the
//! transformers config.json of the same architecture, so the structure memory, FLOPs and
//! `fit` work from is the `TransformerArch` the transformers reader makes of it. Only the
//! summary rows are keras-hub's own: one per Keras layer as keras-hub names them, each
//! declaring the weights `layer.weights` holds (`blocks`), so every row's count is
//! Keras's `count_params()`.
mod bart;
mod bert;
mod blip2;
mod blocks;
mod bloom;
mod call_order;
mod clip;
mod coverage;
pub mod d_fine;
mod decoders;
mod deit;
mod depth_anything;
mod dinov2;
mod dinov3;
mod encoders;
mod esm;
mod falcon;
pub mod flux;
mod gemma;
mod gemma3_vision;
mod gemma3n;
mod gemma4;
mod gemma4_audio;
mod gemma4_vision;
mod gpt;
mod gpt_oss;
mod metaclip_2;
mod mit;
pub mod mmdit;
mod moonshine;
mod pali_gemma;
pub mod parseq;
mod qwen3_5;
mod roformer_v2;
mod rwkv7;
mod sam;
pub mod saved;
pub mod sd3;
mod smollm3;
mod swin;
mod t5;
mod t5gemma;
mod task;
mod vae;
mod video_prism;
mod vit;
mod vit_det;
mod whisper;
mod xlnet;

pub use coverage::{unknown_class, unsupported, SUPPORTED};
pub use roformer_v2::MODEL_TYPE as ROFORMER_V2;
pub use rwkv7::{Rwkv7Lora, MODEL_TYPE as RWKV7};
use serde_json::{Map, Value};
pub use video_prism::VideoPrism;
pub use xlnet::MODEL_TYPE as XLNET;

use crate::arch::TransformerArch;
use crate::error::{Error, Result};
use crate::memory::hf::Dropouts;
use crate::summary::{LayerRow, ModelFormat, Summary};
use crate::weight::{explain, totals, Weight};

use super::hf;
use blocks::{Args, Row};
use coverage::MEMORY;
use task::Task;

/// A keras-hub model read from its config.
pub struct Model {
    pub name: String,
    pub class_name: String,
    /// The transformers config.json of the same architecture (the memory model's input);
    /// `None` for the families transformers' readers here have no twin of.
    pub hf_config: Option<Value>,
    /// The transformers class it runs as: the bare model, or one with its LM head.
    pub head: hf::Head,
    rows: Vec<Row>,
    /// Where the keras-hub model differs from the twin's transformers class (ViT has no
    /// pooler).
    twin_edit: Option<TwinEdit>,
    /// A family with no transformers twin, lowered from its own arch and dropouts
    /// (RoformerV2, XLNet, RWKV7, VideoPrism, PARSeq).
    lowered: Option<Box<(TransformerArch, Dropouts)>>,
    /// Weights the model holds that no row of its summary shows (a DepthAnythingBackbone's
    /// unapplied encoder norm): counted in the totals only.
    unlisted: Vec<Weight>,
}

/// An edit of the twin's arch, made from the backbone's constructor arguments.
pub(super) type TwinEdit = Box<dyn Fn(&mut TransformerArch)>;

/// What a family's backbone gives the task models built on it.
pub struct Backbone {
    hf_config: Option<Value>,
    rows: Vec<Row>,
    /// Width of the sequence output.
    hidden: u64,
    vocab: u64,
    /// Width of the token embedding (ALBERT-style factorised embeddings differ).
    embed_dim: u64,
    /// The token embedding's weights, with their backbone paths, reused by LM heads.
    token_weights: Vec<Weight>,
    /// Input names (`token_ids`, `padding_mask`, `segment_ids`).
    inputs: &'static [&'static str],
    /// The backbone returns a dict with `pooled_output` beside `sequence_output`.
    pooled: bool,
    /// The layers a TextClassifier puts on the backbone.
    classifier: Classifier,
    /// The CausalLM's token-embedding row shows the vocabulary width (its first call in
    /// the task graph is the reverse projection: opt, whose embedding lives inside a
    /// `TokenAndPositionEmbedding`).
    lm_row_shows_vocab: bool,
}

impl Backbone {
    /// A decoder-only backbone (token ids and padding mask in, the sequence out, no
    /// classifier of its own) whose token embedding is `hidden` wide.
    fn decoder(
        hf_config: Value,
        rows: Vec<Row>,
        hidden: u64,
        vocab: u64,
        token_weights: Vec<Weight>,
    ) -> Backbone {
        Backbone {
            hf_config: Some(hf_config),
            rows,
            hidden,
            vocab,
            embed_dim: hidden,
            token_weights,
            inputs: &["token_ids", "padding_mask"],
            pooled: false,
            classifier: Classifier::None,
            lm_row_shows_vocab: false,
        }
    }

    /// Every weight non-trainable, as Keras makes them when the backbone is frozen (the
    /// token embedding a task's LM head reuses included: it is the same variable).
    fn freeze(&mut self) {
        let weights = self.rows.iter_mut().flat_map(|r| r.weights.iter_mut());
        for w in weights.chain(self.token_weights.iter_mut()) {
            w.trainable = false;
        }
    }

    /// A backbone that reads no tokens (images, latents): `inputs` in, features `hidden`
    /// wide out, no token embedding and no classifier of its own.
    fn untokenized(
        hf_config: Option<Value>,
        rows: Vec<Row>,
        hidden: u64,
        inputs: &'static [&'static str],
    ) -> Backbone {
        Backbone {
            hf_config,
            rows,
            hidden,
            vocab: 0,
            embed_dim: hidden,
            token_weights: Vec::new(),
            inputs,
            pooled: false,
            classifier: Classifier::None,
            lm_row_shows_vocab: false,
        }
    }
}

/// `trainable: false` in a serialized config (`model.backbone.trainable = False`).
fn is_frozen(config: &Map<String, Value>) -> bool {
    config.get("trainable") == Some(&Value::Bool(false))
}

/// keras-hub's `<Family>TextClassifier` layers after the backbone.
#[derive(Clone, Copy)]
enum Classifier {
    /// A dropout and `logits` on the pooled output (bert, albert, fnet).
    OnPooled { dropout: &'static str },
    /// `pooled_dense` (hidden → `hidden_dim`) and `logits` on the first token, with
    /// dropouts `before` the dense (roberta, deberta) and `after` it.
    DenseOnFirstToken {
        before: Option<&'static str>,
        after: &'static str,
    },
    /// No TextClassifier in keras-hub for this family.
    None,
}

/// Read `value` if it is a keras-hub text model; `None` for anything else (another
/// reader may know it: plain Keras, keras-hub vision models).
pub fn read(value: &Value, location: &str) -> Result<Option<Model>> {
    let Some(class_name) = registered_class(value) else {
        return Ok(None);
    };
    let config = config_of(value, class_name, location)?;
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(class_name)
        .to_string();
    let nested = config
        .get("backbone")
        .filter(|_| !d_fine::is_backbone(class_name));
    let Some(nested) = nested else {
        let Some(mut b) = backbone(class_name, config, location)? else {
            return Ok(None);
        };
        if is_frozen(config) {
            b.freeze();
        }
        return Ok(Some(Model {
            name,
            class_name: class_name.to_string(),
            hf_config: b.hf_config,
            head: hf::Head::Base,
            rows: b.rows,
            twin_edit: twin_edit(class_name, config, location)?,
            lowered: lowered(class_name, config, None, location)?,
            unlisted: unlisted(class_name, config, location)?,
        }));
    };
    let Some(task) = Task::of(class_name) else {
        return Ok(None);
    };
    let Some(backbone_class) = registered_class(nested) else {
        return Err(Error::invalid(
            location,
            format!("{class_name} config 'backbone' is not a keras-hub backbone (no registered_name 'keras_hub>...')"),
        ));
    };
    let backbone_config = config_of(nested, backbone_class, location)?;
    let Some(mut b) = backbone(backbone_class, backbone_config, location)? else {
        return Ok(None);
    };
    if is_frozen(backbone_config) {
        b.freeze();
    }
    let args = Args {
        config,
        class_name,
        location,
    };
    let backbone_name = backbone_config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(backbone_class);
    let mut rows = task.rows(&b, (backbone_class, backbone_name, nested), &args)?;
    if let (Task::MaskedLm, Some(head)) = (task, own_masked_lm_head(backbone_class, &b)) {
        *rows.last_mut().expect("a masked LM has a head row") = head;
    }
    let twin_edit = match task {
        Task::ImageSegmenter if backbone_class == "SegFormerBackbone" => {
            Some(mit::segmenter_twin_edit(&args, nested)?)
        }
        Task::DepthEstimator => Some(depth_anything::estimator_twin_edit(&args, nested)?),
        Task::ImageSegmenter if backbone_class == "SAMBackbone" => {
            let b = Args {
                config: backbone_config,
                class_name: backbone_class,
                location,
            };
            Some(sam::twin_edit(&b, true)?)
        }
        _ => twin_edit(backbone_class, backbone_config, location)?,
    };
    Ok(Some(Model {
        name,
        class_name: class_name.to_string(),
        hf_config: b.hf_config,
        head: task.head(),
        rows,
        twin_edit,
        lowered: lowered(backbone_class, backbone_config, Some(&args), location)?,
        unlisted: Vec::new(),
    }))
}

/// The keras-hub class of a serialized object (`keras_hub>GPT2Backbone` → `GPT2Backbone`).
fn registered_class(value: &Value) -> Option<&str> {
    value
        .get("registered_name")
        .and_then(Value::as_str)?
        .strip_prefix("keras_hub>")
}

fn config_of<'v>(
    value: &'v Value,
    class_name: &str,
    location: &str,
) -> Result<&'v Map<String, Value>> {
    value
        .get("config")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::invalid(location, format!("{class_name} has no 'config' object")))
}

/// The backbone classes read, by family file.
fn backbone(
    class_name: &str,
    config: &Map<String, Value>,
    location: &str,
) -> Result<Option<Backbone>> {
    let args = Args {
        config,
        class_name,
        location,
    };
    let b = match class_name {
        "GPT2Backbone" => gpt::gpt2(&args)?,
        "OPTBackbone" => gpt::opt(&args)?,
        "GPTNeoXBackbone" => gpt::gpt_neox(&args)?,
        "LlamaBackbone" | "Llama3Backbone" | "MistralBackbone" | "MixtralBackbone"
        | "QwenBackbone" | "Qwen3Backbone" | "Phi3Backbone" | "QwenMoeBackbone"
        | "Qwen3MoeBackbone" => decoders::backbone(&args)?,
        "Qwen3_5Backbone" | "Qwen3_5MoeBackbone" => qwen3_5::backbone(&args)?,
        "GemmaBackbone" | "Gemma3Backbone" | "PaliGemmaBackbone" => gemma::backbone(&args)?,
        "SmolLM3Backbone" => smollm3::backbone(&args)?,
        "GptOssBackbone" => gpt_oss::backbone(&args)?,
        "FalconBackbone" => falcon::backbone(&args)?,
        "BloomBackbone" => bloom::backbone(&args)?,
        "BertBackbone" | "RobertaBackbone" | "XLMRobertaBackbone" | "DistilBertBackbone" => {
            bert::backbone(&args)?
        }
        "AlbertBackbone" | "ElectraBackbone" => encoders::albert_electra(&args)?,
        "DebertaV3Backbone" => encoders::deberta_v3(&args)?,
        "FNetBackbone" => encoders::f_net(&args)?,
        "ESMBackbone" => esm::backbone(&args)?,
        "RoformerV2Backbone" => roformer_v2::backbone(&args)?,
        "XLNetBackbone" => xlnet::backbone(&args)?,
        "RWKV7Backbone" => rwkv7::backbone(&args)?,
        "T5Backbone" => t5::backbone(&args)?,
        "T5GemmaBackbone" | "T5Gemma2Backbone" => match t5gemma::backbone(&args)? {
            Some(b) => b,
            None => return Ok(None),
        },
        "BartBackbone" => bart::backbone(&args)?,
        "WhisperBackbone" => whisper::backbone(&args)?,
        "MoonshineBackbone" => moonshine::backbone(&args)?,
        "ViTBackbone" => vit::backbone(&args)?,
        "ViTDetBackbone" => vit_det::backbone(&args)?,
        "SAMBackbone" => sam::backbone(&args)?,
        "DepthAnythingBackbone" => depth_anything::backbone(&args)?,
        "VideoPrismBackbone" => match video_prism::backbone(&args)? {
            Some(b) => b,
            None => return Ok(None),
        },
        "DeiTBackbone" => deit::backbone(&args)?,
        "DINOV2Backbone" => dinov2::backbone(&args)?,
        "DINOV3Backbone" => dinov3::backbone(&args)?,
        "SwinTransformerBackbone" => swin::backbone(&args)?,
        "MiTBackbone" => mit::backbone(&args)?,
        "SegFormerBackbone" => mit::segformer_backbone(&args)?,
        "CLIPBackbone" | "SigLIPBackbone" => clip::backbone(&args)?,
        "CLIPVisionEncoder" | "CLIPTextEncoder" | "SigLIPVisionEncoder" | "SigLIPTextEncoder" => {
            clip::standalone(&args)?
        }
        "MetaCLIP2Backbone" => metaclip_2::backbone(&args)?,
        "MetaCLIP2VisionEncoder" | "MetaCLIP2TextEncoder" => metaclip_2::standalone(&args)?,
        "StableDiffusion3Backbone" => sd3::backbone(&args)?,
        "FluxBackbone" => flux::backbone(&args)?,
        "Gemma3VisionEncoder" => gemma3_vision::standalone(&args)?,
        "Gemma4VisionEncoder" => gemma4_vision::standalone(&args)?,
        "Gemma3nBackbone" => match gemma3n::backbone(&args)? {
            Some(b) => b,
            None => return Ok(None),
        },
        "Gemma4Backbone" => gemma4::backbone(&args)?,
        "PARSeqBackbone" => parseq::backbone(&args)?,
        "BLIP2Backbone" => blip2::backbone(&args)?,
        "DFineBackbone" => match d_fine::backbone(&args)? {
            Some(b) => b,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(b))
}

/// The masked-LM head of a family whose head is not keras-hub's tied `MaskedLMHead`.
fn own_masked_lm_head(backbone_class: &str, b: &Backbone) -> Option<Row> {
    match backbone_class {
        "ESMBackbone" => Some(esm::masked_lm_head(b)),
        "RoformerV2Backbone" => Some(roformer_v2::masked_lm_head(b)),
        _ => None,
    }
}

/// The edit a backbone's twin needs (see [`Model::twin_edit`]).
fn twin_edit(
    backbone_class: &str,
    config: &Map<String, Value>,
    location: &str,
) -> Result<Option<TwinEdit>> {
    let args = Args {
        config,
        class_name: backbone_class,
        location,
    };
    Ok(match backbone_class {
        "ViTBackbone" => Some(vit::twin_edit(&args)?),
        "BLIP2Backbone" => Some(blip2::twin_edit(&args)?),
        "DeiTBackbone" => Some(deit::twin_edit(&args)?),
        "DINOV2Backbone" => Some(dinov2::twin_edit(&args)?),
        "DepthAnythingBackbone" => Some(depth_anything::twin_edit(&args)?),
        "DINOV3Backbone" => Some(dinov3::twin_edit(&args)?),
        "SwinTransformerBackbone" => Some(swin::twin_edit(&args)?),
        "SegFormerBackbone" => Some(mit::segformer_twin_edit(&args)?),
        "Gemma3VisionEncoder" => Some(gemma3_vision::twin_edit(&args)?),
        "Gemma4VisionEncoder" => Some(gemma4_vision::twin_edit(&args)?),
        "Gemma3Backbone" => Some(gemma::twin_edit(&args)?),
        "MoonshineBackbone" => Some(moonshine::twin_edit(&args)?),
        "T5GemmaBackbone" => Some(t5gemma::twin_edit(&args)?),
        "Gemma3nBackbone" => Some(gemma3n::twin_edit(&args)?),
        "Gemma4Backbone" => Some(gemma4::twin_edit(&args)?),
        "ESMBackbone" => Some(esm::twin_edit(&args)?),
        "SAMBackbone" => Some(sam::twin_edit(&args, false)?),
        "CLIPVisionEncoder" | "SigLIPVisionEncoder" | "MetaCLIP2VisionEncoder" => {
            Some(clip::twin_edit(&args)?)
        }
        _ => None,
    })
}

/// The arch and dropouts of a family lowered without a twin (see [`Model::lowered`]);
/// `task` is the task model around the backbone, if any.
fn lowered(
    backbone_class: &str,
    config: &Map<String, Value>,
    task: Option<&Args>,
    location: &str,
) -> Result<Option<Box<(TransformerArch, Dropouts)>>> {
    let args = Args {
        config,
        class_name: backbone_class,
        location,
    };
    let head = match task.and_then(|t| Task::of(t.class_name)) {
        Some(task) => task.head(),
        None => hf::Head::Base,
    };
    Ok(match backbone_class {
        "RoformerV2Backbone" => Some(Box::new(roformer_v2::lowered(&args, head)?)),
        "XLNetBackbone" => Some(Box::new(xlnet::lowered(&args)?)),
        "RWKV7Backbone" => Some(Box::new(rwkv7::lowered(&args, head)?)),
        "VideoPrismBackbone" => video_prism::lowered(&args)?.map(Box::new),
        "PARSeqBackbone" => Some(Box::new(parseq::lowered(&args, task)?)),
        "T5Gemma2Backbone" => t5gemma::lowered(&args, head)?.map(Box::new),
        _ => None,
    })
}

/// The weights a backbone holds beyond its rows (see [`Model::unlisted`]).
fn unlisted(class_name: &str, config: &Map<String, Value>, location: &str) -> Result<Vec<Weight>> {
    let args = Args {
        config,
        class_name,
        location,
    };
    match class_name {
        "DepthAnythingBackbone" => depth_anything::unlisted(&args),
        "DFineBackbone" => d_fine::unlisted(&args),
        _ => Ok(Vec::new()),
    }
}

/// `summary`: Keras's rows; totals count each weight once (a task's LM head reuses the
/// backbone's token embedding).
pub fn summarize(model: &Model, location: &str) -> Result<Summary> {
    let mut layers = Vec::with_capacity(model.rows.len());
    let mut seen = std::collections::HashSet::new();
    let mut unique: Vec<Weight> = Vec::new();
    for row in &model.rows {
        let (params, trainable, non_trainable) = totals(&row.weights, location)?;
        unique.extend(
            row.weights
                .iter()
                .filter(|w| seen.insert(w.name.clone()))
                .cloned(),
        );
        layers.push(LayerRow {
            name: row.name.clone(),
            class_name: row.class_name.clone(),
            output_shape: row.output_shape.clone(),
            params,
            trainable,
            non_trainable,
            explain: if row.nested {
                format!(
                    "{}: {} weights of its own layers (summarize the backbone for them) = {params}",
                    row.class_name,
                    row.weights.len()
                )
            } else {
                explain(&row.class_name, &row.weights, location)?
            },
            connected_to: Vec::new(),
        });
    }
    unique.extend(model.unlisted.iter().cloned());
    let (total, trainable, non_trainable) = totals(&unique, location)?;
    // the routed experts a token does not use, as the transformers twin counts them
    let idle = match &model.hf_config {
        Some(config) => {
            let twin = hf::count(config, Some(model.head), location)?.0;
            twin.total_params - twin.active_params
        }
        None => 0,
    };
    Ok(Summary {
        name: model.name.clone(),
        format: ModelFormat::Keras,
        total_params: total,
        trainable_params: trainable,
        non_trainable_params: non_trainable,
        active_params: total.saturating_sub(idle),
        layers,
        functional: false,
        notes: Vec::new(),
    })
}

/// The structure memory and FLOPs are computed from: the transformers reader's
/// `TransformerArch` of the equivalent config.
pub fn arch(model: &Model, location: &str) -> Result<TransformerArch> {
    if let Some(lowered) = &model.lowered {
        return Ok(lowered.0.clone());
    }
    let config = model.hf_config.as_ref().ok_or_else(|| {
        Error::invalid(
            location,
            format!(
                "memory of KerasHub {} is not modelled (only its summary is); memory covers {}",
                model.class_name,
                MEMORY.join(", ")
            ),
        )
    })?;
    let mut arch = hf::arch(config, Some(model.head), location)?;
    t5::untie(&mut arch, config);
    bloom::own_mlp_width(&mut arch, config);
    if let Some(edit) = &model.twin_edit {
        edit(&mut arch);
    }
    Ok(arch)
}

/// The dropout probabilities memory runs `model` with: its own family's, or those its
/// twin's config declares.
pub fn dropouts(model: &Model) -> Dropouts {
    match (&model.lowered, &model.hf_config) {
        (Some(lowered), _) => lowered.1,
        (None, Some(config)) => Dropouts::from_config(config),
        (None, None) => Dropouts::default(),
    }
}
