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
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf_decoder::{hold_kv_cache, layer_mask, norm_op, position_qk, qk_norm, window_mask};
pub use super::hf_dropouts::Dropouts;
use super::hf_linear::{gated_delta_net, LinearIn};
use super::hf_mla::{mla_attention, o_proj_width, MlaIn};
use super::hf_mlp::sparse_moe;
pub(super) use super::hf_mlp::Mlp;
use super::hf_names::HfNames;
use super::lora::{Linears, Module};
use super::ops::*;
use super::{add, estimate, mul, MemoryReport, Precision, Result, RunSettings};
use crate::arch::{
    ArchKind, AttentionSpan, HeadKind, LayerMixer, NormKind, Position, TransformerArch,
};

/// The graph of one step of `arch` on batch×seq token ids.
pub fn graph(a: &TransformerArch, drop: &Dropouts, run: &RunSettings) -> Result<Graph> {
    if let Some(de) = &a.details.dual_encoder {
        return super::hf_dual::graph(a, de, run);
    }
    if let Some(g) = super::hf_vision_model::image_model(a, drop, run) {
        return g;
    }
    if let Some(graph) = super::hf_swin::hierarchical(a, drop, run) {
        return graph;
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
    if a.model_type == "esm" {
        return super::hf_esm::graph(a, drop, run);
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
    let names = HfNames::of(&a.model_type);
    // what the base linears return: bf16 under autocast and in bf16 runs
    let result_dt = if run.precision == Precision::Fp32 {
        DType::F32
    } else {
        DType::BF16
    };
    let mut lx = Linears::new(&a.model_type, run.lora, run.quantize, result_dt)?;
    // gpt2's `add_cross_attention` blocks run only when `encoder_hidden_states` are
    // passed, which the step (input_ids, labels) never does: their weights are counted,
    // unused (no gradient, no optimizer state); the self-attention cache is the same
    // `DynamicCache` wrapped in an `EncoderDecoderCache`. bert's decoder with
    // cross-attention (`is_decoder`) is not lowered yet.
    let unused_cross = match (a.cross_attention, a.model_type.as_str()) {
        (true, "gpt2") => Some(crate::formats::hf::gpt2_cross_attention_params(a)?),
        _ => None,
    };
    if a.cross_attention && unused_cross.is_none() {
        return Err(crate::Error::invalid(
            a.model_type.as_str(),
            "the memory model does not lower this structure yet (bert's decoder with cross-attention)",
        ));
    }
    let rows = mul(b, s)?;
    let hsz = a.hidden_size;
    let e = mul(rows, hsz)?;
    let decoder = a.kind == ArchKind::Decoder;
    // bloom's attention is its own eager code (`baddbmm` of the ALiBi slopes)
    let bloom = a.model_type == "bloom";
    // gpt_oss declares no SDPA support: transformers runs it eager
    let eager = run.attn == AttnImpl::Eager || a.details.attn_sinks || bloom;
    let train = run.mode == super::Mode::Train;
    let use_cache = decoder && !(run.grad_ckpt && train);
    // falcon and bloom copy q, k and v out of their fused `query_key_value`
    let falcon = a.model_type == "falcon" || bloom;
    let mut g = Graph::default();
    // a multimodal wrapper builds its vision tower first
    super::hf_vision::idle_vision(a, run, &mut g)?;
    // OPT's `project_in` / `project_out` (no bias) when `word_embed_proj_dim` differs
    let project = |inp: u64, out: u64| Linear {
        rows,
        in_features: inp,
        out_features: out,
        bias: false,
        tied_weight: false,
    };
    let ln = |rows: u64| norm_op(a.norm, rows, hsz);
    let lin = |inp: u64, out: u64, bias: bool| Linear {
        rows,
        in_features: inp,
        out_features: out,
        bias,
        tied_weight: false,
    };

    // ---- embeddings
    let mut cos_sin = None;
    let mut other_cos_sin = Vec::new();
    let (ids, mut h) =
        match a.vision {
            Some(v) => {
                let pixels = g.input(
                    prod(&[b, v.num_channels, v.image_size.0, v.image_size.1])?,
                    InputKind::Float,
                );
                let patches = g.push(
                    Op::Conv(Conv {
                        batch: b,
                        in_channels: v.num_channels,
                        out_channels: hsz,
                        dims: vec![
                            ConvDim::new(v.image_size.0, v.patch_size.0, v.patch_size.0, 0),
                            ConvDim::new(v.image_size.1, v.patch_size.1, v.patch_size.1, 0),
                        ],
                        groups: 1,
                        bias: v.patch_bias,
                        transposed: false,
                        shared_weights: false,
                    }),
                    &[pixels],
                );
                // `.flatten(2).transpose(1, 2)`: a view
                let tokens = g.push(Op::View(View), &[patches]);
                let h = g.push(
                    Op::ClsPositions(ClsPositions {
                        batch: b,
                        patches: v.num_patches,
                        dim: hsz,
                        tokens: v.class_tokens,
                    }),
                    &[tokens],
                );
                (pixels, h)
            }
            None => {
                let ids = g.input(rows, InputKind::Index);
                let mut h = g.push(
                    Op::Embedding(Embedding {
                        tokens: rows,
                        vocab: a.vocab_size,
                        dim: a.embed_dim,
                        tied: false,
                    }),
                    &[ids],
                );
                if matches!(a.model_type.as_str(), "gemma" | "gemma2" | "gemma3_text") {
                    // `GemmaTextScaledWordEmbedding`: the lookup times its `embed_scale`
                    // buffer (cast to the weights' dtype), a new tensor
                    g.push(
                        Op::Fill(Fill {
                            numel: 1,
                            dtype: None,
                            buffer: Some((1, DType::F32)),
                        }),
                        &[],
                    );
                    h = g.push(Op::Add(Add), &[h]);
                }
                if a.type_vocab_size > 0 {
                    // token_type_ids default to a zero buffer, expanded over the batch
                    let tt = g.push(
                        Op::Fill(Fill {
                            numel: rows,
                            dtype: Some(DType::I64),
                            buffer: Some((a.max_positions, DType::I64)),
                        }),
                        &[],
                    );
                    let t = g.push(
                        Op::Embedding(Embedding {
                            tokens: rows,
                            vocab: a.type_vocab_size,
                            dim: hsz,
                            tied: false,
                        }),
                        &[tt],
                    );
                    h = g.push(Op::Add(Add), &[h, t]);
                }
                match a.position {
                    Position::Learned { rows: prow } => {
                        // BERT registers `position_ids` as a buffer; GPT-2 makes an arange per call
                        let buf = (a.type_vocab_size > 0).then_some((a.max_positions, DType::I64));
                        let pid = g.push(
                            Op::Fill(Fill {
                                numel: s,
                                dtype: Some(DType::I64),
                                buffer: buf,
                            }),
                            &[],
                        );
                        let p = g.push(
                            Op::Embedding(Embedding {
                                tokens: s,
                                vocab: prow,
                                dim: hsz,
                                tied: false,
                            }),
                            &[pid],
                        );
                        if a.embed_dim != hsz {
                            let m = Module::linear("project_in");
                            h = lx.push(&mut g, m, project(a.embed_dim, hsz), h)?;
                        }
                        h = g.push(Op::Add(Add), &[h, p]);
                    }
                    Position::Rotary | Position::Alibi => {
                        // falcon builds its rotary module with ALiBi too and computes cos/sin
                        // every forward, unused
                        let n = mul(s, a.rotary_dim())?;
                        // `inv_freq` and `original_inv_freq` (rotary_dim/2 each) are the rotary
                        // module's buffers; one pair, and one cos/sin, per kind of layer
                        // where the type builds them per layer type
                        for (t, span) in rotary_tables(a).into_iter().enumerate() {
                            let mut table = || {
                                g.push(
                                    Op::Fill(Fill {
                                        numel: n,
                                        dtype: None,
                                        buffer: Some((a.rotary_dim() / 2, DType::F32)),
                                    }),
                                    &[],
                                )
                            };
                            let pair = (table(), table());
                            match (a.position, t) {
                                (Position::Rotary, 0) => cos_sin = Some(pair),
                                (Position::Rotary, _) => other_cos_sin.push((span, pair)),
                                _ => {}
                            }
                        }
                    }
                    Position::None => {}
                    Position::RelativeBuckets { .. } => return Err(crate::Error::invalid(
                        a.model_type.as_str(),
                        "the memory model does not lower relative position buckets outside t5 yet",
                    )),
                }
                (ids, h)
            }
        };
    // falcon_h1's `embed_tokens(ids) * embedding_multiplier`
    if a.details.ssm.is_some_and(|s| s.mup) {
        h = g.push(Op::Add(Add), &[h]);
    }
    // the embeddings' LayerNorm of post-norm encoders (bert) and of bloom; post-norm OPT
    // has none
    if (!a.pre_norm && !decoder) || a.details.embed_norm {
        h = g.push(ln(rows), &[h]);
    }
    if drop.embed > 0.0 {
        h = g.push(Op::Dropout(Dropout { p: drop.embed }), &[h]);
    }
    // falcon with ALiBi: the model materialises the causal mask (`allow_is_causal_skip=
    // False`) and folds the scaled ALiBi biases into it, `masked_fill(alibi / sqrt(head_dim),
    // causal_mask < -1, min)`: one batch×heads×S×S float tensor (the embeddings' dtype)
    // alive all forward, which every layer adds to its scores (SDPA's `attn_mask`)
    // bloom instead builds batch·heads×1×S slopes × positions, added to every layer's
    // scores by `baddbmm`, beside the model's eager causal mask
    let alibi = a.position == Position::Alibi && !bloom;
    if bloom {
        let slopes = g.push(
            Op::Fill(Fill {
                numel: prod(&[b, a.num_heads, s])?,
                dtype: None,
                buffer: None,
            }),
            &[],
        );
        g.forward_held.push(slopes);
    }
    let mask = if alibi {
        Some(g.push(
            Op::Fill(Fill {
                numel: prod(&[b, a.num_heads, s, s])?,
                dtype: None,
                buffer: None,
            }),
            &[],
        ))
    } else if eager && decoder && attends(a) {
        Some(g.push(
            Op::Fill(Fill {
                numel: mul(mul(b, s)?, s)?,
                dtype: None,
                buffer: None,
            }),
            &[],
        ))
    } else {
        None
    };

    let windowed = window_mask(&mut g, a, b, s, eager)?;
    // norms on each branch's output only (olmo2), none on its input
    let post_branch = a.details.post_branch_norms;

    // ---- blocks
    let (nh, nkv, hd) = (a.num_heads, a.num_kv_heads, a.head_dim);
    let qd = mul(nh, hd)?;
    let kvd = mul(nkv, hd)?;
    for i in 0..a.num_layers {
        let first = g.nodes.len();
        let x = h;
        // a state-space layer: the mixer alone (mamba), or in attention's place (jamba)
        let ssm = match (a.layer_mixer(i), a.details.ssm) {
            (LayerMixer::Ssm, Some(ssm)) => Some(ssm),
            _ => None,
        };
        let ssm_at = super::hf_ssm::SsmIn {
            batch: b,
            seq: s,
            hidden: hsz,
            // mamba's models make no cache in training; jamba's as attention would
            use_cache: use_cache && !(train && ssm.is_some_and(|s| s.mixer_only)),
        };
        if let Some(ssm) = ssm.filter(|s| s.mixer_only) {
            h = super::hf_ssm::block(&mut g, &mut lx, a, &ssm, &ssm_at, x, run)?;
            if run.grad_ckpt {
                g.checkpoint_regions.push((first, g.nodes.len() - 1));
            }
            continue;
        }
        let kind = a.layer_attention(i);
        let mask = layer_mask(kind, mask, windowed);
        let n1 = if a.pre_norm && !post_branch {
            g.push(ln(rows), &[x])
        } else {
            x
        };
        let attn = Attention {
            batch: b,
            heads: nh,
            kv_heads: nkv,
            q_len: s,
            kv_len: s,
            head_dim: hd,
            v_head_dim: hd,
            causal: decoder,
            dropout: drop.attn,
            eager_mask: eager && mask.is_some() && !alibi,
            // the declarative types' eager attention: `softmax(dtype=float32)`; with sinks
            // (gpt_oss) the softmax runs in the scores' dtype
            softmax_fp32: bloom
                || (!a.details.attn_sinks
                    && (a.norm == NormKind::RmsNorm
                        || crate::formats::hf::type_spec(&a.model_type).is_some())),
            fused_qkv: a.fused_qkv,
            score_bias: alibi,
            sinks: a.details.attn_sinks,
            eager_only: bloom,
        };
        // falcon_h1: the mixer beside attention on the same input, its output times
        // `ssm_out_multiplier`; attention reads the input times `attention_in_multiplier`
        let beside = match (a.layer_mixer(i), a.details.ssm) {
            (LayerMixer::AttentionAndSsm, Some(ssm)) => {
                let m = super::hf_ssm::mixer(&mut g, &mut lx, &ssm, &ssm_at, n1, run)?;
                Some(g.push(Op::Add(Add), &[m]))
            }
            _ => None,
        };
        let n1 = match beside {
            Some(_) => g.push(Op::Add(Add), &[n1]),
            None => n1,
        };
        // falcon's new architecture normalises the MLP's input (`ln_mlp`) right after
        // the attention's (`ln_attn`)
        let n_mlp =
            (falcon && a.parallel_attn && a.norms_per_layer == 2).then(|| g.push(ln(rows), &[x]));
        let mut output_gate = None;
        let linear = match (a.layer_mixer(i), a.details.linear_attention) {
            (LayerMixer::LinearAttention, Some(la)) => {
                let p = LinearIn {
                    x: n1,
                    batch: b,
                    seq: s,
                    hidden: hsz,
                    use_cache,
                    precision: run.precision,
                };
                Some(gated_delta_net(&mut g, &mut lx, la, &p)?)
            }
            _ => None,
        };
        // (a linear-attention layer's output has been through its `out_proj` already)
        let att = if let Some(out) = linear {
            out
        } else if let Some(ssm) = ssm {
            super::hf_ssm::mixer(&mut g, &mut lx, &ssm, &ssm_at, n1, run)?
        } else if let Some(mla) = a.details.mla {
            let p = MlaIn {
                x: n1,
                rows,
                cos_sin,
                mask,
                use_cache,
            };
            mla_attention(&mut g, a, mla, &p, attn)?
        } else if a.fused_qkv && !falcon {
            let qkv_lin = lin(hsz, add(qd, mul(2, kvd)?)?, a.qkv_bias);
            let qkv = lx.push(&mut g, Module::linear(names.qkv), qkv_lin, n1)?;
            if use_cache {
                let kv = g.push(
                    Op::Copy(Copy {
                        numel: Some(mul(2, mul(rows, kvd)?)?),
                    }),
                    &[qkv],
                );
                g.forward_held.push(kv);
            }
            let mut ins = vec![qkv];
            ins.extend(mask);
            g.push(
                Op::Attention(Attention {
                    fused_qkv: true,
                    ..attn
                }),
                &ins,
            )
        } else {
            let (mut q, mut k, v, kv_heads) = if falcon {
                // FalconAttention: q, k and v are strided views of the fused projection,
                // each copied out by `transpose(1, 2).reshape(...)`
                let qkv_lin = lin(hsz, add(qd, mul(2, kvd)?)?, a.qkv_bias);
                let qkv = lx.push(&mut g, Module::linear(names.qkv), qkv_lin, n1)?;
                let kvh = if a.kv_broadcast { nh } else { nkv };
                let mut part = |heads: u64| -> Result<ValueId> {
                    let numel = Some(mul(rows, mul(heads, hd)?)?);
                    Ok(g.push(Op::Copy(Copy { numel }), &[qkv]))
                };
                (part(nh)?, part(kvh)?, part(kvh)?, kvh)
            } else {
                // qwen3_next's q_proj also computes the output gate, copied out by reshape
                let q_out = if a.details.attn_output_gate {
                    mul(2, qd)?
                } else {
                    qd
                };
                let q = lx.push(
                    &mut g,
                    Module::linear(names.q),
                    lin(hsz, q_out, a.qkv_bias),
                    n1,
                )?;
                if a.details.attn_output_gate {
                    output_gate = Some(g.push(
                        Op::Copy(Copy {
                            numel: Some(mul(rows, qd)?),
                        }),
                        &[q],
                    ));
                }
                let k = lx.push(
                    &mut g,
                    Module::linear(names.k),
                    lin(hsz, kvd, a.qkv_bias),
                    n1,
                )?;
                let v = lx.push(
                    &mut g,
                    Module::linear(names.v),
                    lin(hsz, kvd, a.qkv_bias),
                    n1,
                )?;
                let (q, k) = qk_norm(&mut g, a, rows, q, k)?;
                (q, k, v, nkv)
            };
            let cos_sin = other_cos_sin
                .iter()
                .find(|(span, _)| *span == std::mem::discriminant(&kind.span))
                .map(|&(_, pair)| pair)
                .or(cos_sin);
            (q, k) = position_qk(&mut g, a, kind, cos_sin, rows, s, q, k)?;
            if use_cache {
                hold_kv_cache(&mut g, kind, [k, v]);
            }
            let mut ins = vec![q, k, v];
            ins.extend(mask);
            g.push(Op::Attention(Attention { kv_heads, ..attn }), &ins)
        };
        let att = match output_gate {
            // `attn_output * torch.sigmoid(gate)`
            Some(gate) => {
                let gate = g.push(
                    Op::Act(Act {
                        kind: ActKind::Sigmoid,
                    }),
                    &[gate],
                );
                g.push(Op::Mul(Mul), &[att, gate])
            }
            None => att,
        };
        // a linear-attention or SSM mixer's output is its `out_proj`'s already
        let mut o = match linear.or(ssm.map(|_| att)) {
            Some(out) => out,
            None => {
                let o_lin = lin(o_proj_width(a)?, hsz, a.o_bias);
                lx.push(&mut g, Module::linear(names.o), o_lin, att)?
            }
        };
        if let Some(m) = beside {
            // `attention * attn_out_multiplier + mamba`
            let scaled = g.push(Op::Add(Add), &[o]);
            o = g.push(Op::Add(Add), &[m, scaled]);
        }
        if let Some(numel) = unused_cross {
            g.push(Op::UnusedParam(UnusedParam { numel }), &[]);
        }
        // Gemma 2's sandwich norms: four per layer, the extra two on each branch's output.
        let sandwich = a.pre_norm && a.norms_per_layer == 4;
        if sandwich || post_branch {
            o = g.push(ln(rows), &[o]);
        }
        if drop.resid > 0.0 {
            o = g.push(Op::Dropout(Dropout { p: drop.resid }), &[o]);
        }
        let act = match a.activation.as_str() {
            "silu" | "swish" => ActKind::Silu,
            "relu" => ActKind::Relu,
            "gelu_new" | "gelu_pytorch_tanh" if a.activation == "gelu_new" => ActKind::GeluPython,
            _ => ActKind::Gelu,
        };
        let mlp = |g: &mut Graph, lx: &mut Linears, n2: ValueId| -> Result<ValueId> {
            Ok(match a.moe.as_ref().filter(|m| m.is_moe_layer(i)) {
                Some(moe) => sparse_moe(g, lx, &a.model_type, moe, n2, rows, hsz, act)?,
                None => {
                    let mlp = Mlp {
                        rows,
                        hidden: hsz,
                        inter: a.intermediate_size,
                        gated: a.gated_mlp,
                        bias: a.mlp_bias,
                        act,
                    };
                    mlp.push_named(g, n2, lx, &names)?
                }
            })
        };
        if a.parallel_attn {
            // gpt_neox `mlp_output + attn_output + hidden_states`; falcon `mlp_output +=
            // attention_output` then the residual (charged here as a new tensor too)
            let n2 = match n_mlp {
                Some(n) => n,
                None if a.norms_per_layer == 2 => g.push(ln(rows), &[x]),
                None => n1,
            };
            let mut d = mlp(&mut g, &mut lx, n2)?;
            if drop.resid > 0.0 {
                d = g.push(Op::Dropout(Dropout { p: drop.resid }), &[d]);
            }
            let branches = g.push(Op::Add(Add), &[d, o]);
            h = g.push(Op::Add(Add), &[branches, x]);
        } else {
            h = g.push(Op::Add(Add), &[x, o]);
            let mid = h;
            let n2 = if post_branch {
                h
            } else if a.pre_norm {
                g.push(ln(rows), &[h])
            } else {
                h = g.push(ln(rows), &[h]);
                h
            };
            let mut d = mlp(&mut g, &mut lx, n2)?;
            if sandwich || post_branch {
                d = g.push(ln(rows), &[d]);
            }
            if drop.resid > 0.0 {
                d = g.push(Op::Dropout(Dropout { p: drop.resid }), &[d]);
            }
            let resid = if a.pre_norm { mid } else { h };
            h = g.push(Op::Add(Add), &[resid, d]);
            if !a.pre_norm {
                h = g.push(ln(rows), &[h]);
            }
        }
        if run.grad_ckpt && decoder {
            g.checkpoint_regions.push((first, g.nodes.len() - 1));
        }
    }
    if a.final_norm && a.pre_norm {
        h = g.push(ln(rows), &[h]);
    }
    if a.embed_dim != hsz {
        h = lx.push(
            &mut g,
            Module::linear("project_out"),
            project(hsz, a.embed_dim),
            h,
        )?;
    }
    if let Some(p) = a.pooler {
        // BERT's pooler: dense + tanh on the first token; not on the loss's path
        let first_tok = g.push(
            Op::SelectLast(SelectLast {
                out_numel: mul(b, hsz)?,
            }),
            &[h],
        );
        let pooler = Module::linear(names.head_dense);
        let pooler_lin = Linear {
            rows: b,
            in_features: hsz,
            out_features: p,
            bias: true,
            tied_weight: false,
        };
        let pd = lx.push(&mut g, pooler, pooler_lin, first_tok)?;
        g.push(
            Op::Act(Act {
                kind: ActKind::Tanh,
            }),
            &[pd],
        );
    }
    // ---- head and loss
    match a.head {
        HeadKind::CausalLm => {
            if a.mlm_head.is_some() {
                // BERT-style LM head: dense + GELU + LayerNorm before the vocabulary projection
                let t = lx.push(
                    &mut g,
                    Module::linear(names.head_dense),
                    lin(hsz, hsz, true),
                    h,
                )?;
                let t = g.push(
                    Op::Act(Act {
                        kind: ActKind::Gelu,
                    }),
                    &[t],
                );
                h = g.push(ln(rows), &[t]);
            }
            if a.mlm_head.is_some_and(|m| m.untied_bias) {
                g.push(
                    Op::UnusedParam(UnusedParam {
                        numel: a.vocab_size,
                    }),
                    &[],
                );
            }
            let head = Linear {
                rows,
                in_features: a.embed_dim,
                out_features: a.vocab_size,
                bias: a.mlm_head.is_some() || a.details.lm_head_bias,
                tied_weight: a.tie_word_embeddings,
            };
            let mut logits = lx.push(&mut g, names.lm_head(), head, h)?;
            if a.details.logit_scale {
                // cohere's `logits * logit_scale`: a new tensor, nothing saved
                logits = g.push(Op::Add(Add), &[logits]);
            }
            let lf = g.push(Op::Cast(Cast { to: DType::F32 }), &[logits]);
            g.push(
                Op::CrossEntropy(CrossEntropy {
                    rows,
                    classes: a.vocab_size,
                    label_copies: vec![mul(b, add(s, 1)?)?, rows],
                }),
                &[lf, ids],
            );
            g.train_only_tail = 2;
            g.infer_output = Some(logits);
        }
        HeadKind::Base => {
            let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[h]);
            g.push(Op::SquareMean(SquareMean), &[hf]);
            g.train_only_tail = 2;
            g.infer_output = Some(h);
        }
        HeadKind::MaskedLm => super::hf_masked_lm::head(&mut g, &mut lx, a, &names, (h, ids, rows))?,
        _ => {
            return Err(crate::Error::invalid(
                a.model_type.as_str(),
                "the memory model does not lower this head yet (base, causal-LM and masked-LM heads only)",
            ))
        }
    }
    let _ = e;
    lx.finish(&mut g, &a.model_type)?;
    Ok(g)
}

/// The kinds of layer with a rotary table of their own, in order of first use: one for
/// most types; each distinct layer type for those whose rotary module is built per
/// layer type (`Gemma3RotaryEmbedding`, olmo3's).
fn rotary_tables(a: &TransformerArch) -> Vec<std::mem::Discriminant<AttentionSpan>> {
    let first = std::mem::discriminant(&a.layer_attention(0).span);
    if !matches!(a.model_type.as_str(), "gemma3_text" | "olmo3") {
        return vec![first];
    }
    let mut kinds = vec![first];
    for i in 1..a.num_layers {
        let kind = std::mem::discriminant(&a.layer_attention(i).span);
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds
}

/// Whether any layer runs softmax attention (mamba's have none, and no mask is made).
fn attends(a: &TransformerArch) -> bool {
    a.details.mixers.is_empty() || a.details.mixers.iter().any(|&m| m != LayerMixer::Ssm)
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
