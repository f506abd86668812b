//! sam: the whole Segment Anything model (`SamModel`) — sam_vision_model's image encoder
//! ([`super::sam`]) plus the prompt encoder and the mask decoder.
//!
//! Computes: the image embedding (`vision_encoder`, `output_channels` wide on the s×s
//! grid); `shared_image_embedding` (random Fourier features: coordinates in [0, 1]²
//! times a `[2, num_pos_feats]` matrix, sin and cos concatenated) of the grid and of the
//! prompt points and box corners; the `prompt_encoder` (a learned vector added per point
//! label and box corner, `not_a_point_embed` for padding points, `no_mask_embed` broadcast
//! over the grid when no mask is given, else `mask_embed`: three biased convolutions
//! with channels-first LayerNorms); the `mask_decoder` (the IoU and mask tokens
//! prepended to the prompt tokens, a `SamTwoWayTransformer` of `num_hidden_layers`
//! blocks — token self-attention, token→image and image→token cross-attention whose q, k,
//! v are `hidden // 2` wide, an MLP, four LayerNorms — then a final token→image attention
//! (`hidden // attention_downsample_rate` wide) and LayerNorm, the image upscaled 4× by two transposed
//! convolutions, one hypernetwork MLP per mask token and the IoU head).
//! Weights: the encoder's; `shared_image_embedding.positional_embedding` `[2, F]` (a
//! parameter, tied to `prompt_encoder.shared_embedding`'s: counted once); the prompt
//! encoder's `mask_embed` (`conv1` 1 → c/4, `conv2` c/4 → c, both 2×2 stride 2, `conv3`
//! c → hidden 1×1, two LayerNorms), `no_mask_embed`, `num_point_embeddings` one-row
//! `point_embed`s and `not_a_point_embed`; the decoder's `iou_token` `[1, H]`,
//! `mask_tokens` `[num_multimask_outputs + 1, H]`, per block q/k/v/out Linears (H → H for
//! self-attention, H → H / 2 for the cross ones), `mlp.lin1`/`lin2` (`mlp_dim`) and four
//! LayerNorms; the final attention and LayerNorm; `upscale_conv1` (H → H/4) and
//! `upscale_conv2` (H/4 → H/8), 2×2 transposed, and `upscale_layer_norm`; per mask token
//! a `SamFeedForward` H → H → H → H/8; `iou_prediction_head` H → `iou_head_hidden_dim`
//! (`iou_head_depth` Linears) → mask tokens. Every Linear and convolution biased.
//! Mirrors: `modeling_sam.py` / `configuration_sam.py` (`SamModel`, `SamConfig`) of
//! transformers 5.24. keras-hub's SAMBackbone and SAMImageSegmenter run as this model
//! (`formats/keras_hub/sam.rs`).
use serde_json::Value;

use crate::arch::{HeadKind, NormKind, TransformerArch};
use crate::error::{Error, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{linear, norm, Modules};

/// The two-way blocks' cross-attention downsampling (only the final attention reads
/// `attention_downsample_rate`).
pub const BLOCK_RATE: u64 = 2;

/// What SamModel adds to its image encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamModel {
    /// `vision_config.num_pos_feats`: half the width of the random Fourier features.
    pub pos_feats: u64,
    pub prompt: SamPrompt,
    pub decoder: SamDecoder,
    /// The mask decoder runs: false for keras-hub's SAMBackbone alone, which builds
    /// neither the decoder's weights nor calls it (`formats/keras_hub/sam.rs`).
    pub runs_decoder: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamPrompt {
    pub hidden: u64,
    pub mask_channels: u64,
    pub point_embeddings: u64,
    /// `image_size // patch_size`: the side the dense prompt embedding is broadcast to.
    pub side: u64,
    pub act: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamDecoder {
    pub hidden: u64,
    pub mlp_dim: u64,
    pub layers: u64,
    pub heads: u64,
    pub downsample: u64,
    /// `num_multimask_outputs + 1`.
    pub mask_tokens: u64,
    pub iou_depth: u64,
    pub iou_hidden: u64,
    pub act: String,
}

pub fn arch(cfg: &Cfg, config: &Value) -> Result<TransformerArch> {
    let sub = |key: &str, kind: &str| super::vlm::sub_config(cfg, config, key, kind, Value::Null);
    let (vision, prompt, decoder) = (
        sub("vision_config", "sam_vision_model")?,
        sub("prompt_encoder_config", "sam_prompt_encoder")?,
        sub("mask_decoder_config", "sam_mask_decoder")?,
    );
    let at = |key: &str| format!("{} {key}", cfg.location);
    let (vision_at, prompt_at, decoder_at) = (
        at("vision_config"),
        at("prompt_encoder_config"),
        at("mask_decoder_config"),
    );
    let v = Cfg::new(&vision, &vision_at)?;
    let mut a = super::sam::arch(&v, HeadKind::Base)?;
    let p = Cfg::new(&prompt, &prompt_at)?;
    let d = Cfg::new(&decoder, &decoder_at)?;
    let image = p.dim("image_size", 1024)?;
    let patch = p.dim("patch_size", 16)?;
    let mask_channels = p.dim("mask_input_channels", 16)?;
    if mask_channels < 4 {
        return Err(p.invalid(format!(
            "mask_input_channels ({mask_channels}) leaves conv1 no channel (it is mask_input_channels // 4)"
        )));
    }
    let prompt = SamPrompt {
        hidden: p.dim("hidden_size", 256)?,
        mask_channels,
        point_embeddings: p.count("num_point_embeddings", 4)?,
        side: image / patch,
        act: p.string("hidden_act", "gelu")?,
    };
    let hidden = d.dim("hidden_size", 256)?;
    let heads = d.dim("num_attention_heads", 8)?;
    let downsample = d.dim("attention_downsample_rate", 2)?;
    // SamAttention refuses an internal width the heads do not divide (the blocks' cross
    // attentions halve the width whatever the config says: SamTwoWayTransformer builds
    // them with SamTwoWayAttentionBlock's default rate, 2)
    for rate in [1, BLOCK_RATE, downsample] {
        if (hidden / rate) % heads != 0 || hidden / rate == 0 {
            return Err(d.invalid(format!(
                "num_attention_heads ({heads}) must divide hidden_size // {rate} ({})",
                hidden / rate
            )));
        }
    }
    let iou_depth = d.dim("iou_head_depth", 3)?;
    if hidden < 8 || iou_depth < 2 {
        return Err(d.invalid(format!(
            "hidden_size ({hidden}) must be at least 8 (the upscaling is hidden_size // 8 wide) and iou_head_depth ({iou_depth}) at least 2 (SamFeedForward's proj_in and proj_out)"
        )));
    }
    let sam = SamModel {
        pos_feats: v.dim("num_pos_feats", 128)?,
        prompt,
        decoder: SamDecoder {
            hidden,
            mlp_dim: d.dim("mlp_dim", 2048)?,
            layers: d.count("num_hidden_layers", 2)?,
            heads,
            downsample,
            mask_tokens: d.count("num_multimask_outputs", 3)?.saturating_add(1),
            iou_depth,
            iou_hidden: d.dim("iou_head_hidden_dim", 256)?,
            act: d.string("hidden_act", "relu")?,
        },
        runs_decoder: true,
    };
    a.model_type = cfg.model_type.to_string();
    a.details.sam_model = Some(Box::new(sam));
    Ok(a)
}

fn details(a: &TransformerArch) -> Result<&SamModel> {
    a.details
        .sam_model
        .as_deref()
        .ok_or_else(|| Error::Internal("sam without its prompt encoder and mask decoder".into()))
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let s = details(a)?;
    let pe = || {
        vec![Weight::new(
            "positional_embedding",
            vec![dim(2, "2"), dim(s.pos_feats, "num_pos_feats")],
        )]
    };
    m.add(
        "shared_image_embedding".to_string(),
        "SamPositionalEmbedding",
        pe(),
    )?;
    super::sam::modules(a, m)?;
    prompt_encoder(&s.prompt, m)?;
    mask_decoder(&s.decoder, m)?;
    Ok("SamModel".to_string())
}

/// A channels-first `SamLayerNorm` (an `nn.LayerNorm`).
fn layer_norm(width: u64) -> Vec<Weight> {
    let mut w = Vec::new();
    norm(&mut w, "", width, NormKind::LayerNorm { bias: true });
    w
}

/// A biased convolution `d_in → d_out`, `k`×`k` (`transposed`: `[in, out, k, k]`).
fn conv(d_in: u64, d_out: u64, k: u64, transposed: bool) -> Vec<Weight> {
    let (i, o) = (dim(d_in, "in_channels"), dim(d_out, "out_channels"));
    let shape = match transposed {
        true => vec![i, o, dim(k, "k"), dim(k, "k")],
        false => vec![o, i, dim(k, "k"), dim(k, "k")],
    };
    vec![
        Weight::new("weight", shape),
        Weight::new("bias", vec![dim(d_out, "out_channels")]),
    ]
}

/// `SamMaskEmbedding`'s modules: (name, class, weights).
fn mask_embed(p: &SamPrompt) -> Vec<(&'static str, &'static str, Vec<Weight>)> {
    let quarter = p.mask_channels / 4;
    vec![
        ("conv1", "Conv2d", conv(1, quarter, 2, false)),
        ("conv2", "Conv2d", conv(quarter, p.mask_channels, 2, false)),
        ("conv3", "Conv2d", conv(p.mask_channels, p.hidden, 1, false)),
        ("layer_norm1", "SamLayerNorm", layer_norm(quarter)),
        // SamLayerNorm(mask_input_channels // 4 * 4), whatever conv2 gives it
        ("layer_norm2", "SamLayerNorm", layer_norm(4 * quarter)),
    ]
}

/// The parameters of the mask convolutions, which run only on a mask prompt.
pub fn mask_embed_params(p: &SamPrompt) -> Result<u64> {
    let weights: Vec<Weight> = mask_embed(p).into_iter().flat_map(|(_, _, w)| w).collect();
    Ok(crate::weight::totals(&weights, "sam")?.0)
}

fn one_row(width: u64) -> Vec<Weight> {
    vec![Weight::new(
        "weight",
        vec![dim(1, "1"), dim(width, "hidden")],
    )]
}

fn prompt_encoder(p: &SamPrompt, m: &mut Modules) -> Result<()> {
    m.add_tied(
        "prompt_encoder.shared_embedding".to_string(),
        "SamPositionalEmbedding",
        Vec::new(),
        "shared_image_embedding.positional_embedding",
    )?;
    for (name, class, weights) in mask_embed(p) {
        m.add(format!("prompt_encoder.mask_embed.{name}"), class, weights)?;
    }
    m.add(
        "prompt_encoder.no_mask_embed".to_string(),
        "Embedding",
        one_row(p.hidden),
    )?;
    for i in 0..p.point_embeddings {
        m.add(
            format!("prompt_encoder.point_embed.{i}"),
            "Embedding",
            one_row(p.hidden),
        )?;
    }
    m.add(
        "prompt_encoder.not_a_point_embed".to_string(),
        "Embedding",
        one_row(p.hidden),
    )
}

/// `SamAttention` at `path`: q, k, v `hidden → hidden / rate`, out back.
fn attention(m: &mut Modules, path: String, hidden: u64, rate: u64) -> Result<()> {
    let mut w = Vec::new();
    let (h, inner) = (dim(hidden, "hidden"), dim(hidden / rate, "internal_dim"));
    for proj in ["q_proj.", "k_proj.", "v_proj."] {
        linear(&mut w, proj, h.clone(), inner.clone(), true);
    }
    linear(&mut w, "out_proj.", inner, h, true);
    m.add(path, "SamAttention", w)
}

/// `SamFeedForward`: `proj_in`, `depth − 2` hidden Linears, `proj_out`.
fn feed_forward(m: &mut Modules, path: &str, widths: (u64, u64, u64), depth: u64) -> Result<()> {
    let (d_in, hidden, d_out) = widths;
    let mut w = Vec::new();
    let h = || dim(hidden, "hidden_dim");
    linear(&mut w, "proj_in.", dim(d_in, "input_dim"), h(), true);
    linear(&mut w, "proj_out.", h(), dim(d_out, "output_dim"), true);
    for i in 0..depth.saturating_sub(2) {
        linear(&mut w, &format!("layers.{i}."), h(), h(), true);
    }
    m.add(path.to_string(), "SamFeedForward", w)
}

fn mask_decoder(d: &SamDecoder, m: &mut Modules) -> Result<()> {
    let h = d.hidden;
    m.add(
        "mask_decoder.iou_token".to_string(),
        "Embedding",
        one_row(h),
    )?;
    let tokens = vec![Weight::new(
        "weight",
        vec![dim(d.mask_tokens, "mask tokens"), dim(h, "hidden")],
    )];
    m.add("mask_decoder.mask_tokens".to_string(), "Embedding", tokens)?;
    let ln = || layer_norm(h);
    for i in 0..d.layers {
        let block = format!("mask_decoder.transformer.layers.{i}.");
        attention(m, format!("{block}self_attn"), h, 1)?;
        m.add(format!("{block}layer_norm1"), "LayerNorm", ln())?;
        attention(
            m,
            format!("{block}cross_attn_token_to_image"),
            h,
            BLOCK_RATE,
        )?;
        m.add(format!("{block}layer_norm2"), "LayerNorm", ln())?;
        let mut mlp = Vec::new();
        let inner = || dim(d.mlp_dim, "mlp_dim");
        linear(&mut mlp, "lin1.", dim(h, "hidden"), inner(), true);
        linear(&mut mlp, "lin2.", inner(), dim(h, "hidden"), true);
        m.add(format!("{block}mlp"), "SamMLPBlock", mlp)?;
        m.add(format!("{block}layer_norm3"), "LayerNorm", ln())?;
        m.add(format!("{block}layer_norm4"), "LayerNorm", ln())?;
        attention(
            m,
            format!("{block}cross_attn_image_to_token"),
            h,
            BLOCK_RATE,
        )?;
    }
    let t = "mask_decoder.transformer.";
    attention(m, format!("{t}final_attn_token_to_image"), h, d.downsample)?;
    m.add(format!("{t}layer_norm_final_attn"), "LayerNorm", ln())?;
    let up = "mask_decoder.upscale_";
    m.add(
        format!("{up}conv1"),
        "ConvTranspose2d",
        conv(h, h / 4, 2, true),
    )?;
    m.add(
        format!("{up}conv2"),
        "ConvTranspose2d",
        conv(h / 4, h / 8, 2, true),
    )?;
    m.add(format!("{up}layer_norm"), "SamLayerNorm", layer_norm(h / 4))?;
    for i in 0..d.mask_tokens {
        let path = format!("mask_decoder.output_hypernetworks_mlps.{i}");
        feed_forward(m, &path, (h, h, h / 8), 3)?;
    }
    feed_forward(
        m,
        "mask_decoder.iou_prediction_head",
        (h, d.iou_hidden, d.mask_tokens),
        d.iou_depth,
    )
}
