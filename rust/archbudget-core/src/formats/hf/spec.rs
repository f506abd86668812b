//! A decoder type as a declarative description over shared building blocks.
//!
//! A [`TypeSpec`] names what a transformers decoder type is made of: its config keys and
//! defaults, attention (MHA/GQA/MQA, fused or separate projections, biases, q/k norms,
//! sliding windows per layer), MLP (gated or plain), norms and where they sit,
//! sequential or parallel blocks, positions (rotary, partial rotary, learned, none per
//! layer) and the LM head. `decoder::arch` resolves it against a config into the
//! [`TransformerArch`](crate::arch::TransformerArch) that counts, FLOPs and the memory
//! lowering all read; `decoder::modules` declares the summary rows from the same spec.
//! One file per type in `types/` holds its spec, starting from the nearest known type.

/// A boolean the config may set (`Key(name, default)`) or the type fixes.
#[derive(Debug, Clone, Copy)]
pub enum Flag {
    Fixed(bool),
    Key(&'static str, bool),
}

/// config.json names of the core dimensions (with transformers' `attribute_map`
/// aliases, first name first).
#[derive(Debug)]
pub struct Keys {
    pub hidden: &'static [&'static str],
    pub layers: &'static [&'static str],
    pub heads: &'static [&'static str],
    pub intermediate: &'static [&'static str],
    pub max_positions: &'static [&'static str],
    pub activation: &'static str,
}

/// The llama family's names.
pub const LLAMA_KEYS: Keys = Keys {
    hidden: &["hidden_size"],
    layers: &["num_hidden_layers"],
    heads: &["num_attention_heads"],
    intermediate: &["intermediate_size"],
    max_positions: &["max_position_embeddings"],
    activation: "hidden_act",
};

/// GPT-2's names, which gptj and gpt_bigcode keep (`hidden_size` etc. as aliases).
pub const GPT_KEYS: Keys = Keys {
    hidden: &["n_embd", "hidden_size"],
    layers: &["n_layer", "num_hidden_layers"],
    heads: &["n_head", "num_attention_heads"],
    intermediate: &["n_inner"],
    max_positions: &["n_positions", "max_position_embeddings"],
    activation: "activation_function",
};

/// Defaults of the type's `configuration_<type>.py`.
#[derive(Debug)]
pub struct Defaults {
    pub vocab: u64,
    pub hidden: u64,
    /// 0: four times the width (gpt-style `n_inner=None`).
    pub intermediate: u64,
    pub layers: u64,
    pub heads: u64,
    /// `None`: as many as query heads.
    pub kv_heads: Option<u64>,
    /// `None`: hidden / heads.
    pub head_dim: Option<u64>,
    pub max_positions: u64,
    /// `sliding_window` when the config leaves it out.
    pub sliding_window: Option<u64>,
    pub tie: bool,
    pub activation: &'static str,
}

/// Key/value heads.
#[derive(Debug, Clone, Copy)]
pub enum KvHeads {
    /// `num_key_value_heads` (grouped-query; null or absent as the defaults say).
    Key,
    /// gpt_bigcode's `multi_query` flag (default true): one kv head, else all.
    MultiQueryFlag,
}

/// Width of one head.
#[derive(Debug, Clone, Copy)]
pub enum HeadDim {
    /// `getattr(config, "head_dim", default)`.
    Key,
    /// hidden / heads whatever the config says (gptj, cohere2, stablelm's attention).
    HiddenOverHeads,
}

/// The q, k, v and output projections' module names.
#[derive(Debug, Clone, Copy)]
pub enum Projections {
    Separate {
        q: &'static str,
        k: &'static str,
        v: &'static str,
        o: &'static str,
    },
    /// One matrix for q, k and v (gpt_bigcode `c_attn`).
    Fused { qkv: &'static str, o: &'static str },
}

/// What a q/k norm's weight covers.
#[derive(Debug, Clone, Copy)]
pub enum QkNormShape {
    /// One `head_dim` weight shared by every head (qwen3, gemma3).
    SharedPerHead,
    /// One weight over the whole projection, heads × head_dim (olmo2).
    WholeProjection,
    /// A `head_dim` weight for each head (cohere's `(heads, head_dim)` table,
    /// stablelm's LayerNorm per head).
    EachHead,
    /// One `hidden / heads` weight shared by every head (phi).
    SharedHiddenOverHeads,
}

#[derive(Debug, Clone, Copy)]
pub struct QkNormSpec {
    pub when: Flag,
    pub shape: QkNormShape,
    pub kind: Norm,
}

/// Which layers slide, following transformers' `layer_types` defaults.
#[derive(Debug, Clone, Copy)]
pub enum Windows {
    /// Every layer is full attention.
    None,
    /// Every layer slides when `sliding_window` is set (starcoder2, mistral-like).
    AllWhenSet,
    /// Sliding unless `(i + 1) % n == 0`; `n` from `sliding_window_pattern` where the
    /// type reads it (gemma3, cohere2), else fixed (olmo3).
    Pattern {
        key: Option<&'static str>,
        every: u64,
    },
    /// qwen3: with `use_sliding_window`, layers from `max_window_layers` on slide.
    FromLayer,
    /// smollm3: with `use_sliding_window`, the NoPE layers slide.
    NoRopeLayers,
    /// exaone4: `Pattern` read from `key`, and with `sliding_window` set the full layers
    /// run without rotary embeddings.
    PatternFullNoRope { key: &'static str, every: u64 },
}

#[derive(Debug, Clone, Copy)]
pub struct AttentionSpec {
    pub class: &'static str,
    pub projections: Projections,
    pub qkv_bias: Flag,
    pub o_bias: Flag,
    pub kv_heads: KvHeads,
    pub head_dim: HeadDim,
    pub qk_norm: Option<QkNormSpec>,
    pub windows: Windows,
}

#[derive(Debug, Clone, Copy)]
pub struct MlpSpec {
    pub class: &'static str,
    /// The gate projection of a gated MLP (`act(gate(x)) * up(x)`); `None`: plain.
    pub gate: Option<&'static str>,
    pub up: &'static str,
    pub down: &'static str,
    pub bias: Flag,
    /// Gate and up are one `up` matrix twice as wide, split by `chunk(2)` (glm
    /// `gate_up_proj`); `gate` is then `None`.
    pub fused_gate_up: bool,
}

/// Norm modules of one kind.
#[derive(Debug, Clone, Copy)]
pub enum Norm {
    Rms,
    LayerNorm { bias: bool },
}

/// Where a block's norms sit.
#[derive(Debug, Clone, Copy)]
pub enum Placement {
    /// On each sub-block's input (llama).
    Pre,
    /// On each sub-block's input and output (gemma2/3: four per layer).
    Sandwich,
    /// On each sub-block's output only (olmo2).
    PostBranch,
}

/// Sequential or parallel attention and MLP.
#[derive(Debug, Clone, Copy)]
pub enum Block {
    Sequential,
    /// Both read one normalised input and are added to the residual (phi, gptj, cohere).
    Parallel,
    /// Parallel when the config's flag says so (stablelm `use_parallel_residual`).
    ParallelWhen(Flag),
}

#[derive(Debug, Clone, Copy)]
pub struct NormSpec {
    pub class: &'static str,
    pub kind: Norm,
    pub placement: Placement,
    /// Per-layer norm names in order (a parallel block has the first only).
    pub names: &'static [&'static str],
    pub final_name: &'static str,
}

/// How rotary embeddings cover a head.
#[derive(Debug, Clone, Copy)]
pub enum Rotary {
    Full,
    /// `partial_rotary_factor` (top level or in `rope_parameters`) with its default.
    Factor(f64),
    /// gptj's `rotary_dim` (null: the whole head).
    DimKey(&'static str, u64),
}

#[derive(Debug, Clone, Copy)]
pub enum Positions {
    Rotary(Rotary),
    /// A learned table of `max_positions` rows at this module name (gpt_bigcode `wpe`).
    Learned(&'static str),
}

/// Module paths as transformers names them.
#[derive(Debug, Clone, Copy)]
pub struct Paths {
    /// The decoder's attribute in the LM class (`model.`, `transformer.`).
    pub root: &'static str,
    pub embed: &'static str,
    pub layers: &'static str,
    pub attention: &'static str,
}

pub const LLAMA_PATHS: Paths = Paths {
    root: "model.",
    embed: "embed_tokens",
    layers: "layers",
    attention: "self_attn",
};

pub const GPT_PATHS: Paths = Paths {
    root: "transformer.",
    embed: "wte",
    layers: "h",
    attention: "attn",
};

/// Dropout probabilities' keys and defaults (`None`: the type has none there).
#[derive(Debug, Clone, Copy)]
pub struct DropoutKeys {
    pub embed: Option<(&'static str, f64)>,
    pub attn: Option<(&'static str, f64)>,
    pub resid: Option<(&'static str, f64)>,
}

#[derive(Debug)]
pub struct TypeSpec {
    pub model_type: &'static str,
    pub base_class: &'static str,
    pub lm_class: &'static str,
    pub embed_class: &'static str,
    pub keys: &'static Keys,
    pub defaults: Defaults,
    pub paths: Paths,
    pub attention: AttentionSpec,
    pub mlp: MlpSpec,
    pub norms: NormSpec,
    pub block: Block,
    pub positions: Positions,
    pub lm_head_bias: bool,
    /// The logits are multiplied by `logit_scale` (cohere).
    pub logit_scale: bool,
    pub dropout: DropoutKeys,
}
