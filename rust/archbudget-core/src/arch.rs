//! The structure of a transformers model, read from its config.json by `formats::hf`
//! and consumed by the memory model and the sweep: one description, so that counts,
//! FLOPs and bytes all follow the same rules.
//!
//! A `TransformerArch` is resolved for one head (`AutoModel` or the LM-head class), with
//! every transformers default already applied: consumers never look at the config again.

mod vision;
pub use vision::*;

/// Which stacks the model has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchKind {
    /// Causal decoder stack only (llama, gpt2, ...).
    Decoder,
    /// Bidirectional encoder stack only (bert, vit, ...).
    Encoder,
    /// Encoder and decoder stacks with cross-attention (t5).
    EncoderDecoder,
}

/// The model class the counts are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadKind {
    /// `AutoModel`: the bare model (with its pooler where the type has one).
    Base,
    /// `AutoModelForCausalLM`: the model and its LM head.
    CausalLm,
    /// The type's masked-LM class, used where it has no causal-LM class (distilbert).
    MaskedLm,
    /// The type's seq2seq LM class, used where it has no causal-LM class (t5).
    Seq2SeqLm,
}

impl HeadKind {
    pub fn has_lm_head(self) -> bool {
        self != HeadKind::Base
    }
}

/// Normalisation layers (all of one kind within a model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormKind {
    /// `nn.LayerNorm` with weight, and bias when `bias` is true.
    LayerNorm { bias: bool },
    /// `nn.LayerNorm(elementwise_affine=False)`: no parameters (opt).
    LayerNormNoAffine,
    /// RMSNorm with one weight vector (llama, gemma's `1 + w`, T5LayerNorm).
    RmsNorm,
}

/// How token positions enter the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A learned table of `rows` × hidden (rows include opt's offset of 2, vit's CLS slot).
    Learned { rows: u64 },
    /// Rotary embeddings (no parameters).
    Rotary,
    /// ALiBi biases (falcon `alibi`; no parameters).
    Alibi,
    /// T5 relative-position buckets: an `num_buckets` × heads table in the first layer of
    /// each stack.
    RelativeBuckets { num_buckets: u64, max_distance: u64 },
    /// None: the layers see order themselves (mamba's scan).
    None,
}

/// A sparse mixture-of-experts MLP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moe {
    /// Routed experts per MoE layer.
    pub num_experts: u64,
    /// Experts each token is routed to (top-k).
    pub experts_per_token: u64,
    /// Intermediate size of one routed expert (gated: gate, up and down projections).
    pub expert_intermediate_size: u64,
    /// Intermediate size of the always-on shared expert; 0 when there is none.
    pub shared_expert_intermediate_size: u64,
    /// Whether the shared expert's output is scaled by a `hidden → 1` sigmoid gate.
    pub shared_expert_gate: bool,
    /// Layer indices that use the dense MLP (`intermediate_size`) instead of experts.
    pub dense_layers: Vec<u64>,
    /// The top-k routing weights are renormalised to sum to 1 (mixtral always,
    /// qwen2_moe `norm_topk_prob`).
    pub renormalize: bool,
    /// The routing weights are cast back to the router logits' dtype (qwen2_moe).
    pub weights_in_logits_dtype: bool,
    // ---- added for the MoE/MLA types (qwen3_moe, deepseek_v2/v3, glm4_moe, gpt_oss, llama4)
    /// How the router turns logits into routing weights.
    pub scoring: RouterScoring,
    /// The router `Linear` has a bias (gpt_oss).
    pub router_bias: bool,
    /// The routed experts have biases on both projections and gate with the clamped
    /// SwiGLU `(clamp(up) + 1) · g · sigmoid(1.702 g)` (gpt_oss).
    pub expert_bias: bool,
    /// The shared expert's projections have biases (deepseek_v2 `mlp_bias`).
    pub shared_expert_bias: bool,
    /// The router holds an fp32 `e_score_correction_bias` buffer of one value per expert
    /// (deepseek_v3, glm4_moe).
    pub correction_bias: bool,
}

/// Router scoring of the MoE types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterScoring {
    /// `softmax(logits)` then top-k (mixtral, qwen2_moe, qwen3_moe, deepseek_v2).
    Softmax,
    /// Top-k of the logits, softmax over the k (gpt_oss).
    TopkSoftmax,
    /// `sigmoid(logits)` with group-limited top-k on bias-corrected scores (deepseek_v3,
    /// glm4_moe); the router runs in fp32.
    GroupSigmoid,
    /// Top-k of the logits, sigmoid of the k: every expert runs on every token with a
    /// zero weight where not chosen (llama4).
    DenseSigmoid,
}

/// Multi-head latent attention (deepseek_v2, deepseek_v3): q through an optional
/// low-rank bottleneck, k and v from one compressed latent plus a shared rotary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mla {
    /// Rank of `q_a_proj` → `q_a_layernorm` → `q_b_proj`; `None`: one `q_proj`.
    pub q_lora_rank: Option<u64>,
    /// Width of the compressed kv latent (`kv_a_layernorm`, input of `kv_b_proj`).
    pub kv_lora_rank: u64,
    /// Per-head q/k width without rotary embedding.
    pub qk_nope_head_dim: u64,
    /// Per-head q/k width with rotary embedding (the k part shared by all heads).
    pub qk_rope_head_dim: u64,
    /// Per-head value width.
    pub v_head_dim: u64,
}

impl Moe {
    /// The router fields of mixtral and qwen2_moe (softmax, no biases), for `..` in a
    /// literal whose other fields are set.
    pub fn softmax_router() -> Self {
        Moe {
            num_experts: 0,
            experts_per_token: 0,
            expert_intermediate_size: 0,
            shared_expert_intermediate_size: 0,
            shared_expert_gate: false,
            dense_layers: Vec::new(),
            renormalize: false,
            weights_in_logits_dtype: false,
            scoring: RouterScoring::Softmax,
            router_bias: false,
            expert_bias: false,
            shared_expert_bias: false,
            correction_bias: false,
        }
    }

    pub fn is_moe_layer(&self, layer: u64) -> bool {
        !self.dense_layers.contains(&layer)
    }
}

/// Image input of a vision transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vision {
    /// Input image height and width in pixels.
    pub image_size: (u64, u64),
    /// Patch height and width (the stride of the patch convolution).
    pub patch_size: (u64, u64),
    /// Input channels.
    pub num_channels: u64,
    /// Patches per image: (h / ph) × (w / pw); the sequence is this plus the class tokens.
    pub num_patches: u64,
    /// Learned tokens put before the patches: ViT's CLS token (1), DeiT's CLS and
    /// distillation tokens (2).
    pub class_tokens: u64,
    /// The patch convolution has a bias (always in transformers; keras-hub's ViT
    /// `use_patch_bias`).
    pub patch_bias: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformerArch {
    /// The config's `model_type` (`llama`, `gpt2`, ...).
    pub model_type: String,
    /// Decoder-only, encoder-only or encoder-decoder.
    pub kind: ArchKind,
    /// The class counted: bare model or one with an LM head.
    pub head: HeadKind,
    /// Rows of the token embedding and LM head (no type pads it at construction); 0 for vit.
    pub vocab_size: u64,
    /// Width of the token embedding and LM head: opt's `word_embed_proj_dim`, else hidden.
    pub embed_dim: u64,
    /// Width of the residual stream.
    pub hidden_size: u64,
    /// Blocks of the main stack: the decoder (decoder-only), the encoder (bert, vit, t5).
    pub num_layers: u64,
    /// Blocks of t5's decoder stack; 0 for single-stack models.
    pub num_decoder_layers: u64,
    /// Query heads.
    pub num_heads: u64,
    /// Key/value heads (grouped-query attention; 1 for multi-query falcon).
    pub num_kv_heads: u64,
    /// Width of one head (`head_dim`, t5 `d_kv`, else hidden / heads).
    pub head_dim: u64,
    /// Dense MLP inner width (gpt2 `n_inner` or 4×, falcon `ffn_hidden_size`, t5 `d_ff`, ...).
    pub intermediate_size: u64,
    /// Gated MLP (`act(gate(x)) * up(x)`, three matrices) rather than plain (two).
    pub gated_mlp: bool,
    /// The MLP activation as transformers names it (`silu`, `gelu_new`, `relu`, ...).
    pub activation: String,
    /// Normalisation layer kind.
    pub norm: NormKind,
    /// Norm layers inside each block (gemma2: 4; falcon parallel: 1; bert/t5 count theirs).
    pub norms_per_layer: u64,
    /// Whether the stack ends with a final norm (opt `_remove_final_layer_norm` drops it).
    pub final_norm: bool,
    /// Norm before each sub-block (pre-norm) rather than after the residual add (bert, opt
    /// with `do_layer_norm_before=false`).
    pub pre_norm: bool,
    /// Biases on the q, k and v projections.
    pub qkv_bias: bool,
    /// Bias on the attention output projection.
    pub o_bias: bool,
    /// Biases on the MLP projections.
    pub mlp_bias: bool,
    /// q, k and v computed by one fused matrix (gpt2, gpt_neox, falcon, phi3).
    pub fused_qkv: bool,
    /// Position encoding.
    pub position: Position,
    /// Longest sequence the config declares (`max_position_embeddings`, `n_positions`;
    /// for vit the patch count + 1; for t5, which has no limit, 0).
    pub max_positions: u64,
    /// Rows of the token-type (segment) embedding; 0 when the model has none.
    pub type_vocab_size: u64,
    /// LM head shares the token-embedding matrix (counted once, as `model.parameters()`).
    pub tie_word_embeddings: bool,
    /// Sparse MoE MLP; `None` for dense models.
    pub moe: Option<Moe>,
    /// Attention and MLP read the same input and are summed (falcon, gpt_neox parallel
    /// residual) instead of running one after the other.
    pub parallel_attn: bool,
    /// Falcon's new decoder architecture: `_split_heads` broadcasts each kv head to its
    /// query heads and the `reshape` after it copies k and v out at all query heads.
    pub kv_broadcast: bool,
    /// Each decoder block also cross-attends (t5 decoder; gpt2/bert `add_cross_attention`).
    pub cross_attention: bool,
    /// Output width of the tanh pooler on the first token (bert/roberta/vit `AutoModel`);
    /// `None` when the class has no pooler.
    pub pooler: Option<u64>,
    /// A BERT-style LM head (bert, roberta, distilbert): a `dense + norm` transform before
    /// a biased vocabulary projection; `None` for a plain projection or no LM head.
    pub mlm_head: Option<MlmHead>,
    /// Image geometry for vision transformers; `None` for text models.
    pub vision: Option<Vision>,
    /// t5's `T5ForConditionalGeneration` multiplies the decoder output by
    /// `d_model**-0.5` before the LM head: `scale_decoder_outputs`, true unless the config
    /// sets `tie_word_embeddings` to false (T5 v1.1); false for every other type.
    pub scale_decoder_outputs: bool,
    // ---- issue 10: what the newer types add (per-layer attention, q/k norms, MLA, sinks,
    // ...); every older type leaves it at `BlockDetails::default()`.
    pub details: BlockDetails,
}

/// What a BERT-style LM head adds to the vocabulary projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MlmHead {
    /// With untied embeddings bert/roberta keep the head's own `bias` parameter beside
    /// the projection's: counted, but unused by the forward (no gradient, no state).
    pub untied_bias: bool,
}

// ---- issue 10: per-layer attention kinds and block details of the newer decoder types
// (the declarative `formats::hf::spec` types and the MoE/MLA readers). Counts, FLOPs and
// memory read them from here.

/// Which earlier positions one layer's attention sees (`layer_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionSpan {
    /// Every earlier position ("full_attention").
    Full,
    /// The last `window` positions ("sliding_attention": gemma3, cohere2, gpt_oss, ...).
    Sliding(u64),
    /// The positions of the same `size`-position chunk ("chunked_attention": llama4).
    Chunked(u64),
}

impl AttentionSpan {
    /// The positions beyond which the layer's mask cuts and its generate cache stops
    /// growing (transformers' `DynamicSlidingWindowLayer` for sliding and chunked
    /// layers); `None` for full attention.
    pub fn window(self) -> Option<u64> {
        match self {
            AttentionSpan::Full => None,
            AttentionSpan::Sliding(w) | AttentionSpan::Chunked(w) => Some(w),
        }
    }
}

/// What one decoder layer's attention sees and whether it rotates q and k.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerAttention {
    pub span: AttentionSpan,
    /// Rotary embeddings applied in this layer (false on smollm3's and llama4's NoPE
    /// layers).
    pub rotary: bool,
}

/// What normalises q and k inside attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QkNormKind {
    /// Norm modules `q_norm` / `k_norm` with weights, before the rotary embedding.
    Learned(NormKind),
    /// llama4's `Llama4TextL2Norm` (`x · rsqrt(mean(x²) + eps)`, no weights) over each
    /// head, after the rotary embedding, on rotary layers only.
    L2,
}

/// Norms on the query and key projections inside attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QkNorm {
    pub kind: QkNormKind,
    /// Width each norm normalises over (one head, or the whole projection for olmo2).
    pub dim: u64,
    /// Elements of the query norm's weight (and of its bias, if any), and of the key
    /// norm's: `dim`, or heads × head_dim for per-head tables (cohere's `(heads,
    /// head_dim)` weight, stablelm's LayerNorm per head); 0 for [`QkNormKind::L2`].
    pub q_width: u64,
    pub k_width: u64,
}

impl QkNorm {
    /// One RMSNorm weight of `head_dim` each for q and k, shared by the heads (qwen3,
    /// qwen3_moe, glm4_moe).
    pub fn rms_per_head(head_dim: u64) -> Self {
        QkNorm {
            kind: QkNormKind::Learned(NormKind::RmsNorm),
            dim: head_dim,
            q_width: head_dim,
            k_width: head_dim,
        }
    }

    /// llama4's parameter-free L2 norm over each head.
    pub fn l2(head_dim: u64) -> Self {
        QkNorm {
            kind: QkNormKind::L2,
            dim: head_dim,
            q_width: 0,
            k_width: 0,
        }
    }
}

/// What mixes tokens across positions in one decoder layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerMixer {
    /// Softmax attention, as the layer's [`LayerAttention`] says.
    Attention,
    /// A state-space block (mamba, mamba2, and the mamba layers of jamba).
    Ssm,
    /// Attention and a state-space block side by side on the same input (falcon_h1).
    AttentionAndSsm,
    /// Linear attention with a recurrent state (qwen3_next's Gated DeltaNet layers).
    LinearAttention,
}

/// Block details beyond the older types' fields (all absent by default).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockDetails {
    /// One entry per decoder layer; empty: every layer is full attention with `position`.
    pub layers: Vec<LayerAttention>,
    pub qk_norm: Option<QkNorm>,
    /// Norms only on each branch's output before the residual add, none on its input
    /// (olmo2, olmo3).
    pub post_branch_norms: bool,
    /// Dimensions of each head that rotary embeddings rotate (partial rotary, MLA's
    /// `qk_rope_head_dim`; its `inv_freq` has half as many entries); 0: all.
    pub rotary_dim: u64,
    /// The LM head has a bias (phi, gptj).
    pub lm_head_bias: bool,
    /// The logits are rescaled by one more elementwise op (cohere's `logit_scale`).
    pub logit_scale: bool,
    /// Multi-head latent attention instead of q/k/v projections (deepseek_v2/v3).
    pub mla: Option<Mla>,
    /// A learned logit per head joined to every softmax row (gpt_oss `sinks`).
    pub attn_sinks: bool,
    /// NoPE layers scale q by a per-position temperature (llama4
    /// `attn_temperature_tuning`).
    pub nope_temperature: bool,
    /// One entry per decoder layer; empty: every layer is attention.
    pub mixers: Vec<LayerMixer>,
    /// The attention output is multiplied by `sigmoid` of a gate that `q_proj` computes
    /// beside the queries (q_proj twice as wide: qwen3_next's full-attention layers).
    pub attn_output_gate: bool,
    /// The linear-attention layers' shape (those [`LayerMixer::LinearAttention`] marks).
    pub linear_attention: Option<LinearAttention>,
    /// The state-space mixer of the [`LayerMixer::Ssm`] layers (mamba, mamba2, jamba).
    pub ssm: Option<Ssm>,
    /// The vision tower and projector of a multimodal wrapper (gemma3, llava, mistral3,
    /// qwen2_5_vl, llama4); the rest of the arch is its text model (`text_config`).
    pub vision_language: Option<Box<VisionLanguage>>,
    // ---- issue 11: the encoders beyond bert (albert, electra, deberta-v2, fnet)
    pub encoder: Option<Box<EncoderFamily>>,
    /// The vision tower and projections of a dual encoder (clip, siglip).
    pub dual_encoder: Option<Box<DualEncoder>>,
    /// A norm on the embeddings before the first block of a pre-norm decoder (bloom's
    /// `word_embeddings_layernorm`).
    pub embed_norm: bool,
    // ---- issue 11: speech encoder-decoders (whisper)
    /// The encoder reads log-mel features through this front end instead of tokens.
    pub audio: Option<AudioFrontend>,
    /// The key projections have no bias while q, v and the output have (whisper).
    pub unbiased_key: bool,
    // ---- issue 11: vision towers on their own (clip_vision_model, siglip_vision_model)
    /// The model is this tower alone; the arch's widths repeat the tower's.
    pub vision_model: Option<Box<VisionModel>>,
    /// DINOv2's image tokens beyond vit's (dinov2, dinov2_with_registers); its blocks
    /// scale each branch by a learned vector (`LayerScale`) before the residual add.
    pub dinov2: Option<Dinov2Tokens>,
    /// q, k and v biased each on its own (dinov3_vit's `query_bias`, `key_bias`,
    /// `value_bias`); `None`: all three as `qkv_bias` says.
    pub qkv_biases: Option<[bool; 3]>,
    // ---- issue 11: hierarchical vision transformers (swin, segformer)
    /// The stages of a hierarchical vision transformer (swin); the rest of the arch
    /// describes its last stage.
    pub swin: Option<Box<crate::formats::hf::swin::Swin>>,
    /// The stages of a Mix Transformer encoder (segformer); the rest of the arch describes
    /// its last stage.
    pub segformer: Option<Box<crate::formats::hf::segformer::Segformer>>,
    // ---- issue 11: moonshine (transformers' type and KerasHub's twin of it)
    /// Each stack's heads, rotary width and MLP, and the audio stem's channels.
    pub moonshine: Option<Box<crate::formats::hf::moonshine::Moonshine>>,
    /// t5gemma's two Gemma 2 stacks, each of its own widths; the rest of the arch
    /// describes the decoder.
    pub t5gemma: Option<Box<crate::formats::hf::t5gemma::T5Gemma>>,
    // ---- issue 11: Gemma 3n's text model (gemma3n_text)
    /// AltUp, Laurel, per-layer inputs and KV sharing around gemma3's layers.
    pub gemma3n: Option<Box<crate::formats::hf::gemma3n::Gemma3n>>,
    /// Segment Anything's image encoder (sam_vision_model, keras-hub's ViTDet): its
    /// windows, global layers and neck.
    pub sam_vision: Option<Box<crate::formats::hf::sam::SamVision>>,
    /// The whole Segment Anything model (sam): its prompt encoder and mask decoder
    /// beside the image encoder `sam_vision` describes.
    pub sam_model: Option<Box<crate::formats::hf::sam_model::SamModel>>,
    /// depth_anything's neck and head on its DINOv2 backbone; the rest of the arch
    /// describes the backbone.
    pub depth_anything: Option<Box<crate::formats::hf::depth_anything::DepthAnything>>,
    /// Gemma 4's per-kind head dims, KV sharing, per-layer inputs and experts.
    pub gemma4: Option<Box<crate::formats::hf::gemma4::Gemma4>>,
    /// blip-2's vision model, query tokens, Q-Former and projection before its language
    /// model (the arch's own fields).
    pub blip2: Option<Box<crate::formats::hf::blip2::Blip2>>,
    /// keras-hub RWKV-7's low-rank ranks: the blocks are its time and channel mixes.
    pub rwkv7: Option<crate::formats::keras_hub::Rwkv7Lora>,
    /// keras-hub VideoPrism's video (transformers' `videoprism_vision_model`): frames and
    /// patches through a spatial then a temporal encoder of the arch's blocks.
    pub video_prism: Option<crate::formats::keras_hub::VideoPrism>,
    /// KerasHub PARSeq's image encoder and training permutations; the rest of the arch
    /// describes its decoder.
    pub parseq: Option<Box<crate::formats::keras_hub::parseq::Parseq>>,
}

/// How an encoder beyond bert differs from it. All of them keep bert's post-norm blocks
/// and token / position / token-type embeddings `embed_dim` wide (`embedding_size`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncoderFamily {
    /// ALBERT: the embeddings' LayerNorm is `embed_dim` wide and a biased Linear maps
    /// them to the hidden width; `groups` layer groups of `inner` layers each, step `i`
    /// of the `num_layers` applying group ⌊i·groups / num_layers⌋: weights held once,
    /// activations per application. No dropout after the feed-forward.
    Albert { groups: u64, inner: u64 },
    /// ELECTRA: bert's layers after a biased `embeddings_project` when `embed_dim`
    /// differs from the hidden width; no pooler.
    Electra,
    /// FNet: `fftn` over the sequence and hidden axes (its real part) instead of
    /// attention; a biased `projection` after the embeddings' LayerNorm.
    Fnet,
    /// DeBERTa-v2 / v3: disentangled attention over relative positions.
    DebertaV2(Disentangled),
}

/// DeBERTa-v2's disentangled self-attention (`DisentangledSelfAttention`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disentangled {
    /// `relative_attention`: the content-to-position and position-to-content terms.
    pub relative: bool,
    pub c2p: bool,
    pub p2c: bool,
    /// `share_att_key`: the relative embeddings go through the query and key
    /// projections; else through their own `pos_key_proj` / `pos_query_proj`.
    pub share_att_key: bool,
    /// Relative distances one side (`position_buckets`, else `max_relative_positions`):
    /// `rel_embeddings` holds twice as many rows.
    pub att_span: u64,
    /// `norm_rel_ebd` has "layer_norm": the relative embeddings are normalised.
    pub rel_norm: bool,
    /// `conv_kernel_size` > 0: a Conv1d (kernel, groups) after the first layer, with
    /// its activation (`conv_act`).
    pub conv: Option<(u64, u64, String)>,
    /// `legacy`: the LM head is `cls.predictions` (transform to `embed_dim`, a tied
    /// decoder); else `lm_predictions` multiplies by the word embeddings itself.
    pub legacy_head: bool,
}

/// Gated DeltaNet linear attention (qwen3_next `Qwen3NextGatedDeltaNet`): `in_proj_qkvz`
/// gives q, k (key heads), v and the output gate z (value heads), `in_proj_ba` each value
/// head's β and decay input; a causal depthwise conv1d over q‖k‖v; the gated delta rule
/// keeps a key_head_dim × value_head_dim state per value head; a gated RMSNorm over each
/// value head, then `out_proj`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinearAttention {
    pub num_key_heads: u64,
    pub num_value_heads: u64,
    pub key_head_dim: u64,
    pub value_head_dim: u64,
    /// Width of the causal conv1d (`linear_conv_kernel_dim`), also the positions its
    /// generate cache keeps.
    pub conv_kernel: u64,
}

impl LinearAttention {
    /// key heads × key head dim (the width of q and of k).
    pub fn key_dim(&self) -> u64 {
        self.num_key_heads * self.key_head_dim
    }

    /// value heads × value head dim (the width of v, of z and of `out_proj`'s input).
    pub fn value_dim(&self) -> u64 {
        self.num_value_heads * self.value_head_dim
    }

    /// Channels of the conv1d: q, k and v side by side.
    pub fn conv_dim(&self) -> u64 {
        2 * self.key_dim() + self.value_dim()
    }
}

/// Which selective state-space mixer a layer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsmVersion {
    /// `MambaMixer`: a state of `d_state` per channel, dt through a rank-`dt_rank`
    /// bottleneck (`x_proj` → `dt_proj`), a sequential scan.
    Mamba1,
    /// `Mamba2Mixer`: a scalar decay per head, B and C shared by `n_groups` groups of
    /// heads, a chunked scan (`chunk_size`) and a gated RMSNorm before `out_proj`.
    Mamba2,
}

/// A selective state-space (Mamba) mixer, as transformers builds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ssm {
    pub version: SsmVersion,
    /// Channels of the scan (`intermediate_size`, `expand · hidden`).
    pub d_inner: u64,
    /// State size per channel (mamba1) or per head (mamba2).
    pub d_state: u64,
    /// Kernel of the causal depthwise `conv1d`.
    pub d_conv: u64,
    /// Rank of the dt bottleneck (mamba1; 0 for mamba2).
    pub dt_rank: u64,
    /// Heads (mamba2; 0 for mamba1): `d_inner = heads · head_dim`.
    pub heads: u64,
    /// Groups of heads sharing B and C (mamba2; 0 for mamba1).
    pub n_groups: u64,
    /// Positions per chunk of mamba2's scan (0 for mamba1).
    pub chunk_size: u64,
    /// `conv1d` has a bias (`use_conv_bias`).
    pub conv_bias: bool,
    /// `in_proj` has a bias (`use_bias`).
    pub proj_bias: bool,
    /// `out_proj` has a bias (`use_bias`; falcon_h1 `projectors_bias`).
    pub out_proj_bias: bool,
    /// mamba2's gated RMSNorm `norm` (d_inner) before `out_proj`; without it (falcon_h1
    /// `mamba_rms_norm=false`) the scan's output is multiplied by silu(z) alone.
    pub gated_norm: bool,
    /// falcon_h1's µP multipliers: the input scaled by `ssm_in_multiplier` and in_proj's
    /// output by the `mup_vector` buffer (one value per output channel).
    pub mup: bool,
    /// RMSNorms on dt, B and C after `x_proj` (jamba's `dt_layernorm`, `b_layernorm`,
    /// `c_layernorm`).
    pub dt_bc_norms: bool,
    /// The layer is the mixer alone (`MambaBlock`: RMSNorm → mixer → residual kept in
    /// fp32); false: the mixer takes attention's place in a decoder layer that also has
    /// its MLP (jamba).
    pub mixer_only: bool,
}

impl Ssm {
    /// Channels of the depthwise convolution: x alone (mamba1), or x, B and C (mamba2).
    pub fn conv_channels(&self) -> u64 {
        match self.version {
            SsmVersion::Mamba1 => self.d_inner,
            SsmVersion::Mamba2 => self.d_inner + 2 * self.n_groups * self.d_state,
        }
    }

    /// Width of `in_proj`'s output: x and the gate z (mamba1); z, x, B, C and dt per
    /// head (mamba2).
    pub fn in_proj_width(&self) -> u64 {
        match self.version {
            SsmVersion::Mamba1 => 2 * self.d_inner,
            SsmVersion::Mamba2 => self.d_inner + self.conv_channels() + self.heads,
        }
    }
}

impl TransformerArch {
    /// The shape most readers start from, each naming what differs (`..TransformerArch::
    /// encoder(..)`): the bare class (`HeadKind::Base`) of an encoder of `layers` pre-norm
    /// blocks `hidden` wide, `heads` full heads of `hidden / heads` (0 without heads), a
    /// plain two-matrix `gelu` MLP `inter` wide; biases on every projection, biased
    /// LayerNorms (two a block and a final one); no vocabulary, positions, token types,
    /// tying, pooler, image or `details`. An encoder-decoder names its `kind` and
    /// `num_decoder_layers`, `layers` being its encoder's.
    pub fn encoder(model_type: &str, hidden: u64, layers: u64, heads: u64, inter: u64) -> Self {
        TransformerArch {
            model_type: model_type.to_string(),
            kind: ArchKind::Encoder,
            head: HeadKind::Base,
            vocab_size: 0,
            embed_dim: hidden,
            hidden_size: hidden,
            num_layers: layers,
            num_decoder_layers: 0,
            num_heads: heads,
            num_kv_heads: heads,
            head_dim: hidden.checked_div(heads).unwrap_or(0),
            intermediate_size: inter,
            gated_mlp: false,
            activation: "gelu".to_string(),
            norm: NormKind::LayerNorm { bias: true },
            norms_per_layer: 2,
            final_norm: true,
            pre_norm: true,
            qkv_bias: true,
            o_bias: true,
            mlp_bias: true,
            fused_qkv: false,
            position: Position::None,
            max_positions: 0,
            type_vocab_size: 0,
            tie_word_embeddings: false,
            moe: None,
            parallel_attn: false,
            kv_broadcast: false,
            cross_attention: false,
            pooler: None,
            mlm_head: None,
            vision: None,
            scale_decoder_outputs: false,
            details: BlockDetails::default(),
        }
    }

    /// [`TransformerArch::encoder`]'s shape as a causal decoder stack.
    pub fn decoder(model_type: &str, hidden: u64, layers: u64, heads: u64, inter: u64) -> Self {
        TransformerArch {
            kind: ArchKind::Decoder,
            ..Self::encoder(model_type, hidden, layers, heads, inter)
        }
    }

    /// Whether the model reads token ids (`--seq` of them) rather than images of a fixed
    /// size (vit, deit, the vision towers alone; PARSeq, whose labels are of a fixed
    /// length).
    pub fn reads_tokens(&self) -> bool {
        self.vision.is_none()
            && self.details.vision_model.is_none()
            && self.details.parseq.is_none()
    }

    /// Dimensions rotated by rotary embeddings.
    pub fn rotary_dim(&self) -> u64 {
        match self.details.rotary_dim {
            0 => self.head_dim,
            n => n,
        }
    }

    /// The attention kind of layer `i`.
    pub fn layer_attention(&self, i: u64) -> LayerAttention {
        self.details
            .layers
            .get(i as usize)
            .copied()
            .unwrap_or(LayerAttention {
                span: AttentionSpan::Full,
                rotary: self.position == Position::Rotary,
            })
    }

    /// What mixes tokens in layer `i`.
    pub fn layer_mixer(&self, i: u64) -> LayerMixer {
        self.details
            .mixers
            .get(i as usize)
            .copied()
            .unwrap_or(LayerMixer::Attention)
    }
}
