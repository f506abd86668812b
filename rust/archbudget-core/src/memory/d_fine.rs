//! KerasHub's D-FINE (`DFineBackbone`, `DFineObjectDetector`) as the PyTorch ops of the
//! same layers: keras-hub's port of D-FINE, which transformers' `modeling_d_fine.py` runs
//! op for op (no exact twin there: transformers freezes its extractor's BatchNorms and
//! ties its heads across layers, keras-hub does neither).
//!
//! The `HGNetV2Backbone` extractor is its translated Keras graph (`memory::keras`); then
//! a 1x1 convolution and BatchNorm per level, the hybrid encoder (AIFI transformer layers
//! with 2-D sine positions added to q and k, a top-down FPN and a bottom-up PAN of
//! RepNCSPELAN4 blocks with SCDown downsampling), the decoder's input projections, the
//! query selection (`enc_output`, score and box heads on every token, top-k of the best
//! class score, gathers, the selected queries and boxes detached) and the decoder
//! (`d_fine_decoder`).
//!
//! The train step follows the other KerasHub detectors' convention (`memory::keras`: a
//! cross-entropy per output the model returns, against int64 labels, summed), on the
//! detector's two outputs: the last decoder layer's class logits (`num_labels` classes)
//! and its boxes (4 values) per query. keras-hub's own matching loss (Hungarian matching,
//! focal, FGL and DDF terms) is not modelled.
use super::d_fine_decoder::{decoder, Queries};
use super::graph::{DType, Graph, InputKind, ValueId};
use super::keras::lower_into;
use super::ops::*;
use super::{Mode, Result, RunSettings};
use crate::formats::keras_hub::d_fine::DFine;

/// The graph of ops being built, at one batch size.
pub(super) struct Net {
    pub(super) g: Graph,
    pub(super) batch: u64,
}

/// A feature map: its value, channels, height and width.
#[derive(Clone, Copy)]
struct Map {
    v: ValueId,
    c: u64,
    h: u64,
    w: u64,
}

impl Net {
    pub(super) fn op(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        self.g.push(op, inputs)
    }

    /// A biased `nn.Linear` over `rows` rows.
    pub(super) fn linear(&mut self, x: ValueId, rows: u64, dims: (u64, u64)) -> ValueId {
        self.op(Op::Linear(Linear::new(rows, dims.0, dims.1, true)), &[x])
    }

    pub(super) fn act(&mut self, x: ValueId, kind: ActKind) -> ValueId {
        self.op(Op::Act(Act { kind }), &[x])
    }

    pub(super) fn layer_norm(&mut self, x: ValueId, rows: u64, dim: u64) -> ValueId {
        let norm = LayerNorm {
            rows,
            dim,
            weight: true,
            bias: true,
        };
        self.op(Op::LayerNorm(norm), &[x])
    }

    /// A new tensor of `numel` values made from `inputs` by an op whose backward needs
    /// no input (`cat`, `interpolate`, `contiguous`, `clamp`, a gather, a reduction).
    pub(super) fn copy(&mut self, inputs: &[ValueId], numel: u64) -> ValueId {
        self.op(Op::Copy(Copy { numel: Some(numel) }), inputs)
    }

    /// A tensor without grad of `numel` values: what `detach()` or a computation on
    /// detached tensors gives (the IR has no grad-free alias: a copy of its size).
    pub(super) fn fill(&mut self, inputs: &[ValueId], numel: u64, dtype: Option<DType>) -> ValueId {
        let fill = Fill {
            numel,
            dtype,
            buffer: None,
        };
        self.op(Op::Fill(fill), inputs)
    }

    /// `DFineMLP` / `DFineMLPPredictionHead`: `layers` biased linears with ReLU between.
    pub(super) fn mlp(
        &mut self,
        x: ValueId,
        rows: u64,
        dims: (u64, u64, u64),
        layers: u64,
    ) -> ValueId {
        self.mlp_again(x, rows, dims, layers, false)
    }

    /// [`Net::mlp`], its weights those of an earlier call when `again` (one MLP applied
    /// per decoder layer).
    pub(super) fn mlp_again(
        &mut self,
        x: ValueId,
        rows: u64,
        dims: (u64, u64, u64),
        layers: u64,
        again: bool,
    ) -> ValueId {
        let (input, hidden, out) = dims;
        let mut x = x;
        for i in 0..layers {
            let d_in = if i == 0 { input } else { hidden };
            let d_out = if i + 1 == layers { out } else { hidden };
            let linear = Op::Linear(Linear::new(rows, d_in, d_out, true));
            x = match again {
                true => self.op(Op::Reused(Box::new(linear)), &[x]),
                false => self.op(linear, &[x]),
            };
            if i + 1 < layers {
                x = self.act(x, ActKind::Relu);
            }
        }
        x
    }

    /// The parameters of layers the step does not run: counted, no gradient.
    pub(super) fn unused(&mut self, numel: u64) {
        self.op(Op::UnusedParam(UnusedParam { numel }), &[]);
    }

    /// A bias-free `k`x`k` convolution (`stride`, `groups`, `same` padding) and a
    /// BatchNorm (`DFineConvNormLayer`), then `act`.
    fn conv_bn(
        &mut self,
        x: Map,
        c_out: u64,
        (k, stride, groups): (u64, u64, u64),
        act: Option<ActKind>,
    ) -> Result<Map> {
        let conv = Conv {
            batch: self.batch,
            in_channels: x.c,
            out_channels: c_out,
            dims: vec![
                ConvDim::new(x.h, k, stride, (k - 1) / 2),
                ConvDim::new(x.w, k, stride, (k - 1) / 2),
            ],
            groups,
            bias: false,
            transposed: false,
            shared_weights: false,
        };
        let size = conv.out_size()?;
        let v = self.op(Op::Conv(conv), &[x.v]);
        let mut v = self.op(Op::BatchNorm2d(BatchNorm2d { channels: c_out }), &[v]);
        if let Some(kind) = act {
            v = self.act(v, kind);
        }
        Ok(Map {
            v,
            c: c_out,
            h: size[0],
            w: size[1],
        })
    }

    fn numel(&self, m: &Map) -> Result<u64> {
        prod(&[self.batch, m.c, m.h, m.w])
    }

    /// `torch.cat` of maps along the channels.
    fn cat(&mut self, maps: &[Map]) -> Result<Map> {
        let c = maps.iter().map(|m| m.c).sum();
        let like = Map { c, ..maps[0] };
        let inputs: Vec<ValueId> = maps.iter().map(|m| m.v).collect();
        let v = self.copy(&inputs, self.numel(&like)?);
        Ok(Map { v, ..like })
    }
}

/// `DFineCSPRepLayer` (`c` wide, expansion 1: no `conv3`): two 1x1 ConvNorms with SiLU,
/// the first followed by `blocks` RepVGG blocks (3x3 and 1x1 ConvNorms summed, SiLU),
/// the branches summed.
fn csp_rep(n: &mut Net, x: Map, c: u64, blocks: u64) -> Result<Map> {
    let mut h1 = n.conv_bn(x, c, (1, 1, 1), Some(ActKind::Silu))?;
    for _ in 0..blocks {
        let a = n.conv_bn(h1, c, (3, 1, 1), None)?;
        let b = n.conv_bn(h1, c, (1, 1, 1), None)?;
        let sum = n.op(Op::Add(Add), &[a.v, b.v]);
        h1.v = n.act(sum, ActKind::Silu);
    }
    let h2 = n.conv_bn(x, c, (1, 1, 1), Some(ActKind::Silu))?;
    let v = n.op(Op::Add(Add), &[h1.v, h2.v]);
    Ok(Map { v, ..h1 })
}

/// `DFineFeatureAggregationBlock` (RepNCSPELAN4) on `2e` channels, to `e`.
fn aggregation(n: &mut Net, x: Map, e: u64, c4: u64, blocks: u64) -> Result<Map> {
    let x = n.conv_bn(x, 2 * e, (1, 1, 1), Some(ActKind::Silu))?;
    // split in two halves along the channels: views
    let half = n.numel(&x)? / 2;
    let first = Map {
        v: n.op(Op::SelectLast(SelectLast { out_numel: half }), &[x.v]),
        c: e,
        ..x
    };
    let second = Map {
        v: n.op(Op::SelectLast(SelectLast { out_numel: half }), &[x.v]),
        c: e,
        ..x
    };
    let b1 = csp_rep(n, second, c4, blocks)?;
    let b1 = n.conv_bn(b1, c4, (3, 1, 1), Some(ActKind::Silu))?;
    let b2 = csp_rep(n, b1, c4, blocks)?;
    let b2 = n.conv_bn(b2, c4, (3, 1, 1), Some(ActKind::Silu))?;
    let merged = n.cat(&[first, second, b1, b2])?;
    n.conv_bn(merged, e, (1, 1, 1), Some(ActKind::Silu))
}

/// One AIFI transformer layer (post-norm) on `tokens` tokens `e` wide: q and k read the
/// input plus the positions, v the input.
fn encoder_layer(n: &mut Net, x: ValueId, pos: ValueId, tokens: u64, d: &DFine) -> Result<ValueId> {
    let c = &d.config;
    let (e, heads) = (c.encoder_hidden, c.encoder_heads);
    let rows = n.batch * tokens;
    let qk_in = n.op(Op::Add(Add), &[x, pos]);
    let q = n.linear(qk_in, rows, (e, e));
    let k = n.linear(qk_in, rows, (e, e));
    let v = n.linear(x, rows, (e, e));
    let attention = Attention::plain(n.batch, heads, tokens, tokens, e / heads, 0.0);
    let y = n.op(Op::Attention(attention), &[q, k, v]);
    let y = n.linear(y, rows, (e, e));
    let y = n.op(Op::Add(Add), &[x, y]);
    let x = n.layer_norm(y, rows, e);
    let y = n.linear(x, rows, (e, c.encoder_ffn));
    let y = n.act(y, ActKind::Gelu);
    let y = n.linear(y, rows, (c.encoder_ffn, e));
    let y = n.op(Op::Add(Add), &[x, y]);
    Ok(n.layer_norm(y, rows, e))
}

/// The hybrid encoder on the projected maps: its output map per level.
fn hybrid_encoder(n: &mut Net, mut maps: Vec<Map>, d: &DFine, location: &str) -> Result<Vec<Map>> {
    let c = &d.config;
    let e = c.encoder_hidden;
    if c.encoder_layers > 0 {
        for &level in &c.encode_proj_layers {
            let m = maps[level as usize];
            let tokens = m.h * m.w;
            // the 2-D sine positions, made for the map's size
            let pos = n.fill(&[], tokens * e, None);
            let mut x = n.op(Op::View(View), &[m.v]);
            for _ in 0..c.encoder_layers {
                x = encoder_layer(n, x, pos, tokens, d)?;
            }
            // back to a map: transpose + reshape + contiguous
            let v = n.copy(&[x], n.numel(&m)?);
            maps[level as usize] = Map { v, ..m };
        }
    }
    let c4 = crate::formats::keras_hub::d_fine::aggregation_width(e, c.hidden_expansion);
    let blocks = crate::formats::keras_hub::d_fine::csp_blocks(c);
    let levels = maps.len();
    let mut fpn = vec![maps[levels - 1]];
    for idx in 0..levels - 1 {
        let top = n.conv_bn(fpn[idx], e, (1, 1, 1), None)?;
        fpn[idx] = top;
        let up = Map {
            h: top.h * 2,
            w: top.w * 2,
            ..top
        };
        let up = Map {
            v: n.copy(&[top.v], n.numel(&up)?),
            ..up
        };
        let lower = maps[levels - 2 - idx];
        if (up.h, up.w) != (lower.h, lower.w) {
            return Err(crate::Error::shape(
                location,
                format!(
                    "D-FINE's FPN concatenates a {}x{} map upsampled to {}x{} with a {}x{} one: this image size does not halve evenly through the backbone's levels (use a side divisible by its largest stride, such as a multiple of 32)",
                    top.h, top.w, up.h, up.w, lower.h, lower.w
                ),
            ));
        }
        let fused = n.cat(&[up, lower])?;
        let next = aggregation(n, fused, e, c4, blocks)?;
        fpn.push(next);
    }
    fpn.reverse();
    let mut pan = vec![fpn[0]];
    for idx in 0..levels - 1 {
        let down = n.conv_bn(pan[idx], e, (1, 1, 1), None)?;
        let down = n.conv_bn(down, e, (3, 2, e), None)?;
        let fused = n.cat(&[down, fpn[idx + 1]])?;
        pan.push(aggregation(n, fused, e, c4, blocks)?);
    }
    Ok(pan)
}

/// The decoder's sources: the encoder's maps projected to `hidden_dim` (identities when
/// it is the encoder's width), then strided 3x3 ConvNorms for the extra levels.
fn sources(n: &mut Net, encoded: &[Map], d: &DFine) -> Result<Vec<Map>> {
    let c = &d.config;
    let mut out: Vec<Map> = Vec::new();
    for level in 0..c.feature_levels {
        let from = match level {
            l if l < c.levels => encoded[l],
            l if l == c.levels => encoded[l - 1],
            l => out[l - 1],
        };
        let map = match (c.projects, level < c.levels) {
            (false, _) => from,
            (true, true) => n.conv_bn(from, c.hidden, (1, 1, 1), None)?,
            (true, false) => n.conv_bn(from, c.hidden, (3, 2, 1), None)?,
        };
        out.push(map);
    }
    Ok(out)
}

/// The step's graph of D-FINE `d` as `run` says.
pub fn graph(d: &DFine, run: &RunSettings, location: &str) -> Result<Graph> {
    run.refuse_for_encoder(location, "D-FINE", "images")?;
    let c = &d.config;
    let b = run.batch;
    let train = run.mode == Mode::Train;
    let denoising = d.denoising_queries.filter(|_| train).unwrap_or(0);
    let queries = c.queries + denoising;
    let mut n = Net {
        g: Graph::default(),
        batch: b,
    };
    let [ih, iw, ic] = d.image;
    let pixels = n.g.input(prod(&[b, ih, iw, ic])?, InputKind::Float);
    let rows = b * queries;
    let class_labels = n.g.input(rows, InputKind::Index);
    let box_labels = n.g.input(rows, InputKind::Index);

    let first = n.g.nodes.len();
    let features = lower_into(&mut n.g, &d.extractor, &[pixels], b, false, location)?;
    let mut projected = Vec::with_capacity(d.levels.len());
    for &(output, ch, h, w) in &d.levels {
        let map = Map {
            v: features[output],
            c: ch,
            h,
            w,
        };
        projected.push(n.conv_bn(map, c.encoder_hidden, (1, 1, 1), None)?);
    }
    let encoded = hybrid_encoder(&mut n, projected, d, location)?;
    let sources = sources(&mut n, &encoded, d)?;

    // flattened and concatenated: (batch, tokens, hidden)
    let tokens: u64 = sources.iter().map(|m| m.h * m.w).sum();
    let flat: Vec<ValueId> = sources.iter().map(|m| m.v).collect();
    let h = c.hidden;
    let memory = n.copy(&flat, prod(&[b, tokens, h])?);
    let anchors = n.fill(&[], tokens * 4, None);
    let valid = n.fill(&[], tokens, Some(DType::Bool));
    let masked = n.op(Op::Mul(Mul), &[valid, memory]);
    let all = b * tokens;
    // the proposals reach the decoder only through top-k indices and detached gathers:
    // no gradient reaches these heads' weights (nor optimizer state)
    let proposals = n.g.nodes.len();
    let out_memory = n.linear(masked, all, (h, h));
    let out_memory = n.layer_norm(out_memory, all, h);
    let scores = n.linear(out_memory, all, (h, c.labels));
    let boxes = n.mlp(out_memory, all, (h, h, 4), 3);
    let end = n.g.nodes.len();
    n.g.freeze(proposals..end);
    let boxes = n.op(Op::Add(Add), &[boxes, anchors]);
    // top-k of each token's best class score
    let best = n.copy(&[scores], all);
    let top = n.fill(&[best], b * c.queries, Some(DType::I64));
    let reference = n.copy(&[boxes, top], b * c.queries * 4);
    let enc_boxes = n.act(reference, ActKind::Sigmoid);
    let enc_logits = n.copy(&[scores, top], b * c.queries * c.labels);
    let target = if d.learned_queries {
        let tile = Embedding {
            tokens: b * c.queries,
            vocab: c.queries,
            dim: h,
            tied: false,
        };
        n.op(Op::Embedding(tile), &[top])
    } else {
        let gathered = n.copy(&[out_memory, top], b * c.queries * h);
        n.fill(&[gathered], b * c.queries * h, None)
    };
    let (target, reference) = match denoising {
        0 => (target, reference),
        dn => {
            let embed = Embedding {
                tokens: b * dn,
                vocab: c.labels + 1,
                dim: h,
                tied: false,
            };
            let classes = n.op(Op::Embedding(embed), &[class_labels]);
            let dn_boxes = n.fill(&[box_labels], b * dn * 4, None);
            (
                n.copy(&[classes, target], rows * h),
                n.copy(&[dn_boxes, reference], rows * 4),
            )
        }
    };
    if c.denoising && denoising == 0 {
        // built with num_denoising > 0: the class table the denoising queries read
        n.unused((c.labels + 1) * h);
    }
    let reference = n.fill(&[reference], rows * 4, None);
    let levels: Vec<(u64, u64)> = sources.iter().map(|m| (m.h, m.w)).collect();
    let q = Queries {
        target,
        reference,
        memory,
        levels,
        queries,
    };
    let (logits, pred_boxes) = decoder(&mut n, &q, d, train)?;
    // the encoder's proposals are outputs too: kept with the decoder's
    n.g.forward_held.extend([enc_boxes, enc_logits]);
    if d.frozen {
        let last = n.g.nodes.len();
        n.g.freeze(first..last);
    }
    n.g.infer_output = Some(logits);
    let first_loss = n.g.nodes.len();
    let mut total = None;
    for (output, classes, labels) in [
        (logits, c.labels, class_labels),
        (pred_boxes, 4, box_labels),
    ] {
        let ce = CrossEntropy {
            rows,
            classes,
            label_copies: vec![],
        };
        let loss = n.op(Op::CrossEntropy(ce), &[output, labels]);
        total = Some(match total {
            None => loss,
            Some(sum) => n.op(Op::Add(Add), &[sum, loss]),
        });
    }
    n.g.train_only_tail = n.g.nodes.len() - first_loss;
    Ok(n.g)
}
