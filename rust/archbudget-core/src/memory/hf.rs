//! Transformers (HF) models lowered into the op graph, from the reader's
//! [`TransformerArch`] (`formats::hf::arch`).
//!
//! Decoder stacks (llama-like: RMSNorm, rotary, q/k/v projections, gated MLP; gpt2-like:
//! LayerNorm, learned positions, fused `c_attn`, plain MLP, dropout) run pre-norm;
//! encoder stacks (bert-like) post-norm. What transformers 5 does that costs memory:
//! - decoders create a `DynamicCache` (`use_cache=True` unless gradient checkpointing is
//!   on) whose `update` copies every layer's k and v (`torch.cat` onto an empty tensor)
//!   and keeps the copies until the model's output is dropped;
//! - with SDPA and no padding the causal mask is skipped (`is_causal=True`) and grouped
//!   kv heads go to SDPA as they are (`enable_gqa`); eager attention materialises a
//!   float causal mask batch×1×S×S once per forward and `repeat_kv` copies;
//! - the causal-LM loss upcasts the logits to fp32 (`logits.float()`), pads and shifts
//!   the labels (two int64 copies) and runs cross-entropy on batch·seq rows;
//! - falcon with `alibi` runs the rotary module anyway (cos/sin unused) and adds one
//!   batch×heads×S×S float mask holding the scaled ALiBi biases to every layer's scores
//!   ([`Attention::score_bias`]; SDPA without FlashAttention), with `attention_dropout`;
//! - gradient checkpointing (non-reentrant, one region per decoder layer) keeps only
//!   each layer's input and recomputes the layer's forward during its backward.
use super::graph::{DType, Graph, ValueId};
use super::hf_decoder::norm_op;
pub use super::hf_dropouts::Dropouts;
pub(super) use super::hf_mlp::Mlp;
use super::hf_names::HfNames;
use super::lora::Linears;
use super::ops::*;
use super::{add, estimate, mul, MemoryReport, Precision, Result, RunSettings};
use crate::arch::{ArchKind, TransformerArch};

/// The graph of one step of `arch` on batch×seq token ids.
pub fn graph(a: &TransformerArch, drop: &Dropouts, run: &RunSettings) -> Result<Graph> {
    if let Some(p) = &a.details.parseq {
        return super::parseq::graph(a, p, drop, run);
    }
    if let Some(d) = &a.details.depth_anything {
        return super::hf_depth_anything::graph(a, d, drop, run);
    }
    if let Some(de) = &a.details.dual_encoder {
        return super::hf_dual::graph(a, de, run);
    }
    if let Some(g) = super::hf_vision_model::image_model(a, drop, run) {
        return g;
    }
    if let Some(graph) = super::hf_swin::hierarchical(a, drop, run) {
        return graph;
    }
    if let (Some(sam), Some(model)) = (&a.details.sam_vision, &a.details.sam_model) {
        return super::hf_sam_model::graph(a, sam, model, drop, run);
    }
    if let Some(sam) = &a.details.sam_vision {
        return super::hf_sam::graph(a, sam, drop, run);
    }
    // a vision transformer's sequence is its patches and the class tokens
    let (b, s) = match a.vision {
        Some(v) => (run.batch, add(v.num_patches, v.class_tokens)?),
        None => (run.batch, run.seq),
    };
    if b == 0 || s == 0 {
        return Err(crate::Error::invalid(
            "run",
            "batch and seq must be positive",
        ));
    }
    if let Some(fam) = &a.details.encoder {
        return super::hf_encoders::graph(a, fam, drop, run);
    }
    if a.model_type == crate::formats::keras_hub::ROFORMER_V2 {
        return super::hf_roformer_v2::graph(a, drop, run);
    }
    if a.model_type == crate::formats::keras_hub::XLNET {
        return super::hf_xlnet::graph(a, drop, run);
    }
    if let Some(lora) = &a.details.rwkv7 {
        return super::rwkv7::graph(a, lora, drop, run);
    }
    if let Some(video) = &a.details.video_prism {
        return super::video_prism::graph(a, video, drop, run);
    }
    if a.model_type == "esm" {
        return super::hf_esm::graph(a, drop, run);
    }
    if let Some(moonshine) = &a.details.moonshine {
        return super::hf_moonshine::graph(a, moonshine, drop, run);
    }
    if let Some(t) = &a.details.t5gemma {
        return super::hf_t5gemma::graph(a, t, drop, run);
    }
    if let Some(g4) = &a.details.gemma4 {
        return super::hf_gemma4::graph(a, g4, drop, run);
    }
    if a.details.gemma3n.is_some() {
        return super::hf_gemma3n::graph(a, drop, run);
    }
    if a.kind == ArchKind::EncoderDecoder {
        if run.lora.is_some() || run.quantize.is_some() {
            return Err(crate::Error::invalid(
                a.model_type.as_str(),
                "LoRA and quantized weights are not lowered for encoder-decoder models (t5, bart, whisper) yet",
            ));
        }
        return super::seq2seq::graph(a, drop, run);
    }
    if run.quantize.is_some_and(|q| q.converts_experts()) {
        if a.model_type != "gpt_oss" {
            return Err(crate::Error::invalid(
                "quantize",
                format!(
                    "mxfp4 converts gpt-oss's experts alone (transformers' replace_with_mxfp4_linear); model_type '{}' has none",
                    a.model_type
                ),
            ));
        }
        if run.mode == super::Mode::Train {
            return Err(crate::Error::invalid(
                "quantize",
                "MXFP4 weights cannot be trained (transformers' Mxfp4HfQuantizer is not trainable); train the dequantized model: leave out --quantize mxfp4",
            ));
        }
    }
    if run.quantize.is_some() && run.lora.is_none() && run.mode == super::Mode::Train {
        return Err(crate::Error::invalid(
            "quantize",
            "quantized weights are frozen: training needs LoRA adapters (--lora-rank), as transformers' Trainer requires",
        ));
    }
    if (run.lora.is_some() || run.quantize.is_some()) && a.details.mla.is_some() {
        return Err(crate::Error::invalid(
            a.model_type.as_str(),
            "LoRA and quantized weights are not lowered for multi-head latent attention (MLA) yet",
        ));
    }
    super::hf_ssm::check_lora(a, run)?;
    let unused_cross = unused_cross_attention(a)?;
    let mut g = Graph::default();
    // blip-2 computes its image features before embedding the prompt
    // (the prompt's ids are declared first: every input precedes every node)
    let image_features = match &a.details.blip2 {
        Some(b2) => {
            let ids = g.input(mul(b, s)?, super::graph::InputKind::Index);
            Some((ids, super::hf_blip2::image_features(a, b2, run, &mut g)?))
        }
        None => None,
    };
    let decoder = a.kind == ArchKind::Decoder;
    let train = run.mode == super::Mode::Train;
    // bloom's attention is its own eager code (`baddbmm` of the ALiBi slopes)
    let bloom = a.model_type == "bloom";
    let st = Step {
        a,
        drop,
        run,
        names: HfNames::of(&a.model_type),
        batch: b,
        seq: s,
        rows: mul(b, s)?,
        decoder,
        bloom,
        falcon: a.model_type == "falcon" || bloom,
        // gpt_oss declares no SDPA support: transformers runs it eager
        eager: run.attn == AttnImpl::Eager || a.details.attn_sinks || bloom,
        train,
        use_cache: decoder && !(run.grad_ckpt && train),
        unused_cross,
        image_features,
    };
    // rows × hidden elements must be countable
    mul(st.rows, a.hidden_size)?;
    // what the base linears return: bf16 under autocast and in bf16 runs
    let result_dt = if run.precision == Precision::Fp32 {
        DType::F32
    } else {
        DType::BF16
    };
    let mut lx = Linears::new(&a.model_type, run.lora, run.quantize, result_dt)?;
    // a multimodal wrapper builds its vision tower first
    super::hf_vision::idle_vision(a, run, &mut g)?;
    let emb = super::hf_embed::embeddings(&st, &mut g, &mut lx)?;
    let masks = super::hf_embed::masks(&st, &mut g)?;
    let mut h = emb.h;
    for i in 0..a.num_layers {
        h = super::hf_layer::layer(&st, &mut g, &mut lx, i, h, &emb, masks)?;
    }
    super::hf_head::head(&st, &mut g, &mut lx, h, emb.ids)?;
    lx.finish(&mut g, &a.model_type)?;
    Ok(g)
}

/// gpt2's `add_cross_attention` blocks run only when `encoder_hidden_states` are
/// passed, which the step (input_ids, labels) never does: their weights are counted,
/// unused (no gradient, no optimizer state); the self-attention cache is the same
/// `DynamicCache` wrapped in an `EncoderDecoderCache`. bert's decoder with
/// cross-attention (`is_decoder`) is not lowered yet.
fn unused_cross_attention(a: &TransformerArch) -> Result<Option<u64>> {
    match (a.cross_attention, a.model_type.as_str()) {
        (false, _) => Ok(None),
        (true, "gpt2") => Ok(Some(crate::formats::hf::gpt2_cross_attention_params(a)?)),
        (true, _) => Err(crate::Error::invalid(
            a.model_type.as_str(),
            "the memory model does not lower this structure yet (bert's decoder with cross-attention)",
        )),
    }
}

/// What every part of one step of a transformers stack reads: the arch, the run, and
/// the sizes and switches derived from them once.
pub(super) struct Step<'a> {
    pub a: &'a TransformerArch,
    pub drop: &'a Dropouts,
    pub run: &'a RunSettings,
    pub names: HfNames,
    pub batch: u64,
    /// Tokens per sequence (a vision transformer's patches and class tokens).
    pub seq: u64,
    /// batch × seq
    pub rows: u64,
    pub decoder: bool,
    pub bloom: bool,
    /// falcon and bloom copy q, k and v out of their fused `query_key_value`
    pub falcon: bool,
    pub eager: bool,
    pub train: bool,
    pub use_cache: bool,
    /// gpt2's cross-attention weights, counted and never used
    pub unused_cross: Option<u64>,
    /// blip-2's token ids (declared before its image nodes) and projected image
    /// features, scattered into the token embeddings
    pub image_features: Option<(ValueId, ValueId)>,
}

impl Step<'_> {
    /// The stack's norm over `rows` hidden states.
    pub fn ln(&self, rows: u64) -> Op {
        norm_op(self.a.norm, rows, self.a.hidden_size)
    }

    /// A linear over every token.
    pub fn lin(&self, in_features: u64, out_features: u64, bias: bool) -> Linear {
        Linear {
            rows: self.rows,
            in_features,
            out_features,
            bias,
            tied_weight: false,
        }
    }
}

/// `run` with the config's `quantization_config` unless `--quantize` overrides it.
pub fn run_for_config(cfg: &serde_json::Value, run: &RunSettings) -> Result<RunSettings> {
    Ok(RunSettings {
        quantize: quantize_for_run(super::quant::Quant::from_config(cfg)?, run),
        ..*run
    })
}

/// The storage a run uses: `--quantize` if given, else the config's. A checkpoint
/// shipped in MXFP4 (gpt-oss) is trained dequantized to bf16
/// (`Mxfp4Config(dequantize=True)`, as the gpt-oss fine-tuning recipes load it), since
/// transformers cannot train MXFP4 weights.
pub fn quantize_for_run(
    from_config: Option<super::quant::Quant>,
    run: &RunSettings,
) -> Option<super::quant::Quant> {
    run.quantize
        .or(from_config.filter(|q| !(q.converts_experts() && run.mode == super::Mode::Train)))
}

/// Estimate from an oracle / config `hf` dict (config keys plus `model_type`).
pub fn estimate_hf_case(
    cfg: &serde_json::Value,
    head: &str,
    run: &RunSettings,
) -> Result<MemoryReport> {
    let head = match head {
        "base" => crate::formats::hf::Head::Base,
        _ => crate::formats::hf::Head::CausalLm,
    };
    let a = crate::formats::hf::arch(cfg, Some(head), "config.json")?;
    let run = &run_for_config(cfg, run)?;
    let g = graph(&a, &Dropouts::from_config(cfg), run)?;
    estimate(&g, run)
}
