//! Flux's denoiser (keras-hub's `FluxBackbone`, also the graph of `FluxTextToImage`)
//! lowered into the op graph: one training step (or forward) of the backbone on `batch`
//! samples, as keras-hub's flux_layers.py computes it. Its inputs are what the backbone
//! takes: the packed image latent's tokens, the text encoder's (T5's) tokens and the
//! pooled text vector `y` (CLIP's), the timestep and, with `guidance_embed`, the guidance
//! scale; the text encoders and the VAE are no part of the backbone and run frozen
//! outside the step, as for Stable Diffusion 3. The loss is the flow-matching MSE against
//! a target of the output's size.
//!
//! Built from the ops the SD3 and transformers lowerings use: biased `Linear`s, SiLU
//! MLP embedders summed into one conditioning vector, `Modulation` (SiLU then a Linear to
//! 6 × hidden, 3 × in the single blocks), LayerNorms modulated by shift and scale (`Mul`,
//! `Add`) and gated residual adds, per-head `RmsNorm` q/k norms, `Rotary` q and k over the
//! joined (text, image) sequence and one `Attention` over it. A double block's fused `qkv`
//! output is split into q, k, v by views; `torch.cat` copies the text's and image's q, k,
//! v. A single block's `linear1` gives q, k, v and the MLP input by views; the attention
//! output and the tanh-GELU of the MLP input are concatenated (a copy) into `linear2`.
//!
//! Where keras-hub's Flux differs from black-forest-labs' and diffusers'
//! (`FluxTransformer2DModel`): its LayerNormalizations keep a gamma and a beta (theirs
//! have no affine weights); its double blocks' MLP is Keras's exact `gelu` (theirs the
//! tanh approximation, same memory); its rotary table carries the batch axis (ids of
//! shape (batch, tokens, axes)); and diffusers splits the fused projections into separate
//! `to_q`, `to_k`, `to_v` and `proj_mlp` linears (the same matmul FLOPs).
use super::graph::{DType, Graph, InputKind, ValueId};
use super::ops::*;
use super::{mul, Mode, Precision, Result, RunSettings};
use crate::formats::keras_hub::flux::{Flux, FREQUENCIES};

/// The graph of one step of `f` on `run.batch` samples of `text` text tokens; `location`
/// names the model in errors.
pub fn graph(f: &Flux, text: u64, run: &RunSettings, location: &str) -> Result<Graph> {
    let b = run.batch;
    if run.mode == Mode::Generate {
        return Err(crate::Error::invalid(
            "mode",
            "Flux generates no tokens: its denoiser's memory is for --mode train or infer (one denoising step)",
        ));
    }
    if b == 0 || text == 0 {
        return Err(crate::Error::invalid(
            "run",
            "batch and the text tokens (--seq) must be positive",
        ));
    }
    let n = f.image_tokens.ok_or_else(|| {
        crate::Error::invalid(
            location,
            "FluxBackbone: memory needs the image tokens: give image_shape (and image_ids_shape) a known token count, the packed latent's patches",
        )
    })?;
    let y = match f.y.as_slice() {
        [Some(y)] => *y,
        _ => {
            return Err(crate::Error::invalid(
                location,
                "FluxBackbone: memory lowers a pooled text vector of one axis (y_shape = (width,)), as FluxBackbone's vector embedder is meant to read",
            ))
        }
    };
    let (h, l) = (f.hidden, n + text);
    let rows = Rows {
        image: mul(b, n)?,
        text: mul(b, text)?,
        joint: mul(b, l)?,
    };
    let mut g = Graph::default();
    let image = g.input(mul(rows.image, f.image_width)?, InputKind::Float);
    let image_ids = g.input(mul(rows.image, f.id_axes)?, InputKind::Float);
    let text_in = g.input(mul(rows.text, f.text_width)?, InputKind::Float);
    let text_ids = g.input(mul(rows.text, f.id_axes)?, InputKind::Float);
    let pooled = g.input(mul(b, y)?, InputKind::Float);
    // the timestep and guidance are read by the sinusoid alone, which needs no gradient
    g.input(b, InputKind::Float);
    if f.guidance {
        g.input(b, InputKind::Float);
    }
    // declared before any node: a node's value id counts the inputs before it
    let target_numel = mul(rows.image, f.channels)?;
    let target = (run.mode == Mode::Train).then(|| g.input(target_numel, InputKind::Float));

    // ---- embeddings: the conditioning vector (timestep, guidance, pooled text), the
    // image and text tokens, and the rotary table of the joined ids
    let mut x = g.push(lin(rows.image, f.image_width, h, true), &[image]);
    let sinusoid = |g: &mut Graph| -> Result<ValueId> {
        Ok(g.push(
            Op::Fill(Fill {
                numel: mul(b, FREQUENCIES)?,
                dtype: Some(DType::F32),
                buffer: None,
            }),
            &[],
        ))
    };
    let embedder = |g: &mut Graph, input: ValueId, d_in: u64| {
        g.push(lin(b, d_in, h, true), &[input]);
        let y = g.then(Op::Act(Act {
            kind: ActKind::Silu,
        }));
        g.push(lin(b, h, h, true), &[y])
    };
    let t = sinusoid(&mut g)?;
    let mut vec = embedder(&mut g, t, FREQUENCIES);
    if f.guidance {
        let t = sinusoid(&mut g)?;
        let e = embedder(&mut g, t, FREQUENCIES);
        vec = g.push(Op::Add(Add), &[vec, e]);
    }
    let v = embedder(&mut g, pooled, y);
    let vec = g.push(Op::Add(Add), &[vec, v]);
    let mut txt = g.push(lin(rows.text, f.text_width, h, true), &[text_in]);
    g.push(
        Op::Copy(Copy {
            numel: Some(mul(rows.joint, f.id_axes)?),
        }),
        &[text_ids, image_ids],
    );
    // (cos, sin) per pair of a head's channels, per token: half a head each
    let pe = g.push(
        Op::Fill(Fill {
            numel: mul(rows.joint, f.head_dim())?,
            dtype: Some(DType::F32),
            buffer: None,
        }),
        &[],
    );
    let s = Step { f, b, l, run, pe };

    // ---- double-stream blocks: image and text each modulated by their own weights,
    // attending together (text tokens first)
    let joint_numel = mul(rows.joint, h)?;
    for _ in 0..f.depth {
        let start = g.nodes.len();
        let image_mod = modulation(&mut g, vec, b, h, 6);
        let text_mod = modulation(&mut g, vec, b, h, 6);
        let image_qkv = s.double_qkv(&mut g, x, image_mod, rows.image)?;
        let text_qkv = s.double_qkv(&mut g, txt, text_mod, rows.text)?;
        let cat = |g: &mut Graph, i: usize| {
            g.push(
                Op::Copy(Copy {
                    numel: Some(joint_numel),
                }),
                &[text_qkv[i], image_qkv[i]],
            )
        };
        let (q, k, v) = (cat(&mut g, 0), cat(&mut g, 1), cat(&mut g, 2));
        let attention = s.attention(&mut g, q, k, v);
        x = s.double_post(&mut g, x, attention, image_mod, rows.image);
        txt = s.double_post(&mut g, txt, attention, text_mod, rows.text);
        if run.grad_ckpt {
            g.checkpoint_regions.push((start, g.nodes.len() - 1));
        }
    }

    // ---- single-stream blocks on the joined tokens
    let mut x = g.push(
        Op::Copy(Copy {
            numel: Some(joint_numel),
        }),
        &[txt, x],
    );
    for _ in 0..f.singles {
        let start = g.nodes.len();
        let m = modulation(&mut g, vec, b, h, 3);
        let y = modulate(&mut g, x, m, rows.joint, h);
        let fused = g.push(lin(rows.joint, h, 3 * h + f.mlp, true), &[y]);
        let [q, k, v] = s.heads(&mut g, fused)?;
        let attention = s.attention(&mut g, q, k, v);
        g.push(
            Op::SelectLast(SelectLast {
                out_numel: mul(rows.joint, f.mlp)?,
            }),
            &[fused],
        );
        let mlp = g.then(Op::Act(Act {
            kind: ActKind::Gelu,
        }));
        g.push(
            Op::Copy(Copy {
                numel: Some(mul(rows.joint, h + f.mlp)?),
            }),
            &[attention, mlp],
        );
        let out = g.then(lin(rows.joint, h + f.mlp, h, true));
        x = gated_add(&mut g, x, out, m);
        if run.grad_ckpt {
            g.checkpoint_regions.push((start, g.nodes.len() - 1));
        }
    }

    // ---- the image tokens through the last layer's adaptive norm and Dense
    let image_tokens = g.push(
        Op::SelectLast(SelectLast {
            out_numel: mul(rows.image, h)?,
        }),
        &[x],
    );
    let m = modulation(&mut g, vec, b, h, 2);
    let y = modulate(&mut g, image_tokens, m, rows.image, h);
    let out = g.push(lin(rows.image, h, f.channels, true), &[y]);
    if let Some(target) = target {
        let diff = g.push(Op::Add(Add), &[out, target]);
        g.push(Op::Cast(Cast { to: DType::F32 }), &[diff]);
        g.then(Op::SquareMean(SquareMean));
        g.train_only_tail = 3;
    }
    g.infer_output = Some(out);
    Ok(g)
}

/// Rows (batch × tokens) of the image, the text and the joined sequence.
struct Rows {
    image: u64,
    text: u64,
    joint: u64,
}

/// What every block reads: the sizes, batch, joined length, run and rotary table.
struct Step<'a> {
    f: &'a Flux,
    b: u64,
    l: u64,
    run: &'a RunSettings,
    pe: ValueId,
}

impl Step<'_> {
    /// A double block's stream before attention: norm1, modulation, the fused `qkv`
    /// (biased with `use_bias`), split into heads and q, k normed.
    fn double_qkv(&self, g: &mut Graph, x: ValueId, m: ValueId, rows: u64) -> Result<[ValueId; 3]> {
        let h = self.f.hidden;
        let y = modulate(g, x, m, rows, h);
        let qkv = g.push(lin(rows, h, 3 * h, self.f.qkv_bias), &[y]);
        self.heads_of(g, qkv, rows)
    }

    /// q, k, v of the joined sequence from a single block's `linear1` output.
    fn heads(&self, g: &mut Graph, fused: ValueId) -> Result<[ValueId; 3]> {
        self.heads_of(g, fused, mul(self.b, self.l)?)
    }

    /// `rearrange_symbolic_tensors` (views) and `QKNorm`: RMS norms of q and k over one
    /// head's width, with their scales.
    fn heads_of(&self, g: &mut Graph, qkv: ValueId, rows: u64) -> Result<[ValueId; 3]> {
        let split = g.push(Op::View(View), &[qkv]);
        let norm = |g: &mut Graph| -> Result<ValueId> {
            Ok(g.push(
                Op::RmsNorm(RmsNorm {
                    rows: mul(rows, self.f.heads)?,
                    dim: self.f.head_dim(),
                    keeps_input: false,
                }),
                &[split],
            ))
        };
        Ok([norm(g)?, norm(g)?, split])
    }

    /// `FluxRoPEAttention`: rotary q and k (the table in fp32, the result back in q's
    /// dtype), scaled-dot-product attention over the joined sequence, and its heads
    /// merged back to (batch, tokens, hidden) by views.
    fn attention(&self, g: &mut Graph, q: ValueId, k: ValueId, v: ValueId) -> ValueId {
        let rotary = |g: &mut Graph, x: ValueId| {
            g.push(Op::Rotary(Rotary), &[x, self.pe, self.pe]);
            if self.run.precision == Precision::Bf16 {
                g.then(Op::Cast(Cast { to: DType::BF16 }))
            } else {
                g.last()
            }
        };
        let (q, k) = (rotary(g, q), rotary(g, k));
        let d = self.f.head_dim();
        g.push(
            Op::Attention(Attention::plain(
                self.b,
                self.f.heads,
                self.l,
                self.l,
                d,
                0.0,
            )),
            &[q, k, v],
        );
        g.then(Op::View(View))
    }

    /// A double block's stream after attention: its part of the attention output through
    /// `proj`, gated into the residual, then norm2, modulation and the exact-GELU MLP,
    /// gated into it again.
    fn double_post(
        &self,
        g: &mut Graph,
        x: ValueId,
        attention: ValueId,
        m: ValueId,
        rows: u64,
    ) -> ValueId {
        let (h, mlp) = (self.f.hidden, self.f.mlp);
        let y = g.push(lin(rows, h, h, true), &[attention]);
        let x = gated_add(g, x, y, m);
        let y = modulate(g, x, m, rows, h);
        g.push(lin(rows, h, mlp, true), &[y]);
        g.then(Op::Act(Act {
            kind: ActKind::Gelu,
        }));
        let y = g.then(lin(rows, mlp, h, true));
        gated_add(g, x, y, m)
    }
}

fn lin(rows: u64, in_features: u64, out_features: u64, bias: bool) -> Op {
    Op::Linear(Linear::new(rows, in_features, out_features, bias))
}

/// keras-hub's `Modulation` (and the last layer's `adaLN_modulation`): SiLU of the
/// conditioning vector, then a Linear to `k` × hidden (shift, scale, gate, ...: views).
fn modulation(g: &mut Graph, vec: ValueId, b: u64, h: u64, k: u64) -> ValueId {
    g.push(
        Op::Act(Act {
            kind: ActKind::Silu,
        }),
        &[vec],
    );
    g.then(lin(b, h, k * h, true))
}

/// `(1 + scale) * norm(x) + shift` with keras-hub's LayerNormalization (gamma and beta).
fn modulate(g: &mut Graph, x: ValueId, m: ValueId, rows: u64, h: u64) -> ValueId {
    let y = g.push(
        Op::LayerNorm(LayerNorm {
            rows,
            dim: h,
            weight: true,
            bias: true,
        }),
        &[x],
    );
    let y = g.push(Op::Mul(Mul), &[y, m]);
    g.push(Op::Add(Add), &[y, m])
}

/// `x + gate * y`.
fn gated_add(g: &mut Graph, x: ValueId, y: ValueId, m: ValueId) -> ValueId {
    let y = g.push(Op::Mul(Mul), &[y, m]);
    g.push(Op::Add(Add), &[x, y])
}
