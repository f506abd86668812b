//! Stable Diffusion 3's denoiser (keras-hub's `MMDiT`, the `diffuser` of
//! `StableDiffusion3Backbone`) lowered into the op graph: one training step (or forward)
//! on `batch` latents of `image_shape / 8`, the text encoders' and VAE's outputs given as
//! inputs. SD3 training keeps the CLIP, T5 and VAE frozen and usually encodes once: their
//! weights and runs are not part of the step (the noised latent, the text context
//! (`seq` tokens), the pooled CLIP vector and the timestep are the inputs); the loss is
//! the flow-matching MSE against a latent-sized target.
//!
//! Built from the shared ops the transformers lowering uses: biased `Linear`s, a
//! weightless `LayerNorm` modulated by the adaptive norm's shift and scale (`Mul`, `Add`),
//! SiLU and tanh-GELU `Act`s, `RmsNorm` q/k norms, and one `Attention` over the joint
//! sequence (context tokens then image tokens, `torch.cat` copies of q, k, v), split back
//! by views; dual-attention blocks add a second attention over the image tokens alone.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::ops::*;
use super::{mul, Mode, Result, RunSettings};
use crate::formats::keras_hub::mmdit::Mmdit;

/// keras-hub's timestep frequencies (`TimestepEmbedding`'s `frequency_dim`).
const FREQUENCIES: u64 = 256;

/// The graph of one step of `m` on `run.batch` latents with `context` text tokens.
pub fn graph(m: &Mmdit, context: u64, run: &RunSettings) -> Result<Graph> {
    let b = run.batch;
    if run.mode == Mode::Generate {
        return Err(crate::Error::invalid(
            "mode",
            "Stable Diffusion 3 generates no tokens: its denoiser's memory is for --mode train or infer (one denoising step)",
        ));
    }
    if b == 0 || context == 0 {
        return Err(crate::Error::invalid(
            "run",
            "batch and the text context's tokens (--seq) must be positive",
        ));
    }
    let (h, p, c) = (m.hidden, m.patch, m.latent[2]);
    let n = m.tokens();
    let (image_rows, context_rows) = (mul(b, n)?, mul(b, context)?);
    let latent_numel = prod(&[b, m.latent[0], m.latent[1], c])?;
    let mut g = Graph::default();
    let latent = g.input(latent_numel, InputKind::Float);
    let text = g.input(mul(context_rows, m.context)?, InputKind::Float);
    let pooled = g.input(mul(b, m.pooled)?, InputKind::Float);
    // the timestep: read by the sinusoid alone, which needs no gradient
    g.input(b, InputKind::Float);
    // the loss's target, declared before any node: a node's value id counts the inputs
    // before it
    let target = (run.mode == Mode::Train).then(|| g.input(latent_numel, InputKind::Float));
    let lin = |rows: u64, inp: u64, out: u64| Op::Linear(Linear::new(rows, inp, out, true));

    // ---- embeddings: patches plus the cropped position table, the context, and the
    // conditioning vector (timestep MLP + pooled MLP)
    let patches = g.push(
        Op::Conv(Conv {
            batch: b,
            in_channels: c,
            out_channels: h,
            dims: vec![
                ConvDim::new(m.latent[0], p, p, 0),
                ConvDim::new(m.latent[1], p, p, 0),
            ],
            groups: 1,
            bias: true,
            transposed: false,
            shared_weights: false,
        }),
        &[latent],
    );
    let patches = g.push(Op::View(View), &[patches]);
    let positions = g.push(
        Op::Fill(Fill {
            numel: n,
            dtype: Some(DType::I64),
            buffer: None,
        }),
        &[],
    );
    let table = g.push(
        Op::Embedding(Embedding {
            tokens: n,
            vocab: m.position_size * m.position_size,
            dim: h,
            tied: false,
        }),
        &[positions],
    );
    let mut x = g.push(Op::Add(Add), &[patches, table]);
    let mut ctx = g.push(lin(context_rows, m.context, h), &[text]);
    let mlp2 = |g: &mut Graph, input: ValueId, d_in: u64| {
        g.push(lin(b, d_in, h), &[input]);
        let y = g.then(Op::Act(Act {
            kind: ActKind::Silu,
        }));
        g.push(lin(b, h, h), &[y])
    };
    let pooled = mlp2(&mut g, pooled, m.pooled);
    // cos and sin of the timestep times the fixed frequencies
    let freqs = g.push(
        Op::Fill(Fill {
            numel: mul(b, FREQUENCIES)?,
            dtype: Some(DType::F32),
            buffer: None,
        }),
        &[],
    );
    let t = mlp2(&mut g, freqs, FREQUENCIES);
    let cond = g.push(Op::Add(Add), &[t, pooled]);
    let cond = g.push(
        Op::Act(Act {
            kind: ActKind::Silu,
        }),
        &[cond],
    );

    // ---- joint blocks
    let joint_numel = prod(&[b, n + context, h])?;
    for i in 0..m.layers {
        let last = i + 1 == m.layers;
        let start = g.nodes.len();
        let xs = Side::pre(&mut g, m, (x, cond, b), image_rows, true, m.is_dual(i))?;
        let cs = Side::pre(&mut g, m, (ctx, cond, b), context_rows, !last, false)?;
        // `torch.cat` of the context's and the image's heads
        let joint = |g: &mut Graph, a: ValueId, b: ValueId| {
            g.push(
                Op::Copy(Copy {
                    numel: Some(joint_numel),
                }),
                &[a, b],
            )
        };
        let q = joint(&mut g, cs.qkv[0], xs.qkv[0]);
        let k = joint(&mut g, cs.qkv[1], xs.qkv[1]);
        let v = joint(&mut g, cs.qkv[2], xs.qkv[2]);
        let attention = |g: &mut Graph, tokens: u64, q: ValueId, k: ValueId, v: ValueId| {
            let y = g.push(
                Op::Attention(Attention::plain(
                    b,
                    m.heads,
                    tokens,
                    tokens,
                    m.head_dim(),
                    0.0,
                )),
                &[q, k, v],
            );
            // back to (batch, tokens, hidden), then split by slicing: views
            g.push(Op::View(View), &[y])
        };
        let both = attention(&mut g, n + context, q, k, v);
        let second = xs.qkv2.map(|[q2, k2, v2]| attention(&mut g, n, q2, k2, v2));
        x = xs.post(&mut g, m, both, second, image_rows)?;
        if !last {
            ctx = cs.post(&mut g, m, both, None, context_rows)?;
        }
        if run.grad_ckpt {
            g.checkpoint_regions.push((start, g.nodes.len() - 1));
        }
    }

    // ---- output: adaptive norm (shift, scale), the Dense back to patches, unpatch
    let emb = g.push(lin(b, h, 2 * h), &[cond]);
    let x = modulate(&mut g, x, emb, image_rows, h);
    let x = g.push(lin(image_rows, h, p * p * c), &[x]);
    // the reshape and transpose back to (batch, height, width, channels): a copy
    let out = g.push(Op::Copy(Copy::default()), &[x]);
    if let Some(target) = target {
        let diff = g.push(Op::Add(Add), &[out, target]);
        g.push(Op::Cast(Cast { to: DType::F32 }), &[diff]);
        g.then(Op::SquareMean(SquareMean));
        g.train_only_tail = 3;
    }
    g.infer_output = Some(out);
    Ok(g)
}

/// One side (image or context) of a joint block before attention: its q, k, v, and what
/// its post-attention half needs.
struct Side {
    input: ValueId,
    /// The adaptive norm's modulation vector (batch × k·hidden).
    emb: ValueId,
    qkv: [ValueId; 3],
    qkv2: Option<[ValueId; 3]>,
}

impl Side {
    /// `(input, cond, batch)`: the side's tokens, the conditioning vector, its batch.
    fn pre(
        g: &mut Graph,
        m: &Mmdit,
        (input, cond, batch): (ValueId, ValueId, u64),
        rows: u64,
        projection: bool,
        dual: bool,
    ) -> Result<Side> {
        let h = m.hidden;
        let modulations = match (projection, dual) {
            (false, _) => 2,
            (true, false) => 6,
            (true, true) => 9,
        };
        let emb = g.push(
            Op::Linear(Linear::new(batch, h, modulations * h, true)),
            &[cond],
        );
        let x = modulate(g, input, emb, rows, h);
        let heads = qkv(g, m, x, rows)?;
        let qkv2 = if dual {
            // the same normalised input, modulated by the dual attention's shift and scale
            let x2 = modulate(g, input, emb, rows, h);
            Some(qkv(g, m, x2, rows)?)
        } else {
            None
        };
        Ok(Side {
            input,
            emb,
            qkv: heads,
            qkv2,
        })
    }

    /// The gated attention projection(s) and the gated, modulated MLP, each added to the
    /// block's input.
    fn post(
        &self,
        g: &mut Graph,
        m: &Mmdit,
        attention: ValueId,
        second: Option<ValueId>,
        rows: u64,
    ) -> Result<ValueId> {
        let h = m.hidden;
        let proj =
            |g: &mut Graph, y: ValueId| g.push(Op::Linear(Linear::new(rows, h, h, true)), &[y]);
        let gated_add = |g: &mut Graph, x: ValueId, y: ValueId, emb: ValueId| {
            let y = g.push(Op::Mul(Mul), &[y, emb]);
            g.push(Op::Add(Add), &[x, y])
        };
        let y = proj(g, attention);
        let mut x = gated_add(g, self.input, y, self.emb);
        if let Some(second) = second {
            let y = proj(g, second);
            x = gated_add(g, x, y, self.emb);
        }
        let y = modulate(g, x, self.emb, rows, h);
        g.push(Op::Linear(Linear::new(rows, h, m.mlp_hidden(), true)), &[y]);
        let y = g.then(Op::Act(Act {
            kind: ActKind::Gelu,
        }));
        let y = g.push(Op::Linear(Linear::new(rows, m.mlp_hidden(), h, true)), &[y]);
        Ok(gated_add(g, x, y, self.emb))
    }
}

/// q, k and v: keras-hub's fused `attention_qkv` is PyTorch's three biased linears
/// (diffusers' `to_q`, `to_k`, `to_v`: the same weights), split into heads by views, q and
/// k RMS-normed per head when `qk_norm` is set.
fn qkv(g: &mut Graph, m: &Mmdit, x: ValueId, rows: u64) -> Result<[ValueId; 3]> {
    let mut out = [x; 3];
    for (i, slot) in out.iter_mut().enumerate() {
        g.push(
            Op::Linear(Linear::new(rows, m.hidden, m.hidden, true)),
            &[x],
        );
        *slot = g.then(Op::View(View));
        if m.qk_norm && i < 2 {
            *slot = g.push(
                Op::RmsNorm(RmsNorm {
                    rows: mul(rows, m.heads)?,
                    dim: m.head_dim(),
                    keeps_input: false,
                }),
                &[*slot],
            );
        }
    }
    Ok(out)
}

/// `norm(x) * (1 + scale) + shift`: a LayerNorm without weights, then the modulation.
fn modulate(g: &mut Graph, x: ValueId, emb: ValueId, rows: u64, h: u64) -> ValueId {
    let y = g.push(
        Op::LayerNorm(LayerNorm {
            rows,
            dim: h,
            weight: false,
            bias: false,
        }),
        &[x],
    );
    let y = g.push(Op::Mul(Mul), &[y, emb]);
    g.push(Op::Add(Add), &[y, emb])
}
