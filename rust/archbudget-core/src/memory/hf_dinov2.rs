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
//!
//! dinov3_vit (`DINOv3ViTModel`) differs: CLS, registers and patches joined by one
//! `torch.cat`, no positions and no embedding dropout; the rotary cos and sin of the
//! patch centres made once per forward (`inv_freq` a buffer; the training-time jitter of
//! the 2-D coordinates is `patches × 2` floats, left out); in every block the patches'
//! slice of q and of k rotated and joined back to the CLS and register tokens; q, k, v,
//! o and the MLP biased each as configured; the MLP's activation as configured.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::hf_decoder::norm_op;
use super::hf_dual::{activation, mlp, LN};
use super::hf_encoders::act_kind;
use super::hf_mlp::Mlp;
use super::ops::*;
use super::{add, mul, Result, RunSettings};
use crate::arch::{Dinov2Tokens, Position, TransformerArch};
use crate::formats::hf::dinov3_vit::qkv_biases;

pub fn graph(
    a: &TransformerArch,
    tokens: &Dinov2Tokens,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    let here = a.model_type.as_str();
    run.refuse_for_encoder(here, "dinov2", "images")?;
    let rows = mul(run.batch, sequence(a, tokens)?)?;
    let mut g = Graph::default();
    let states = encoder(&mut g, a, tokens, drop, run.batch)?;
    let last = *states.last().expect("the embeddings' output at least");
    let out = g.push(norm_op(LN, rows, a.hidden_size), &[last]);
    let f = g.push(Op::Cast(Cast { to: DType::F32 }), &[out]);
    g.push(Op::SquareMean(SquareMean), &[f]);
    g.train_only_tail = 2;
    g.infer_output = Some(out);
    Ok(g)
}

/// Tokens per image: the patches, the CLS token and the registers.
pub(super) fn sequence(a: &TransformerArch, tokens: &Dinov2Tokens) -> Result<u64> {
    add(add(vision(a)?.num_patches, 1)?, tokens.registers)
}

/// The pixels (the graph's input), the embeddings and every block on `b` images: each
/// hidden state, the embeddings' output first, as `output_hidden_states` gives them.
pub(super) fn encoder(
    g: &mut Graph,
    a: &TransformerArch,
    tokens: &Dinov2Tokens,
    drop: &Dropouts,
    b: u64,
) -> Result<Vec<ValueId>> {
    let v = vision(a)?;
    let h = a.hidden_size;
    let seq = sequence(a, tokens)?;
    let rows = mul(b, seq)?;
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
    let (mut x, rotary) = match a.position {
        Position::Rotary => dinov3_tokens(g, a, tokens, rows, patches)?,
        _ => (dinov2_tokens(g, a, tokens, (b, rows), patches)?, None),
    };
    x = g.dropout(x, drop.embed);
    let mut states = vec![x];
    for _ in 0..a.num_layers {
        x = block(g, a, (b, seq, rows), x, (drop.attn, rotary))?;
        states.push(x);
    }
    Ok(states)
}

/// dinov2's tokens: the CLS token joined and the positions added, the registers joined
/// after the CLS token.
fn dinov2_tokens(
    g: &mut Graph,
    a: &TransformerArch,
    tokens: &Dinov2Tokens,
    (b, rows): (u64, u64),
    patches: ValueId,
) -> Result<ValueId> {
    let (v, h) = (vision(a)?, a.hidden_size);
    let x = g.push(
        Op::ClsPositions(ClsPositions {
            batch: b,
            patches: v.num_patches,
            dim: h,
            tokens: 1,
        }),
        &[patches],
    );
    if tokens.registers == 0 {
        return Ok(x);
    }
    let registers = learned_tokens(g, tokens.registers, h);
    Ok(g.push(
        Op::Copy(Copy {
            numel: Some(mul(rows, h)?),
        }),
        &[x, registers],
    ))
}

/// dinov3's tokens, `torch.cat([cls, registers, patches])`, and the rotary angles the
/// blocks read: `inv_freq` (a buffer of `head_dim / 4` floats) and cos and sin, a
/// patches × head_dim table each in the parameters' dtype.
fn dinov3_tokens(
    g: &mut Graph,
    a: &TransformerArch,
    tokens: &Dinov2Tokens,
    rows: u64,
    patches: ValueId,
) -> Result<(ValueId, Option<Rope>)> {
    let (v, h) = (vision(a)?, a.hidden_size);
    // in `torch.cat`'s order: its output takes the parameters' dtype, to which autocast's
    // bf16 patches are promoted
    let mut parts = vec![learned_tokens(g, 1, h)];
    if tokens.registers > 0 {
        parts.push(learned_tokens(g, tokens.registers, h));
    }
    parts.push(patches);
    let x = g.push(
        Op::Copy(Copy {
            numel: Some(mul(rows, h)?),
        }),
        &parts,
    );
    g.push(
        Op::Fill(Fill {
            numel: 0,
            dtype: Some(DType::F32),
            buffer: Some((a.head_dim / 4, DType::F32)),
        }),
        &[],
    );
    let table = mul(v.num_patches, a.head_dim)?;
    let mut angles = || {
        g.push(
            Op::Fill(Fill {
                numel: table,
                dtype: None,
                buffer: None,
            }),
            &[],
        )
    };
    let rope = Rope {
        cos: angles(),
        sin: angles(),
        patches: v.num_patches,
    };
    Ok((x, Some(rope)))
}

/// The image geometry every dinov2-like arch has.
fn vision(a: &TransformerArch) -> Result<crate::arch::Vision> {
    a.vision
        .ok_or_else(|| crate::Error::Internal("dinov2 without image geometry".into()))
}

/// `n` learned `hidden`-wide tokens (`expand(batch, ...)` is a view), lowered as a lookup
/// of an `n`-row table: its `n × hidden` output is the one tensor more.
fn learned_tokens(g: &mut Graph, n: u64, hidden: u64) -> ValueId {
    let index = g.push(
        Op::Fill(Fill {
            numel: n,
            dtype: Some(DType::I64),
            buffer: None,
        }),
        &[],
    );
    g.push(
        Op::Embedding(Embedding {
            tokens: n,
            vocab: n,
            dim: hidden,
            tied: false,
        }),
        &[index],
    )
}

/// dinov3's rotary angles, applied to the last `patches` tokens of q and k.
#[derive(Clone, Copy)]
struct Rope {
    cos: ValueId,
    sin: ValueId,
    patches: u64,
}

impl Rope {
    /// `apply_rotary_pos_emb` on q or k (batch × heads × seq × head_dim): the patches'
    /// slice rotated (a slice whose backward makes a whole-size gradient), then
    /// `torch.cat` with the unrotated CLS and register tokens (a new tensor).
    fn apply(
        &self,
        g: &mut Graph,
        x: ValueId,
        (batch, rows, width): (u64, u64, u64),
    ) -> Result<ValueId> {
        let slice = g.push(
            Op::SelectLast(SelectLast {
                out_numel: prod(&[batch, self.patches, width])?,
            }),
            &[x],
        );
        let rotated = g.push(Op::Rotary(Rotary), &[slice, self.cos, self.sin]);
        // the rotated part first: the cat's output takes its (promoted) dtype
        Ok(g.push(
            Op::Copy(Copy {
                numel: Some(mul(rows, width)?),
            }),
            &[rotated, x],
        ))
    }
}

/// One `Dinov2Layer` (or `DINOv3ViTLayer`, which rotates q and k by `rope`) on `rows` =
/// batch × seq tokens.
fn block(
    g: &mut Graph,
    a: &TransformerArch,
    (batch, seq, rows): (u64, u64, u64),
    x: ValueId,
    (attn_dropout, rope): (f64, Option<Rope>),
) -> Result<ValueId> {
    let h = a.hidden_size;
    let qkv = mul(a.num_heads, a.head_dim)?;
    let [q_bias, k_bias, v_bias] = qkv_biases(a);
    let n1 = g.push(norm_op(LN, rows, h), &[x]);
    let mut q = g.push(Op::Linear(Linear::new(rows, h, qkv, q_bias)), &[n1]);
    let mut k = g.push(Op::Linear(Linear::new(rows, h, qkv, k_bias)), &[n1]);
    let vv = g.push(Op::Linear(Linear::new(rows, h, qkv, v_bias)), &[n1]);
    if let Some(rope) = rope {
        q = rope.apply(g, q, (batch, rows, qkv))?;
        k = rope.apply(g, k, (batch, rows, qkv))?;
    }
    let att = g.push(
        Op::Attention(Attention::plain(
            batch,
            a.num_heads,
            seq,
            seq,
            a.head_dim,
            attn_dropout,
        )),
        &[q, k, vv],
    );
    let o = g.push(Op::Linear(Linear::new(rows, qkv, h, a.o_bias)), &[att]);
    let s1 = g.push(Op::Scale(Scale { numel: h }), &[o]);
    let mid = g.push(Op::Add(Add), &[x, s1]);
    let n2 = g.push(norm_op(LN, rows, h), &[mid]);
    let inter = a.intermediate_size;
    let d = match (a.position, a.gated_mlp) {
        // dinov3's MLP: the configured activation (on the gate, when gated), `mlp_bias`
        (Position::Rotary, gated) => Mlp {
            rows,
            hidden: h,
            inter,
            gated,
            bias: a.mlp_bias,
            act: act_kind(&a.activation),
        }
        .push_with(g, n2, &[]),
        (_, true) => {
            let gate = g.push(Op::Linear(Linear::new(rows, h, inter, true)), &[n2]);
            let up = g.push(Op::Linear(Linear::new(rows, h, inter, true)), &[n2]);
            let act = g.push(
                Op::Act(Act {
                    kind: ActKind::Silu,
                }),
                &[gate],
            );
            let prod = g.push(Op::Mul(Mul), &[act, up]);
            g.push(Op::Linear(Linear::new(rows, inter, h, true)), &[prod])
        }
        (_, false) => mlp(g, rows, h, inter, activation(&a.activation), n2),
    };
    let s2 = g.push(Op::Scale(Scale { numel: h }), &[d]);
    Ok(g.push(Op::Add(Add), &[mid, s2]))
}
