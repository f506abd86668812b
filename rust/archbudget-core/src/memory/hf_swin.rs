//! swin lowered into the op graph: one step of `SwinModel(pixel_values)` on `batch`
//! images, the loss the base protocol's `last_hidden_state.float().pow(2).mean()`.
//!
//! Computes, as `modeling_swin.py` of transformers 5.24 runs it:
//! - embeddings: the pixels padded to a multiple of the patch (a copy, only where needed),
//!   the patch convolution, `flatten(2).transpose(1, 2)` (a view the LayerNorm makes
//!   contiguous: a copy), `norm`, dropout (keras-hub's `patch_norm=False` twin: the view
//!   goes to the dropout and the first block unnormed);
//! - per block of a stage at resolution H×W (no shift where the stage is one window; a
//!   stage smaller than a window is refused, as transformers' forward fails there):
//!   `layernorm_before`; the map padded
//!   to a multiple of the window (`F.pad` copies even when it pads nothing); a shifted
//!   block's `torch.roll` (a copy); `window_partition` (a transposing copy, a view where a
//!   row holds one window); q, k and v Linears on batch·windows sequences of window²
//!   tokens; the relative position bias (the `relative_position_index` buffer, window⁴
//!   int64, indexes the table: a heads×window⁴ gather, permuted by a copy) as SDPA's
//!   `attn_mask` (a score bias, so the memory-efficient kernel); a shifted block adds its
//!   cyclic-shift mask (windows×window⁴, made per block, expanded to the batch by a
//!   reshaping copy) to the bias: a batch·windows×heads×window⁴ tensor; `o_proj`,
//!   dropout, `window_reverse` (a copy, or a view), the reverse roll, the crop of the
//!   padding (a copy), drop path (`x.div(keep) * mask`: a copy and a per-sample noise)
//!   and the residual add; `layernorm_after`, `fc1`, activation, `fc2`, dropout, add;
//! - patch merging: the map padded to even sides where odd (a copy), the four strided
//!   slices concatenated (a copy), LayerNorm over 4·dim, the bias-free `reduction`;
//! - the final `layernorm`. The pooler's average (batch × width) is off the loss's path
//!   and negligible.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::ops::*;
use super::{mul, Mode, Result, RunSettings};
use crate::arch::TransformerArch;
use crate::formats::hf::swin::Swin;

/// The graph of a hierarchical vision transformer (swin, segformer); `None` for the others.
pub(super) fn hierarchical(
    a: &TransformerArch,
    drop: &Dropouts,
    run: &RunSettings,
) -> Option<Result<Graph>> {
    if let Some(s) = &a.details.swin {
        return Some(graph(a, s, drop, run));
    }
    let s = a.details.segformer.as_deref()?;
    Some(super::hf_segformer::graph(a, s, drop, run))
}

fn graph(a: &TransformerArch, s: &Swin, drop: &Dropouts, run: &RunSettings) -> Result<Graph> {
    let here = a.model_type.as_str();
    run.refuse_for_encoder(here, "swin", "images")?;
    if run.grad_ckpt {
        return Err(crate::Error::invalid(
            here,
            "gradient checkpointing is not lowered for swin yet (its stages and blocks are both checkpointed layers)",
        ));
    }
    if s.absolute_positions {
        return Err(crate::Error::invalid(
            here,
            "use_absolute_embeddings is not lowered for swin yet (summary counts it)",
        ));
    }
    let b = run.batch;
    if b == 0 {
        return Err(crate::Error::invalid("run", "batch must be positive"));
    }
    let train = run.mode == Mode::Train;
    let mut g = Graph::default();
    let (gh, gw) = s.grid();
    let pixels = g.input(
        prod(&[b, s.channels, s.image.0, s.image.1])?,
        InputKind::Float,
    );
    let mut x = pixels;
    let padded = (mul(gh, s.patch.0)?, mul(gw, s.patch.1)?);
    if padded != s.image {
        x = copy(&mut g, x, prod(&[b, s.channels, padded.0, padded.1])?);
    }
    g.push(
        Op::Conv(Conv {
            batch: b,
            in_channels: s.channels,
            out_channels: s.embed_dim,
            dims: vec![
                ConvDim::new(padded.0, s.patch.0, s.patch.0, 0),
                ConvDim::new(padded.1, s.patch.1, s.patch.1, 0),
            ],
            groups: 1,
            bias: true,
            transposed: false,
            shared_weights: false,
        }),
        &[x],
    );
    g.then(Op::View(View));
    if s.patch_norm {
        g.then(Op::Copy(Copy::default()));
        g.then(layer_norm(mul(b, mul(gh, gw)?)?, s.embed_dim));
    }
    x = g.then(Op::Dropout(Dropout { p: drop.embed }));

    let blocks: u64 = s.depths.iter().sum();
    let mut k = 0u64;
    let (mut h, mut w) = (gh, gw);
    for (i, &depth) in s.depths.iter().enumerate() {
        let d = s.width(i);
        let stage = Stage {
            batch: b,
            h,
            w,
            dim: d,
            heads: s.heads[i],
            mlp: s.mlp[i],
            qkv_bias: s.qkv_bias,
            act: super::hf_encoders::act_kind(&a.activation),
        };
        if d % s.heads[i] != 0 {
            return Err(crate::Error::invalid(
                here,
                format!(
                    "stage {i}'s width ({d}) is not a multiple of its num_heads ({}): transformers' forward cannot split it into heads",
                    s.heads[i]
                ),
            ));
        }
        if h.min(w) < s.window {
            return Err(crate::Error::invalid(
                here,
                format!(
                    "stage {i}'s {h}x{w} map is smaller than window_size ({}): transformers builds the relative position bias for the whole window and its forward fails there; use a larger image_size or a smaller window_size",
                    s.window
                ),
            ));
        }
        for j in 0..depth {
            // SwinDropPath only where the block's rate, rate·k/(blocks − 1), is positive
            let drop_path = train && s.drop_path && k > 0 && blocks > 1;
            x = stage.block(
                &mut g,
                x,
                (s.window, s.bias_rows),
                j % 2 == 1,
                drop,
                drop_path,
            )?;
            k += 1;
        }
        if i + 1 < s.depths.len() {
            x = stage.merge(&mut g, x)?;
            (h, w) = (h.div_ceil(2), w.div_ceil(2));
        }
    }
    let last = s.width(s.depths.len() - 1);
    let out = g.push(layer_norm(prod(&[b, h, w])?, last), &[x]);
    if train {
        g.push(Op::Cast(Cast { to: DType::F32 }), &[out]);
        g.then(Op::SquareMean(SquareMean));
        g.train_only_tail = 2;
    }
    g.infer_output = Some(out);
    Ok(g)
}

/// One stage's shape: `batch` maps of h×w tokens, `dim` wide.
struct Stage {
    batch: u64,
    h: u64,
    w: u64,
    dim: u64,
    heads: u64,
    mlp: u64,
    qkv_bias: bool,
    act: ActKind,
}

impl Stage {
    fn block(
        &self,
        g: &mut Graph,
        x: ValueId,
        (window, bias_rows): (u64, u64),
        odd: bool,
        drop: &Dropouts,
        drop_path: bool,
    ) -> Result<ValueId> {
        let (b, h, w, d) = (self.batch, self.h, self.w, self.dim);
        // `set_shift_and_window_size`: a stage of one window is not shifted (a smaller one
        // is refused by `graph`: the bias is built for the configured window)
        let ws = window;
        let shift = if odd && h.min(w) > window {
            window / 2
        } else {
            0
        };
        let (hp, wp) = (mul(h.div_ceil(ws), ws)?, mul(w.div_ceil(ws), ws)?);
        let windows = mul(hp / ws, wp / ws)?;
        let tokens = mul(ws, ws)?;
        let rows = prod(&[b, windows, tokens])?;
        let map = prod(&[b, h, w, d])?;
        let padded = mul(rows, d)?;

        let n = g.push(layer_norm(prod(&[b, h, w])?, d), &[x]);
        let mut y = copy(g, n, padded);
        if shift > 0 {
            y = copy(g, y, padded);
        }
        // the transpose of (window rows, window) is a copy unless a row holds one window
        if wp / ws > 1 && ws > 1 {
            y = copy(g, y, padded);
        }
        let lin = |inp: u64, out: u64, bias: bool| Op::Linear(Linear::new(rows, inp, out, bias));
        let mut qkv = [y; 3];
        for slot in &mut qkv {
            g.push(lin(d, d, self.qkv_bias), &[y]);
            *slot = g.then(Op::View(View));
        }
        // the relative position bias: the index buffer gathers heads × window⁴ entries of
        // the table, permuted to (1, heads, window², window²) by a copy
        let index = g.push(
            Op::Fill(Fill {
                numel: 0,
                dtype: Some(DType::I64),
                buffer: Some((mul(tokens, tokens)?, DType::I64)),
            }),
            &[],
        );
        g.push(
            Op::Embedding(Embedding {
                tokens: mul(tokens, tokens)?,
                vocab: bias_rows,
                dim: self.heads,
                tied: false,
            }),
            &[index],
        );
        let mut bias = g.then(Op::Copy(Copy::default()));
        if shift > 0 {
            // `get_attn_mask`: windows × window⁴, then expanded to the batch by `reshape`
            // (a copy), and added to the bias at the scores' size
            let mask = g.push(
                Op::Fill(Fill {
                    numel: mul(windows, mul(tokens, tokens)?)?,
                    dtype: None,
                    buffer: None,
                }),
                &[],
            );
            let mask = copy(g, mask, prod(&[b, windows, tokens, tokens])?);
            bias = copy2(
                g,
                bias,
                mask,
                prod(&[b, windows, self.heads, tokens, tokens])?,
            );
        }
        g.push(
            Op::Attention(Attention {
                softmax_fp32: true,
                score_bias: true,
                ..Attention::plain(
                    mul(b, windows)?,
                    self.heads,
                    tokens,
                    tokens,
                    d / self.heads,
                    drop.attn,
                )
            }),
            &[qkv[0], qkv[1], qkv[2], bias],
        );
        g.then(Op::View(View));
        g.then(lin(d, d, true));
        let mut y = g.then(Op::Dropout(Dropout { p: drop.resid }));
        if wp / ws > 1 && ws > 1 {
            y = copy(g, y, padded);
        }
        if shift > 0 {
            y = copy(g, y, padded);
        }
        if hp > h || wp > w {
            y = copy(g, y, map);
        }
        let y = apply_drop_path(g, y, b, drop_path);
        let x = g.push(Op::Add(Add), &[x, y]);

        let rows = prod(&[b, h, w])?;
        let lin = |inp: u64, out: u64| Op::Linear(Linear::new(rows, inp, out, true));
        g.push(layer_norm(rows, d), &[x]);
        g.then(lin(d, self.mlp));
        g.then(Op::Act(Act { kind: self.act }));
        g.then(lin(self.mlp, d));
        let y = g.then(Op::Dropout(Dropout { p: drop.resid }));
        Ok(g.push(Op::Add(Add), &[y, x]))
    }

    /// `SwinPatchMerging`: 2×2 neighbours to one token of 4·dim, normed, reduced to 2·dim.
    fn merge(&self, g: &mut Graph, x: ValueId) -> Result<ValueId> {
        let (b, h, w, d) = (self.batch, self.h, self.w, self.dim);
        let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
        let mut y = x;
        if h % 2 == 1 || w % 2 == 1 {
            y = copy(g, y, prod(&[b, 2 * h2, 2 * w2, d])?);
        }
        let rows = prod(&[b, h2, w2])?;
        let y = copy(g, y, mul(rows, 4 * d)?);
        g.push(layer_norm(rows, 4 * d), &[y]);
        Ok(g.then(Op::Linear(Linear::new(rows, 4 * d, 2 * d, false))))
    }
}

/// Drop path (`SwinDropPath`, `SegformerDropPath`) in training: `x.div(keep) * mask`, a
/// copy and a noise of one draw per sample, which the product keeps.
pub(super) fn apply_drop_path(g: &mut Graph, x: ValueId, batch: u64, active: bool) -> ValueId {
    if !active {
        return x;
    }
    g.push(Op::Copy(Copy::default()), &[x]);
    g.then(Op::Noise(Noise {
        kind: NoiseKind::Feature { mask: batch },
        // any positive rate: the block's own only scales the mask
        rate: 1.0,
    }))
}

pub(super) fn layer_norm(rows: u64, dim: u64) -> Op {
    Op::LayerNorm(LayerNorm {
        rows,
        dim,
        weight: true,
        bias: true,
    })
}

/// A new tensor of `numel` elements made from `x` (pad, roll, a transposing copy, cat).
fn copy(g: &mut Graph, x: ValueId, numel: u64) -> ValueId {
    g.push(Op::Copy(Copy { numel: Some(numel) }), &[x])
}

/// A new tensor of `numel` elements made from `x` and `y` (a broadcast add, which saves
/// nothing).
fn copy2(g: &mut Graph, x: ValueId, y: ValueId, numel: u64) -> ValueId {
    g.push(Op::Copy(Copy { numel: Some(numel) }), &[x, y])
}
