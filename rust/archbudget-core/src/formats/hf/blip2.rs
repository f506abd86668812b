//! blip-2: `Blip2Model` (`AutoModel`) and `Blip2ForConditionalGeneration`
//! (`AutoModelForImageTextToText`), the same modules in both.
//!
//! Computes: `vision_model` (a ViT: biased patch convolution, a class embedding and one
//! learned position per token as parameters of `embeddings`, N pre-norm blocks of fused
//! `qkv` attention and a biased GELU MLP, `post_layernorm`); `query_tokens` (a root
//! parameter, 1×Q×hidden) read by the `qformer` (a LayerNorm, then BERT's post-norm
//! layers: self-attention, cross-attention on the patch features every
//! `cross_attention_frequency` layers from the first, the queries' own
//! `intermediate_query`/`output_query` feed-forward, and the text branch's
//! `intermediate`/`output` only with `use_qformer_text_input`); `language_projection`
//! onto the text width; the language model with its LM head (`OPTForCausalLM` from
//! `text_config`, or a seq2seq one such as `T5ForConditionalGeneration`) read by its own
//! reader under `language_model.`.
//! Weights: `qkv.bias` is one 3×hidden parameter (q's bias, zeros, v's bias) when
//! `qkv_bias`; the cross-attention's key and value read the vision width
//! (`encoder_hidden_size` is set to it by `Blip2Config`).
//! Mirrors: `modeling_blip_2.py` and `configuration_blip_2.py` of transformers 5.24.
use serde_json::Value;

use crate::arch::{ArchKind, HeadKind, NormKind, TransformerArch};
use crate::error::{mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{linear, norm, norm_row, Modules};
use super::vlm::sub_config;

const LN: NormKind = NormKind::LayerNorm { bias: true };

/// `Blip2VisionConfig`, with what keras-hub's ViT may leave out (its twin's edits; all
/// `true` as transformers builds it).
#[derive(Debug, Clone, PartialEq)]
pub struct Vision {
    pub hidden: u64,
    pub inter: u64,
    pub layers: u64,
    pub heads: u64,
    /// Image and patch sides (height, width).
    pub image: (u64, u64),
    pub patch: (u64, u64),
    pub qkv_bias: bool,
    pub act: String,
    pub attn_dropout: f64,
    pub patch_bias: bool,
    pub class_token: bool,
    /// The attention's output `projection` and the MLP's linears are biased.
    pub projection_bias: bool,
    pub mlp_bias: bool,
}

// the dropout probabilities come from JSON numbers, never NaN
impl Eq for Vision {}

impl Vision {
    pub fn patches(&self) -> u64 {
        (self.image.0 / self.patch.0) * (self.image.1 / self.patch.1)
    }

    /// Patches and the class token.
    pub fn tokens(&self) -> u64 {
        self.patches() + self.class_token as u64
    }
}

/// `Blip2QFormerConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct QFormer {
    pub hidden: u64,
    pub inter: u64,
    pub layers: u64,
    pub heads: u64,
    /// Width of one head (`hidden // heads`; keras-hub's twin may floor it).
    pub head_dim: u64,
    pub frequency: u64,
    pub text_input: bool,
    pub act: String,
    pub hidden_dropout: f64,
    pub attn_dropout: f64,
}

impl Eq for QFormer {}

impl QFormer {
    pub fn has_cross_attention(&self, layer: u64) -> bool {
        layer % self.frequency == 0
    }
}

/// What blip-2 adds before its language model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blip2 {
    pub vision: Vision,
    pub qformer: QFormer,
    pub queries: u64,
    /// `language_projection` is biased (keras-hub's may not be).
    pub projection_bias: bool,
    /// Why `memory` cannot run this model as the twin (a keras-hub build the twin has no
    /// counterpart of); `None` for transformers' own configs.
    pub refusal: Option<String>,
    /// The arch's own head (the language model's class is the same under both).
    pub head: HeadKind,
}

pub fn is_blip2(model_type: &str) -> bool {
    model_type == "blip-2"
}

/// The text config (OPT by default, as `Blip2Config`'s `SubConfigSpec`).
pub fn text_config(cfg: &Cfg, config: &Value) -> Result<Value> {
    sub_config(cfg, config, "text_config", "opt", Value::Null)
}

pub fn read(cfg: &Cfg, config: &Value, head: HeadKind) -> Result<Blip2> {
    let loc = cfg.location;
    let vision = sub_config(
        cfg,
        config,
        "vision_config",
        "blip_2_vision_model",
        Value::Null,
    )?;
    let vloc = format!("{loc} (vision_config)");
    let v = Cfg::new(&vision, &vloc)?;
    let (image, patch) = (v.dim("image_size", 224)?, v.dim("patch_size", 14)?);
    let vision = Vision {
        hidden: v.dim("hidden_size", 1408)?,
        inter: v.dim("intermediate_size", 6144)?,
        layers: v.layers(&["num_hidden_layers"], 39)?,
        heads: v.dim("num_attention_heads", 16)?,
        image: (image, image),
        patch: (patch, patch),
        qkv_bias: v.flag("qkv_bias", true)?,
        act: v.string("hidden_act", "gelu")?,
        attn_dropout: v.float("attention_dropout", None, 0.0)?,
        patch_bias: true,
        class_token: true,
        projection_bias: true,
        mlp_bias: true,
    };
    v.require_divisible(
        ("hidden_size", vision.hidden),
        ("num_attention_heads", vision.heads),
    )?;
    if patch > image {
        return Err(v.invalid(format!(
            "patch_size ({patch}) is larger than image_size ({image})"
        )));
    }
    let q = sub_config(cfg, config, "qformer_config", "blip_2_qformer", Value::Null)?;
    let qloc = format!("{loc} (qformer_config)");
    let q = Cfg::new(&q, &qloc)?;
    let qformer = QFormer {
        hidden: q.dim("hidden_size", 768)?,
        inter: q.dim("intermediate_size", 3072)?,
        layers: q.layers(&["num_hidden_layers"], 12)?,
        heads: q.dim("num_attention_heads", 12)?,
        head_dim: 0,
        frequency: q.dim("cross_attention_frequency", 2)?,
        text_input: q.flag("use_qformer_text_input", false)?,
        act: q.string("hidden_act", "gelu")?,
        hidden_dropout: q.float("hidden_dropout_prob", None, 0.1)?,
        attn_dropout: q.float("attention_probs_dropout_prob", None, 0.1)?,
    };
    q.require_divisible(
        ("hidden_size", qformer.hidden),
        ("num_attention_heads", qformer.heads),
    )?;
    let qformer = QFormer {
        head_dim: qformer.hidden / qformer.heads,
        ..qformer
    };
    let side = image / patch;
    // the vision sequence must be countable
    mul(side, side, loc, "patches")?;
    Ok(Blip2 {
        vision,
        qformer,
        queries: cfg.dim("num_query_tokens", 32)?,
        projection_bias: true,
        refusal: None,
        head,
    })
}

/// The arch: the language model's (read with its LM head, as `Blip2Model` holds it too)
/// with blip-2's parts beside it.
pub fn arch(mut text: TransformerArch, b: Blip2, location: &str) -> Result<TransformerArch> {
    let want = match text.kind {
        ArchKind::Decoder => HeadKind::CausalLm,
        ArchKind::EncoderDecoder => HeadKind::Seq2SeqLm,
        _ => {
            return Err(crate::Error::invalid(
                location,
                format!(
                    "blip-2's text_config must be a decoder (opt) or an encoder-decoder (t5); model_type '{}' is neither",
                    text.model_type
                ),
            ))
        }
    };
    if text.head != want {
        return Err(crate::Error::invalid(
            location,
            format!(
                "blip-2's language model '{}' has no language-model head here",
                text.model_type
            ),
        ));
    }
    if text.details.blip2.is_some() || text.details.vision_language.is_some() {
        return Err(crate::Error::invalid(
            location,
            "blip-2's text_config must be a text model, not another multimodal one",
        ));
    }
    text.details.blip2 = Some(Box::new(b));
    Ok(text)
}

/// The rows: vision model, query tokens, Q-Former, projection, then the language
/// model's (`text_rows`, under `language_model.`); returns the class.
pub fn modules(
    a: &TransformerArch,
    b: &Blip2,
    m: &mut Modules,
    text_rows: impl FnOnce(&TransformerArch, &mut Modules) -> Result<String>,
) -> Result<String> {
    vision_rows(&b.vision, m)?;
    m.add(
        "query_tokens".to_string(),
        "Parameter",
        vec![Weight::new(
            "query_tokens",
            vec![
                dim(1, "1"),
                dim(b.queries, "num_query_tokens"),
                dim(b.qformer.hidden, "qformer_hidden"),
            ],
        )],
    )?;
    qformer_rows(&b.qformer, b.vision.hidden, m)?;
    let mut w = Vec::new();
    linear(
        &mut w,
        "",
        dim(b.qformer.hidden, "qformer_hidden"),
        dim(a.hidden_size, "text_hidden"),
        b.projection_bias,
    );
    m.add("language_projection".to_string(), "Linear", w)?;
    let mut text = a.clone();
    text.details.blip2 = None;
    m.set_prefix("language_model.".to_string());
    text_rows(&text, m)?;
    m.set_prefix(String::new());
    Ok(match b.head {
        HeadKind::Base => "Blip2Model",
        _ => "Blip2ForConditionalGeneration",
    }
    .to_string())
}

fn vision_rows(v: &Vision, m: &mut Modules) -> Result<()> {
    let loc = m.location();
    let h = dim(v.hidden, "vision_hidden");
    let tokens = dim(v.tokens(), "patches+1");
    let mut embeddings = Vec::new();
    if v.class_token {
        embeddings.push(Weight::new(
            "class_embedding",
            vec![dim(1, "1"), dim(1, "1"), h.clone()],
        ));
    }
    embeddings.push(Weight::new(
        "position_embedding",
        vec![dim(1, "1"), tokens, h.clone()],
    ));
    m.add(
        "vision_model.embeddings".to_string(),
        "Blip2VisionEmbeddings",
        embeddings,
    )?;
    let kernel = mul(v.patch.0, v.patch.1, loc, "patch")?;
    let mut conv = vec![Weight::new(
        "weight",
        vec![h.clone(), dim(3, "channels"), dim(kernel, "patch²")],
    )];
    if v.patch_bias {
        conv.push(Weight::new("bias", vec![h.clone()]));
    }
    m.add(
        "vision_model.embeddings.patch_embedding".to_string(),
        "Conv2d",
        conv,
    )?;
    let three = dim(mul(3, v.hidden, loc, "qkv width")?, "3×vision_hidden");
    let inter = dim(v.inter, "vision_intermediate");
    let lin = |d_in: &crate::weight::Dim, d_out: &crate::weight::Dim, bias: bool| {
        let mut w = Vec::new();
        linear(&mut w, "", d_in.clone(), d_out.clone(), bias);
        w
    };
    let ln = || {
        let mut w = Vec::new();
        norm(&mut w, "", v.hidden, LN);
        w
    };
    let rows = [
        (
            "self_attn.qkv".to_string(),
            "Linear",
            lin(&h, &three, v.qkv_bias),
        ),
        (
            "self_attn.projection".to_string(),
            "Linear",
            lin(&h, &h, v.projection_bias),
        ),
        ("layer_norm1".to_string(), "LayerNorm", ln()),
        ("mlp.fc1".to_string(), "Linear", lin(&h, &inter, v.mlp_bias)),
        ("mlp.fc2".to_string(), "Linear", lin(&inter, &h, v.mlp_bias)),
        ("layer_norm2".to_string(), "LayerNorm", ln()),
    ];
    m.add_blocks(
        v.layers,
        |i| format!("vision_model.encoder.layers.{i}."),
        &rows,
    )?;
    norm_row(
        m,
        "vision_model.post_layernorm".to_string(),
        "LayerNorm",
        v.hidden,
        LN,
    )
}

fn qformer_rows(q: &QFormer, vision_hidden: u64, m: &mut Modules) -> Result<()> {
    norm_row(
        m,
        "qformer.layernorm".to_string(),
        "LayerNorm",
        q.hidden,
        LN,
    )?;
    let h = dim(q.hidden, "qformer_hidden");
    let vh = dim(vision_hidden, "vision_hidden");
    let inter = dim(q.inter, "qformer_intermediate");
    let inner = dim(
        mul(
            q.heads,
            q.head_dim,
            m.location(),
            "Q-Former attention width",
        )?,
        "heads×head_dim",
    );
    let attention = |kv: &crate::weight::Dim| {
        let mut w = Vec::new();
        linear(&mut w, "query.", h.clone(), inner.clone(), true);
        linear(&mut w, "key.", kv.clone(), inner.clone(), true);
        linear(&mut w, "value.", kv.clone(), inner.clone(), true);
        w
    };
    let lin = |d_in: &crate::weight::Dim, d_out: &crate::weight::Dim| {
        let mut w = Vec::new();
        linear(&mut w, "", d_in.clone(), d_out.clone(), true);
        w
    };
    let ln = || {
        let mut w = Vec::new();
        norm(&mut w, "", q.hidden, LN);
        w
    };
    let attention_rows = |at: &str, kv: &crate::weight::Dim| {
        vec![
            (
                format!("{at}.attention"),
                "Blip2QFormerMultiHeadAttention",
                attention(kv),
            ),
            (format!("{at}.output.dense"), "Linear", lin(&inner, &h)),
            (format!("{at}.output.LayerNorm"), "LayerNorm", ln()),
        ]
    };
    let feed_forward = |intermediate: &str, output: &str| {
        vec![
            (format!("{intermediate}.dense"), "Linear", lin(&h, &inter)),
            (format!("{output}.dense"), "Linear", lin(&inter, &h)),
            (format!("{output}.LayerNorm"), "LayerNorm", ln()),
        ]
    };
    let layer = |cross: bool| {
        let mut rows = attention_rows("attention", &h);
        if cross {
            rows.extend(attention_rows("crossattention", &vh));
        }
        if q.text_input {
            rows.extend(feed_forward("intermediate", "output"));
        }
        rows.extend(feed_forward("intermediate_query", "output_query"));
        rows
    };
    if m.counting_only() {
        // each kind of layer summed once and multiplied
        let cross = (0..q.layers).filter(|&i| q.has_cross_attention(i)).count() as u64;
        for (rows, times) in [(layer(true), cross), (layer(false), q.layers - cross)] {
            let block: Vec<Weight> = rows.into_iter().flat_map(|r| r.2).collect();
            m.count_repeated(&block, times)?;
        }
        return Ok(());
    }
    for i in 0..q.layers {
        for (suffix, class, weights) in layer(q.has_cross_attention(i)) {
            m.add(
                format!("qformer.encoder.layer.{i}.{suffix}"),
                class,
                weights,
            )?;
        }
    }
    Ok(())
}
