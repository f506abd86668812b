//! The oracle's model families, built exactly as `gpu_memory.py` builds them.
use super::graph::{Graph, InputKind, ValueId};
use super::ops::*;
use super::{estimate, mul, MemoryReport, Result, RunSettings};

fn positive(v: u64, what: &str) -> Result<u64> {
    if v == 0 {
        return Err(crate::Error::invalid(what, "must be a positive integer"));
    }
    Ok(v)
}

/// More layers than any real network has: the graph holds a node per op and the
/// simulation walks them, so a typo like `depth = 1e9` must not run out of memory.
pub const MAX_LAYERS: u64 = 100_000;

fn at_most_layers(n: u64, what: &str) -> Result<()> {
    if n > MAX_LAYERS {
        return Err(crate::Error::invalid(
            what,
            format!("{n} layers is more than {MAX_LAYERS}"),
        ));
    }
    Ok(())
}

/// The head every family ends with, as gpu_memory.py builds it: `Linear(in_features,
/// classes)` over `rows` samples, then (in training only) cross-entropy against the
/// int64 `labels`.
fn classify(
    mut g: Graph,
    h: ValueId,
    labels: ValueId,
    rows: u64,
    in_features: u64,
    classes: u64,
) -> Graph {
    let logits = g.push(
        Op::Linear(Linear {
            rows,
            in_features,
            out_features: classes,
            bias: true,
            tied_weight: false,
        }),
        &[h],
    );
    g.push(
        Op::CrossEntropy(CrossEntropy {
            rows,
            classes,
            label_copies: vec![],
        }),
        &[logits, labels],
    );
    g.train_only_tail = 1;
    g
}

/// `input_dim → depth × [Linear(width) + ReLU] → Linear(classes)`; input float
/// batch×input_dim, labels int64 batch; cross-entropy loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mlp {
    pub input_dim: u64,
    pub depth: u64,
    pub width: u64,
    pub classes: u64,
}

impl Mlp {
    pub fn graph(&self, batch: u64) -> Result<Graph> {
        let b = positive(batch, "batch")?;
        positive(self.input_dim, "input_dim")?;
        positive(self.width, "width")?;
        positive(self.classes, "classes")?;
        at_most_layers(self.depth, "depth")?;
        let mut g = Graph::default();
        let x = g.input(mul(b, self.input_dim)?, InputKind::Float);
        let y = g.input(b, InputKind::Index);
        let mut d = self.input_dim;
        let mut h = x;
        for _ in 0..self.depth {
            h = g.push(
                Op::Linear(Linear {
                    rows: b,
                    in_features: d,
                    out_features: self.width,
                    bias: true,
                    tied_weight: false,
                }),
                &[h],
            );
            h = g.push(
                Op::Act(Act {
                    kind: ActKind::Relu,
                }),
                &[h],
            );
            d = self.width;
        }
        Ok(classify(g, h, y, b, d, self.classes))
    }

    pub fn estimate(&self, run: &RunSettings) -> Result<MemoryReport> {
        estimate(&self.graph(run.batch)?, run)
    }
}

/// `stages × (convs × [Conv2d 3×3 pad 1 (+BatchNorm2d) + ReLU] + MaxPool2d(2))`, filters
/// doubling per stage, then AdaptiveAvgPool2d(1), Flatten, Linear(classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cnn {
    pub image: u64,
    pub channels: u64,
    pub stages: u64,
    pub convs: u64,
    pub filters: u64,
    pub batchnorm: bool,
    pub classes: u64,
}

impl Cnn {
    pub fn graph(&self, batch: u64) -> Result<Graph> {
        let b = positive(batch, "batch")?;
        positive(self.image, "image")?;
        positive(self.channels, "channels")?;
        positive(self.filters, "filters")?;
        positive(self.classes, "classes")?;
        at_most_layers(self.stages.saturating_mul(self.convs), "stages × convs")?;
        let mut g = Graph::default();
        let x = g.input(
            super::ops::prod(&[b, self.channels, self.image, self.image])?,
            InputKind::Float,
        );
        let y = g.input(b, InputKind::Index);
        let (mut ch, mut f, mut hw) = (self.channels, self.filters, self.image);
        let mut h = x;
        for _ in 0..self.stages {
            for _ in 0..self.convs {
                h = g.push(
                    Op::Conv(Conv {
                        batch: b,
                        in_channels: ch,
                        out_channels: f,
                        dims: vec![ConvDim::new(hw, 3, 1, 1); 2],
                        groups: 1,
                        bias: !self.batchnorm,
                        transposed: false,
                        shared_weights: false,
                    }),
                    &[h],
                );
                if self.batchnorm {
                    h = g.push(Op::BatchNorm2d(BatchNorm2d { channels: f }), &[h]);
                }
                h = g.push(
                    Op::Act(Act {
                        kind: ActKind::Relu,
                    }),
                    &[h],
                );
                ch = f;
            }
            let pool = Pool {
                kind: PoolKind::Max,
                batch: b,
                channels: ch,
                dims: vec![ConvDim::new(hw, 2, 2, 0); 2],
            };
            hw = pool.out_size()?[0];
            h = g.push(Op::Pool(pool), &[h]);
            f = mul(f, 2)?;
        }
        h = g.push(
            Op::GlobalAvgPool(GlobalAvgPool {
                batch: b,
                channels: ch,
            }),
            &[h],
        );
        h = g.push(Op::View(View), &[h]);
        Ok(classify(g, h, y, b, ch, self.classes))
    }

    pub fn estimate(&self, run: &RunSettings) -> Result<MemoryReport> {
        estimate(&self.graph(run.batch)?, run)
    }
}

/// `Embedding(vocab, embed) → LSTM(embed, hidden, layers, batch_first) → h[:, -1] →
/// Linear(classes)`; input int64 batch×seq, labels int64 batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LstmNet {
    pub vocab: u64,
    pub embed: u64,
    pub hidden: u64,
    pub layers: u64,
    pub seq: u64,
    pub classes: u64,
}

impl LstmNet {
    pub fn graph(&self, batch: u64) -> Result<Graph> {
        let b = positive(batch, "batch")?;
        for (v, w) in [
            (self.vocab, "vocab"),
            (self.embed, "embed"),
            (self.hidden, "hidden"),
            (self.layers, "layers"),
            (self.seq, "seq"),
            (self.classes, "classes"),
        ] {
            positive(v, w)?;
        }
        at_most_layers(self.layers, "layers")?;
        let tokens = mul(b, self.seq)?;
        let mut g = Graph::default();
        let x = g.input(tokens, InputKind::Index);
        let y = g.input(b, InputKind::Index);
        let e = g.push(
            Op::Embedding(Embedding {
                tokens,
                vocab: self.vocab,
                dim: self.embed,
                tied: false,
            }),
            &[x],
        );
        let h = g.push(
            Op::Rnn(Rnn {
                kind: RnnKind::Lstm,
                batch: b,
                seq: self.seq,
                input_size: self.embed,
                hidden: self.hidden,
                layers: self.layers,
                bidirectional: false,
                spaces: CudnnRnnSpaces::H100,
            }),
            &[e],
        );
        let last = g.push(
            Op::SelectLast(SelectLast {
                out_numel: mul(b, self.hidden)?,
            }),
            &[h],
        );
        Ok(classify(g, last, y, b, self.hidden, self.classes))
    }

    pub fn estimate(&self, run: &RunSettings) -> Result<MemoryReport> {
        estimate(&self.graph(run.batch)?, run)
    }
}
