//! The vision side of a `TransformerArch`: a vision tower alone or in a multimodal
//! wrapper (its family, layout and projector onto the text model's width), a dual
//! encoder's, and the speech encoder's front end.

/// A vision tower as a model of its own, and what it gives the loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisionModel {
    pub tower: VisionTower,
    pub output: VisionOutput,
}

/// What a vision tower alone returns (the loss reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisionOutput {
    /// transformers' `last_hidden_state` (CLIP's before `post_layernorm`, SigLIP's after).
    LastHidden,
    /// keras-hub's CLIPVisionEncoder: its final LayerNorm on every token (transformers'
    /// `post_layernorm` normalises the class token alone).
    EveryTokenNormed,
    /// keras-hub's SigLIPVisionEncoder: the pooling head's output.
    Pooled,
    /// keras-hub's MetaCLIP2VisionEncoder: CLIP's `last_hidden_state` with no
    /// `post_layernorm` at all (its backbone normalises the pooled class token).
    LastHiddenUnpooled,
    /// keras-hub's Gemma3VisionEncoder: gemma3's `Gemma3MultiModalProjector` after the
    /// tower, `tokens` per image, `width` wide.
    Gemma3Projector { tokens: u64, width: u64 },
    /// keras-hub's Gemma4VisionEncoder: the tower's soft tokens through gemma4's
    /// `Gemma4MultimodalEmbedder` (a scale-free RMSNorm, a bias-free projection to `width`).
    Gemma4Embedder { width: u64 },
}

/// The learned tokens of a DINOv2 embedding besides the class token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dinov2Tokens {
    /// Register tokens put after the class token, once positions are added.
    pub registers: u64,
    /// `mask_token` (`1 × hidden`), read only with `bool_masked_pos`.
    pub mask_token: bool,
}

/// A speech encoder's input (whisper `WhisperEncoder`): log-mel features
/// (batch × `mel_bins` × 2·`positions` frames) through two Conv1d with GELU (kernel 3,
/// padding 1; the second with stride 2, halving the frames), plus a frozen table of
/// sinusoidal positions, one row per encoder position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFrontend {
    /// Channels of the input features (`num_mel_bins`).
    pub mel_bins: u64,
    /// Encoder positions (`max_source_positions`): the encoder's fixed sequence length.
    pub positions: u64,
}

// ---- issue 10: multimodal wrappers. One vision-tower description (SigLIP, CLIP,
// Pixtral, Qwen2.5-VL's tower) and a projector onto the text model's width.

/// The encoder families a tower is built from (module names and classes follow them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TowerFamily {
    /// `CLIPVisionModel`: a bias-free patch conv, a class token and learned positions,
    /// `pre_layrnorm`, LayerNorm blocks, `post_layernorm`.
    Clip,
    /// `SiglipVisionModel`: biased patch conv, learned positions, LayerNorm blocks,
    /// `post_layernorm`, an optional attention-pooling head.
    Siglip,
    /// `PixtralVisionModel`: bias-free patch conv, `ln_pre`, RMSNorm blocks with a gated
    /// MLP, 2D rotary positions.
    Pixtral,
    /// `Qwen2_5_VisionTransformerPretrainedModel`: a Conv3d over `temporal_patch` frames,
    /// RMSNorm blocks with fused qkv and a gated biased MLP, windowed attention, 2D
    /// rotary positions, and a patch merger onto the text width.
    Qwen25Vl,
    /// `Llama4VisionModel`: an unfolded bias-free patch projection, a class token and
    /// learned positions, pre/post LayerNorms, LayerNorm blocks with biased attention
    /// and MLP, 2D rotary positions, and a pixel-shuffle MLP (`vision_adapter`).
    Llama4,
    /// `Gemma4VisionModel`: a bias-free patch `Linear` over pre-cut patches, a 2-D position
    /// table, Gemma 4's sandwich-normed RMSNorm blocks (q/k norms, a scale-free v norm,
    /// bias-free q/k/v/o and gated MLP, optionally clipped), 2-D rotary positions, and a
    /// weightless average pool of `pooling_kernel`² patches per soft token.
    Gemma4,
}

/// What a Gemma 4 vision tower adds to [`VisionTower`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gemma4Tower {
    pub kv_heads: u64,
    pub head_dim: u64,
    /// Rows of each axis' position table (`position_embedding_size`).
    pub positions: u64,
    /// Patches pooled per side into one soft token (`pooling_kernel_size`).
    pub pooling_kernel: u64,
    /// Soft tokens per image: the images are `soft_tokens · pooling_kernel²` patches.
    pub soft_tokens: u64,
    /// `use_clipped_linears`: four scalar bound buffers and two clamps per linear.
    pub clipped: bool,
    /// `standardize`: `std_bias` and `std_scale` buffers applied to the pooled tokens.
    pub standardize: bool,
}

/// A ViT-style vision encoder as a multimodal wrapper holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisionTower {
    pub family: TowerFamily,
    pub hidden_size: u64,
    pub intermediate_size: u64,
    pub num_layers: u64,
    pub num_heads: u64,
    pub num_channels: u64,
    /// Image side in pixels (learned position tables are sized from it).
    pub image_size: u64,
    pub patch_size: u64,
    /// Frames one patch spans (Qwen2.5-VL's Conv3d); 1 elsewhere.
    pub temporal_patch: u64,
    /// SigLIP's `vision_use_head`: the attention-pooling head is built.
    pub pooling_head: bool,
    /// Patches merged per side by Qwen2.5-VL's patch merger; 1 elsewhere.
    pub spatial_merge: u64,
    /// Qwen2.5-VL's merger output width (`out_hidden_size`); 0 elsewhere.
    pub out_hidden_size: u64,
    /// llama4's pixel-shuffle MLP: `fc1` intermediate → `projector_input_dim`, `fc2`
    /// `projector_output_dim` → itself; `None` elsewhere.
    pub pixel_shuffle: Option<(u64, u64)>,
    /// Gemma 4's tower: its attention shape, position table, pooling and options.
    pub gemma4: Option<Gemma4Tower>,
}

/// How vision features reach the text model's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projector {
    /// llava: `linear_1` (vision hidden × feature layers → text) + act + `linear_2`.
    Llava { feature_layers: u64, bias: bool },
    /// mistral3: RMSNorm, a patch merger (`spatial_merge`² patches → one), then llava's
    /// two linears.
    Mistral3 {
        feature_layers: u64,
        bias: bool,
        spatial_merge: u64,
    },
    /// gemma3: RMSNorm, average pooling, one `vision hidden × text hidden` matrix.
    Gemma3,
    /// Qwen2.5-VL: the tower's own merger projects; no separate module.
    InTower,
    /// llama4: one bias-free `linear_1` from `vision_output_dim`.
    Llama4 { vision_output_dim: u64 },
    /// paligemma: one biased `linear` to `projection_dim`.
    PaliGemma { projection_dim: u64 },
}

/// A multimodal wrapper: its classes, vision tower and projector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisionLanguage {
    /// The wrapper's `model_type` (`llava`, ...); the arch's own is its text model's.
    pub model_type: String,
    /// `AutoModel`'s class (`LlavaModel`) and the `ForConditionalGeneration` class.
    pub base_class: &'static str,
    pub lm_class: &'static str,
    /// The tower's attribute (`vision_tower`, `visual`, `vision_model`).
    pub tower_path: &'static str,
    /// The wrapper holds the text model with its LM head as `language_model`, and
    /// `AutoModel` builds the wrapper too (llama4); else `<Type>Model` holds the bare
    /// text model and the conditional-generation class adds `lm_head`.
    pub lm_inside: bool,
    pub tower: VisionTower,
    pub projector: Projector,
}

/// A dual encoder (clip, siglip): the arch's own fields are its text encoder, this its
/// vision tower and what joins the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DualEncoder {
    /// `clip` or `siglip`.
    pub model_type: String,
    pub tower: VisionTower,
    /// clip: the width both projections map to; siglip: the text model's `head` width
    /// (`projection_size`).
    pub projection_dim: u64,
}
