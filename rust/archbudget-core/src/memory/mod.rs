//! Peak GPU memory and FLOPs of a PyTorch training or inference step.
//!
//! A model is lowered into a [`Graph`] of PyTorch ops with concrete shapes ([`ops`]);
//! each op declares its parameters, output, what autograd saves, its transients and its
//! FLOPs; [`estimate`] replays one step as a timeline of allocations and frees
//! (`sim`), charged at CUDA caching-allocator block sizes (`alloc`), and reports the
//! running maximum — what `torch.cuda.max_memory_allocated()` shows for the protocol of
//! `gpu_memory.py` (SPEC.md, `memory`).
//!
//! Builders: [`families`] (the oracle's mlp, cnn, lstm), [`hf`] (transformers decoder and
//! encoder stacks), `seq2seq` (transformers' encoder-decoders: t5, bart, whisper).
pub mod alloc;
mod allocator;
pub mod bound;
pub mod compiled;
pub mod d_fine;
mod d_fine_decoder;
pub mod families;
pub mod flux;
mod generate;
pub mod graph;
pub mod hf;
mod hf_blip2;
mod hf_decoder;
mod hf_depth_anything;
mod hf_dinov2;
mod hf_dropouts;
mod hf_dual;
mod hf_embed;
mod hf_encoders;
mod hf_esm;
mod hf_gemma3n;
mod hf_gemma4;
mod hf_gemma4_vision;
mod hf_gemma_parts;
mod hf_head;
mod hf_layer;
mod hf_linear;
mod hf_masked_lm;
mod hf_mla;
mod hf_mlp;
mod hf_moonshine;
mod hf_names;
mod hf_roformer_v2;
mod hf_sam;
mod hf_sam_model;
mod hf_segformer;
mod hf_segformer_head;
mod hf_ssm;
mod hf_swin;
mod hf_t5gemma;
mod hf_vision;
mod hf_vision_model;
mod hf_xlnet;
pub mod keras;
pub(crate) mod keras_written;
pub mod lora;
pub mod mmdit;
pub mod ops;
mod parseq;
pub mod quant;
pub mod reduce;
mod rwkv7;
mod seq2seq;
mod shards;
mod sim;
mod video_prism;

pub use crate::error::Result;
pub use graph::{CacheGrowth, DType, Graph, Input, InputKind, Node, ValueId};
pub use ops::{AttnImpl, Op};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Train,
    Infer,
    /// Autoregressive decoding as HF `generate` does it (greedy, `use_cache=True`): a
    /// prefill forward over the prompt (`seq` tokens), which yields the first new token,
    /// then `new_tokens − 1` one-token forwards, each growing the cache by `torch.cat`
    /// (transformers `cache_utils.DynamicLayer.update`; a sliding layer,
    /// `DynamicSlidingWindowLayer`, keeps at most its window). Per GPU, for a graph built
    /// at `seq = P`, with `T = P + N − 1` positions at the last forward:
    ///
    /// `peak = max(prefill, weights + inputs·T/P + kv(T) + kv_layer(T−1)
    ///             + act_per_token + logits_per_token)`
    ///
    /// where `inputs·T/P` rescales the token ids (inputs of `Graph::fixed_inputs`, an
    /// encoder's audio features, keep their size), `prefill` is the inference peak of
    /// the prompt (its kv cache included),
    /// `kv(t)` the graph's kept k/v tensors (`Graph::forward_held`) rescaled to `t`
    /// positions, or as their `Graph::held_caches` growth says, each rounded to allocator
    /// blocks; `kv_layer(t−1)` the largest single k or v tensor before the last cat:
    /// `torch.cat` holds the old one while it writes the new one;
    /// `act_per_token` the prefill's other transients over `P` (one decoded token costs
    /// what one prompt token does, less the O(t) attention scores, which SDPA never
    /// materialises), and `logits_per_token` one row of the output, the
    /// `next_token_logits` that `generate` copies in fp32. With `new_tokens ≤ 1` this is
    /// the inference peak. FLOPs: prefill + (N − 1) × (prefill / P).
    Generate,
}

/// `fp32`: fp32 weights, no autocast; `amp_bf16`: fp32 weights under
/// `torch.autocast(bfloat16)`; `bf16`: weights, activations and optimizer state in bf16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    Fp32,
    Bf16,
    AmpBf16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Optimizer {
    Sgd,
    SgdMomentum,
    Adam,
    #[default]
    AdamW,
}

/// How one step runs. Defaults: training, fp32, AdamW, SDPA attention, no checkpointing,
/// batch 1, seq 1 (seq is used by sequence models only), no generated tokens, one GPU,
/// no ZeRO, no LoRA, weights as the model declares them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSettings {
    pub mode: Mode,
    /// Per GPU (DeepSpeed's `train_micro_batch_size_per_gpu`).
    pub batch: u64,
    /// Tokens per sequence; in [`Mode::Generate`] the prompt length.
    pub seq: u64,
    pub precision: Precision,
    pub optimizer: Optimizer,
    pub attn: AttnImpl,
    pub grad_ckpt: bool,
    /// [`Mode::Generate`]: tokens decoded after the prompt (0: none, the prefill only).
    pub new_tokens: u64,
    /// Data-parallel GPUs (≥ 1); the figures are per GPU.
    pub gpus: u64,
    /// ZeRO stage 0–3 (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
    /// Trillion Parameter Models", SC'20, §5; DeepSpeed `zero_optimization.stage`).
    /// With Ψ bytes of weights, G of gradients and K of optimizer state, per GPU:
    /// stage 0 (plain data parallelism) Ψ + G + K; stage 1 (P_os) Ψ + G + K/N;
    /// stage 2 (P_os+g) Ψ + (G + K)/N; stage 3 (P_os+g+p) (Ψ + G + K)/N, each shard
    /// rounded up. What the shards cost in flight: stage ≥ 2 holds an op's full
    /// gradient until it is reduce-scattered; stage 3 all-gathers an op's full weights
    /// while it runs (forward and backward). Adam's step temporaries follow the
    /// optimizer shard. Buffers are replicated, and communication buckets
    /// (`reduce_bucket_size`, `allgather_bucket_size`, DDP's bucket copies) are
    /// configuration, not counted. At N = 1 every stage equals stage 0.
    pub zero_stage: u8,
    /// LoRA fine-tuning as peft builds it ([`lora`]): the base model frozen, adapters on
    /// the targeted linears (transformers models).
    pub lora: Option<lora::Lora>,
    /// Linear weights stored quantized ([`quant`]); `None`: as the config's
    /// `quantization_config` says (transformers models), else unquantized.
    pub quantize: Option<quant::Quant>,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            mode: Mode::Train,
            batch: 1,
            seq: 1,
            precision: Precision::Fp32,
            optimizer: Optimizer::AdamW,
            attn: AttnImpl::Sdpa,
            grad_ckpt: false,
            new_tokens: 0,
            gpus: 1,
            zero_stage: 0,
            lora: None,
            quantize: None,
        }
    }
}

impl RunSettings {
    /// Refuses what an encoder's own lowering does not model: LoRA or quantized weights on
    /// `lowering`, and generation (model `here` encodes `input`, it makes no tokens).
    pub(crate) fn refuse_for_encoder(&self, here: &str, lowering: &str, input: &str) -> Result<()> {
        if self.lora.is_some() || self.quantize.is_some() {
            return Err(crate::Error::invalid(
                here,
                format!("LoRA and quantized weights are not lowered for {lowering} yet"),
            ));
        }
        if self.mode == Mode::Generate {
            return Err(crate::Error::invalid(
                here,
                format!(
                    "'{here}' encodes {input}; it does not generate (use --mode train or infer)"
                ),
            ));
        }
        Ok(())
    }
}

impl Mode {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Mode::Train),
            "infer" | "inference" => Ok(Mode::Infer),
            "generate" => Ok(Mode::Generate),
            _ => Err(crate::Error::invalid(
                "mode",
                format!("'{s}' is not one of train, infer, generate"),
            )),
        }
    }
}

impl Precision {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "fp32" => Ok(Precision::Fp32),
            "bf16" => Ok(Precision::Bf16),
            "amp_bf16" => Ok(Precision::AmpBf16),
            _ => Err(crate::Error::invalid(
                "precision",
                format!("'{s}' is not one of fp32, bf16, amp_bf16"),
            )),
        }
    }
}

impl Optimizer {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "sgd" => Ok(Optimizer::Sgd),
            "sgd_momentum" => Ok(Optimizer::SgdMomentum),
            "adam" => Ok(Optimizer::Adam),
            "adamw" => Ok(Optimizer::AdamW),
            _ => Err(crate::Error::invalid(
                "optimizer",
                format!("'{s}' is not one of sgd, sgd_momentum, adam, adamw"),
            )),
        }
    }
}

impl AttnImpl {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "sdpa" => Ok(AttnImpl::Sdpa),
            "eager" => Ok(AttnImpl::Eager),
            _ => Err(crate::Error::invalid(
                "attn",
                format!("'{s}' is not one of sdpa, eager"),
            )),
        }
    }
}

/// What is alive at the peak, in allocator bytes. The fields sum to `peak_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Breakdown {
    pub weights: u64,
    pub gradients: u64,
    pub optimizer: u64,
    /// Saved activations and live forward outputs.
    pub activations: u64,
    /// Gradients of activations being propagated in backward.
    pub activation_grads: u64,
    /// The input batch and labels (and the previous step's loss).
    pub inputs: u64,
    /// Autocast's bf16 copies of fp32 weights.
    pub autocast_copies: u64,
    /// Workspace and temporaries of the op running at the peak.
    pub transients: u64,
}

impl Breakdown {
    pub fn entries(&self) -> [(&'static str, u64); 8] {
        [
            ("weights", self.weights),
            ("gradients", self.gradients),
            ("optimizer", self.optimizer),
            ("activations", self.activations),
            ("activation_grads", self.activation_grads),
            ("inputs", self.inputs),
            ("autocast_copies", self.autocast_copies),
            ("transients", self.transients),
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryReport {
    pub peak_bytes: u64,
    pub params: u64,
    /// Parameters that receive gradients (not frozen, see [`Graph::frozen`]).
    pub trainable_params: u64,
    pub buffers: u64,
    pub breakdown: Breakdown,
    pub flops_fwd: u64,
    pub flops_fwd_bwd: u64,
    /// [`Mode::Generate`] with new tokens: what each decoding step reads and computes.
    pub decode: Option<Decode>,
}

/// What one decoding step of [`Mode::Generate`] reads and computes, for the time
/// estimate (`gpu::time`): every weight once and the whole kv cache so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decode {
    /// The weights as held per GPU (allocator bytes).
    pub weights_bytes: u64,
    /// kv-cache bytes per cached position, the whole batch's.
    pub kv_bytes_per_position: u64,
    /// Cache bytes that do not grow (an encoder-decoder's cross-attention k and v, a
    /// state-space layer's state), read whole by every decoding step.
    pub kv_fixed_bytes: u64,
    /// FLOPs of the prompt's forward.
    pub prefill_flops: u64,
    /// FLOPs of one decoding step (the prompt's per position, as `flops_fwd` counts it).
    pub flops_per_token: u64,
}

/// Peak memory, counts and FLOPs of one step of `graph` run as `run` says.
pub fn estimate(graph: &Graph, run: &RunSettings) -> Result<MemoryReport> {
    sim::simulate(graph, run)
}

/// [`Mode::Generate`]: the bytes of the kv cache tensors `generate` leaves after
/// `run.new_tokens` tokens on a `run.seq`-token prompt (each sliding layer at most its
/// window; the figure [`estimate`] charges them at, before allocator rounding).
pub fn generate_cache_bytes(graph: &Graph, run: &RunSettings) -> Result<u64> {
    generate::generate_cache_bytes(graph, run)
}

pub(crate) fn mul(a: u64, b: u64) -> Result<u64> {
    crate::error::mul(a, b, "memory", "a tensor size or FLOP count")
}

pub(crate) fn add(a: u64, b: u64) -> Result<u64> {
    crate::error::add(a, b, "memory", "a byte or FLOP total")
}

pub(crate) fn overflow() -> crate::Error {
    crate::Error::overflow("memory", "a tensor size")
}
