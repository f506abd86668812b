//! dinov2 and dinov2_with_registers lowered into the op graph: one step of
//! `model(pixel_values)` on `batch` images, the training loss
//! `last_hidden_state.float().pow(2).mean()` as for every bare model here.
//!
//! Computes, as transformers 5.x runs `Dinov2Model` / `Dinov2WithRegistersModel`: the
//! biased patch convolution, the CLS token joined and the positions added
//! (`ClsPositions`; the table fits the image, so no interpolation), the register tokens
//! joined after the CLS token (`torch.cat`: a new tensor), the embedding dropout, N blocks
//! (LayerNorm → q/k/v → SDPA → o_proj → `LayerScale` → residual; LayerNorm → MLP (gelu
//! `fc1`/`fc2`, or SwiGLU: silu(gate) · up → down) → `LayerScale` → residual) and the
//! final LayerNorm. `mask_token` is held but unread without `bool_masked_pos`: no
//! gradient. Drop-path (`drop_path_rate`) adds only per-sample transients and is left out.
//! The register tokens are lowered as a lookup of an `n`-row table (their
//! `expand(batch, ...)` is a view: the lookup's `n × hidden` output is the one tensor
//! more).
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::hf_decoder::norm_op;
use super::hf_dual::{activation, linear, mlp, LN};
use super::ops::*;
use super::{add, mul, Mode, Result, RunSettings};
use crate::arch::{Dinov2Tokens, TransformerArch};

pub fn graph(
    a: &TransformerArch,
    tokens: &Dinov2Tokens,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    let here = a.model_type.as_str();
    if run.lora.is_some() || run.quantize.is_some() {
        return Err(crate::Error::invalid(
            here,
            "LoRA and quantized weights are not lowered for dinov2 yet",
        ));
    }
    if run.mode == Mode::Generate {
        return Err(crate::Error::invalid(
            here,
            format!("'{here}' encodes images; it does not generate (use --mode train or infer)"),
        ));
    }
    let v = a
        .vision
        .ok_or_else(|| crate::Error::Internal("dinov2 without image geometry".into()))?;
    let (b, h) = (run.batch, a.hidden_size);
    let seq = add(add(v.num_patches, 1)?, tokens.registers)?;
    let rows = mul(b, seq)?;
    let mut g = Graph::default();
    let pixels = g.input(
        prod(&[b, v.num_channels, v.image_size.0, v.image_size.1])?,
        InputKind::Float,
    );
    if tokens.mask_token {
        g.push(Op::UnusedParam(UnusedParam { numel: h }), &[]);
    }
    let conv = g.push(
        Op::Conv(Conv {
            batch: b,
            in_channels: v.num_channels,
            out_channels: h,
            dims: vec![
                ConvDim::new(v.image_size.0, v.patch_size.0, v.patch_size.0, 0),
                ConvDim::new(v.image_size.1, v.patch_size.1, v.patch_size.1, 0),
            ],
            groups: 1,
            bias: true,
            transposed: false,
            shared_weights: false,
        }),
        &[pixels],
    );
    let patches = g.push(Op::View(View), &[conv]);
    let mut x = g.push(
        Op::ClsPositions(ClsPositions {
            batch: b,
            patches: v.num_patches,
            dim: h,
            tokens: 1,
        }),
        &[patches],
    );
    if tokens.registers > 0 {
        let index = g.push(
            Op::Fill(Fill {
                numel: tokens.registers,
                dtype: Some(DType::I64),
                buffer: None,
            }),
            &[],
        );
        let registers = g.push(
            Op::Embedding(Embedding {
                tokens: tokens.registers,
                vocab: tokens.registers,
                dim: h,
                tied: false,
            }),
            &[index],
        );
        x = g.push(
            Op::Copy(Copy {
                numel: Some(mul(rows, h)?),
            }),
            &[x, registers],
        );
    }
    x = dropout(&mut g, x, drop.embed);
    for _ in 0..a.num_layers {
        x = block(&mut g, a, (b, seq, rows), x, drop.attn)?;
    }
    let out = g.push(norm_op(LN, rows, h), &[x]);
    let f = g.push(Op::Cast(Cast { to: DType::F32 }), &[out]);
    g.push(Op::SquareMean(SquareMean), &[f]);
    g.train_only_tail = 2;
    g.infer_output = Some(out);
    Ok(g)
}

fn dropout(g: &mut Graph, x: ValueId, p: f64) -> ValueId {
    match p > 0.0 {
        true => g.push(Op::Dropout(Dropout { p }), &[x]),
        false => x,
    }
}

/// One `Dinov2Layer` on `rows` = batch × seq tokens.
fn block(
    g: &mut Graph,
    a: &TransformerArch,
    (batch, seq, rows): (u64, u64, u64),
    x: ValueId,
    attn_dropout: f64,
) -> Result<ValueId> {
    let h = a.hidden_size;
    let qkv = mul(a.num_heads, a.head_dim)?;
    let n1 = g.push(norm_op(LN, rows, h), &[x]);
    let q = g.push(Op::Linear(linear(rows, h, qkv, a.qkv_bias)), &[n1]);
    let k = g.push(Op::Linear(linear(rows, h, qkv, a.qkv_bias)), &[n1]);
    let vv = g.push(Op::Linear(linear(rows, h, qkv, a.qkv_bias)), &[n1]);
    let att = g.push(
        Op::Attention(Attention {
            batch,
            heads: a.num_heads,
            kv_heads: a.num_heads,
            q_len: seq,
            kv_len: seq,
            head_dim: a.head_dim,
            v_head_dim: a.head_dim,
            causal: false,
            dropout: attn_dropout,
            eager_mask: false,
            softmax_fp32: false,
            fused_qkv: false,
            score_bias: false,
            sinks: false,
            eager_only: false,
        }),
        &[q, k, vv],
    );
    let o = g.push(Op::Linear(linear(rows, qkv, h, true)), &[att]);
    let s1 = g.push(Op::Scale(Scale { numel: h }), &[o]);
    let mid = g.push(Op::Add(Add), &[x, s1]);
    let n2 = g.push(norm_op(LN, rows, h), &[mid]);
    let inter = a.intermediate_size;
    let d = match a.gated_mlp {
        true => {
            let gate = g.push(Op::Linear(linear(rows, h, inter, true)), &[n2]);
            let up = g.push(Op::Linear(linear(rows, h, inter, true)), &[n2]);
            let act = g.push(
                Op::Act(Act {
                    kind: ActKind::Silu,
                }),
                &[gate],
            );
            let prod = g.push(Op::Mul(Mul), &[act, up]);
            g.push(Op::Linear(linear(rows, inter, h, true)), &[prod])
        }
        false => mlp(g, rows, h, inter, activation(&a.activation), n2),
    };
    let s2 = g.push(Op::Scale(Scale { numel: h }), &[d]);
    Ok(g.push(Op::Add(Add), &[mid, s2]))
}
