//! segformer lowered into the op graph: one step of `SegformerModel(pixel_values)` on
//! `batch` images of the config's `image_size`, the loss the base protocol's
//! `last_hidden_state.float().pow(2).mean()`.
//!
//! Computes, as `modeling_segformer.py` of transformers 5.24 runs it, per stage:
//! - the patch convolution, `flatten(2).transpose(1, 2)` (a view the LayerNorm makes
//!   contiguous: a copy), `layer_norm`;
//! - per block: `layernorm_before`; q on every token; with a reduction ratio, the tokens
//!   as a map (`transpose(1, 2).reshape`: a copy), the strided convolution, back to tokens
//!   (a view, copied by the LayerNorm) and its LayerNorm; k and v on the reduced tokens;
//!   attention (N queries over N / ratio² keys); `o_proj`, dropout, drop path
//!   (`x.div(keep) * mask`: a copy and a per-sample noise), the residual add;
//!   `layernorm_after`, `fc1`, the depthwise 3×3 convolution (its input a channels-last
//!   view, its output flattened back by views), the activation, dropout, `fc2`, dropout,
//!   drop path, the residual add;
//! - the stage's `layer_norm`, then `reshape(...).permute(0, 3, 1, 2).contiguous()` (a
//!   copy: the next stage's input, and the last stage's output);
//! - keras-hub's SegFormer models: the decode head on every stage's map
//!   ([`super::hf_segformer_head`]).
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::hf_swin::{apply_drop_path, layer_norm};
use super::ops::*;
use super::{mul, Mode, Result, RunSettings};
use crate::arch::TransformerArch;
use crate::formats::hf::segformer::{Segformer, Stage};

pub fn graph(
    a: &TransformerArch,
    s: &Segformer,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    let here = a.model_type.as_str();
    run.refuse_for_encoder(here, "segformer", "images")?;
    let b = run.batch;
    if b == 0 {
        return Err(crate::Error::invalid("run", "batch must be positive"));
    }
    let train = run.mode == Mode::Train;
    let act = super::hf_encoders::act_kind(&a.activation);
    let blocks: u64 = s.stages.iter().map(|st| st.depth).sum();
    let mut g = Graph::default();
    let mut x = g.input(
        prod(&[b, s.channels, s.image.0, s.image.1])?,
        InputKind::Float,
    );
    let labels = super::hf_segformer_head::labels(&mut g, s, b, train)?;
    let maps = s.maps(here)?;
    let (mut size, mut channels) = (s.image, s.channels);
    let mut k = 0u64;
    let mut stage_maps = Vec::with_capacity(maps.len());
    for (st, &(h, w)) in s.stages.iter().zip(&maps) {
        let d = st.width;
        g.push(
            Op::Conv(Conv {
                batch: b,
                in_channels: channels,
                out_channels: d,
                dims: vec![
                    ConvDim::new(size.0, st.patch, st.stride, st.patch / 2),
                    ConvDim::new(size.1, st.patch, st.stride, st.patch / 2),
                ],
                groups: 1,
                bias: true,
                transposed: false,
                shared_weights: false,
            }),
            &[x],
        );
        g.then(Op::View(View));
        g.then(Op::Copy(Copy::default()));
        let tokens = mul(b, mul(h, w)?)?;
        x = g.then(layer_norm(tokens, d));
        let shape = Shape { b, h, w, act };
        for _ in 0..st.depth {
            // drop path only where the block's rate, rate·k/(blocks − 1), is positive
            let drop_path = train && s.drop_path && k > 0 && blocks > 1;
            x = shape.block(&mut g, st, x, drop, drop_path)?;
            k += 1;
        }
        g.push(layer_norm(tokens, d), &[x]);
        // the map back to (batch, width, H, W): a copy
        x = g.then(Op::Copy(Copy::default()));
        stage_maps.push((x, (h, w)));
        (size, channels) = ((h, w), d);
    }
    if let Some(head) = &s.decode_head {
        super::hf_segformer_head::lower(&mut g, s, head, &stage_maps, (b, train, labels))?;
        return Ok(g);
    }
    if train {
        g.push(Op::Cast(Cast { to: DType::F32 }), &[x]);
        g.then(Op::SquareMean(SquareMean));
        g.train_only_tail = 2;
    }
    g.infer_output = Some(x);
    Ok(g)
}

/// A stage's map: `b` images of h×w tokens, and the Mix-FFN's activation.
struct Shape {
    b: u64,
    h: u64,
    w: u64,
    act: ActKind,
}

impl Shape {
    fn block(
        &self,
        g: &mut Graph,
        st: &Stage,
        x: ValueId,
        drop: &Dropouts,
        drop_path: bool,
    ) -> Result<ValueId> {
        let (b, h, w, d) = (self.b, self.h, self.w, st.width);
        let rows = prod(&[b, h, w])?;
        let inner = st.heads * (d / st.heads);
        let lin = |rows: u64, inp: u64, out: u64| Op::Linear(Linear::new(rows, inp, out, true));
        let n = g.push(layer_norm(rows, d), &[x]);
        g.push(lin(rows, d, inner), &[n]);
        let q = g.then(Op::View(View));
        let (kv, kv_rows, kv_len) = if st.sr > 1 {
            let (hr, wr) = (h / st.sr, w / st.sr);
            let map = g.push(Op::Copy(Copy::default()), &[n]);
            g.push(
                Op::Conv(Conv {
                    batch: b,
                    in_channels: d,
                    out_channels: d,
                    dims: vec![
                        ConvDim::new(h, st.sr, st.sr, 0),
                        ConvDim::new(w, st.sr, st.sr, 0),
                    ],
                    groups: 1,
                    bias: true,
                    transposed: false,
                    shared_weights: false,
                }),
                &[map],
            );
            g.then(Op::View(View));
            g.then(Op::Copy(Copy::default()));
            let kv_rows = prod(&[b, hr, wr])?;
            (g.then(layer_norm(kv_rows, d)), kv_rows, mul(hr, wr)?)
        } else {
            (n, rows, mul(h, w)?)
        };
        g.push(lin(kv_rows, d, inner), &[kv]);
        let k = g.then(Op::View(View));
        g.push(lin(kv_rows, d, inner), &[kv]);
        let v = g.then(Op::View(View));
        g.push(
            Op::Attention(Attention {
                softmax_fp32: true,
                ..Attention::plain(b, st.heads, mul(h, w)?, kv_len, d / st.heads, drop.attn)
            }),
            &[q, k, v],
        );
        g.then(Op::View(View));
        g.then(lin(rows, inner, d));
        let y = g.then(Op::Dropout(Dropout { p: drop.resid }));
        let y = apply_drop_path(g, y, b, drop_path);
        let x = g.push(Op::Add(Add), &[y, x]);

        g.push(layer_norm(rows, d), &[x]);
        g.then(lin(rows, d, st.mlp));
        g.then(Op::View(View));
        g.then(Op::Conv(Conv {
            batch: b,
            in_channels: st.mlp,
            out_channels: st.mlp,
            dims: vec![ConvDim::new(h, 3, 1, 1), ConvDim::new(w, 3, 1, 1)],
            groups: st.mlp,
            bias: true,
            transposed: false,
            shared_weights: false,
        }));
        g.then(Op::View(View));
        g.then(Op::Act(Act { kind: self.act }));
        g.then(Op::Dropout(Dropout { p: drop.resid }));
        g.then(lin(rows, st.mlp, d));
        let y = g.then(Op::Dropout(Dropout { p: drop.resid }));
        let y = apply_drop_path(g, y, b, drop_path);
        Ok(g.push(Op::Add(Add), &[y, x]))
    }
}
