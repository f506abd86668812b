//! The structure of a transformers model, read from its config.json by `formats::hf`
//! and consumed by the memory model and the sweep: one description, so that counts,
//! FLOPs and bytes all follow the same rules.
//!
//! A `TransformerArch` is resolved for one head (`AutoModel` or the LM-head class), with
//! every transformers default already applied: consumers never look at the config again.

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
}

impl Moe {
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
    /// Patches per image: (h / ph) × (w / pw); the sequence is this plus the CLS token.
    pub num_patches: u64,
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
    // ---- issue 10: what the declarative decoder types add (formats::hf::spec); every
    // older type leaves it at `BlockDetails::default()`.
    pub details: BlockDetails,
}

/// What a BERT-style LM head adds to the vocabulary projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MlmHead {
    /// With untied embeddings bert/roberta keep the head's own `bias` parameter beside
    /// the projection's: counted, but unused by the forward (no gradient, no state).
    pub untied_bias: bool,
}

// ---- issue 10: per-layer attention kinds and block details of the declarative
// decoder types (`formats::hf::spec`). Counts, FLOPs and memory read them from here.

/// What one decoder layer's attention sees and what its cache keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerAttention {
    /// Sliding-window attention over the last `window` positions (`layer_types`
    /// "sliding_attention"); `None`: full causal attention.
    pub window: Option<u64>,
    /// Rotary embeddings applied in this layer (false on smollm3's NoPE layers).
    pub rotary: bool,
}

/// Norms on the query and key projections inside attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QkNorm {
    pub kind: NormKind,
    /// Width each norm normalises over (one head, or the whole projection for olmo2).
    pub dim: u64,
    /// Elements of the query norm's weight (and of its bias, if any), and of the key
    /// norm's: `dim`, or heads × head_dim for per-head tables (cohere's `(heads,
    /// head_dim)` weight, stablelm's LayerNorm per head).
    pub q_width: u64,
    pub k_width: u64,
}

/// Block details beyond the older types' fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockDetails {
    /// One entry per decoder layer; empty: every layer is full attention with `position`.
    pub layers: Vec<LayerAttention>,
    pub qk_norm: Option<QkNorm>,
    /// Norms only on each branch's output before the residual add, none on its input
    /// (olmo2, olmo3).
    pub post_branch_norms: bool,
    /// Dimensions of each head that rotary embeddings rotate (partial rotary); 0: all.
    pub rotary_dim: u64,
    /// The LM head has a bias (phi, gptj).
    pub lm_head_bias: bool,
    /// The logits are rescaled by one more elementwise op (cohere's `logit_scale`).
    pub logit_scale: bool,
}

impl TransformerArch {
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
                window: None,
                rotary: self.position == Position::Rotary,
            })
    }
}
