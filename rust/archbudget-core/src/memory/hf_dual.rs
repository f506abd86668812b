//! The dual encoders clip and siglip lowered into the op graph: one step of
//! `model(input_ids, pixel_values, return_loss=True)` on `batch` images and `batch` texts
//! of `seq` tokens (inference: the forward without the loss).
//!
//! Computes, as transformers 5.x runs `CLIPModel` / `SiglipModel`:
//! - vision: the patch convolution; CLIP joins the class embedding and adds positions
//!   (`ClsPositions`), then `pre_layrnorm`; SigLIP adds `position_embedding(position_ids)`;
//!   N pre-norm blocks; CLIP normalises the class token alone (`post_layernorm` on
//!   `[:, 0]`), SigLIP every patch, then its pooling head (a probe attending over the
//!   patches through `nn.MultiheadAttention`, eager since it returns weights, LayerNorm
//!   and MLP on the probe);
//! - text: token and position embeddings, N blocks (CLIP's causal), `final_layer_norm`;
//!   CLIP gathers the EOS token (`argmax` of `input_ids == eos`: a new tensor), SigLIP
//!   takes the last token and its `head` Linear;
//! - head: CLIP projects both (bias-free), divides each by its norm, `text @ image.T`
//!   scaled by `logit_scale.exp()`; the loss is cross-entropy over rows and over columns
//!   against `arange(batch)`. SigLIP scales and adds `logit_bias`; its sigmoid loss is
//!   lowered as elementwise ops on the batch×batch logits (negligible beside the towers).
//!
//! The text tower alone (`CLIPTextModel`, `SiglipTextModel`) runs the same text path and
//! takes the protocol's loss on its `last_hidden_state`.
//!
//! `quick_gelu` (CLIP's activation, `x * sigmoid(1.702 x)`) is three ops: a scaled copy,
//! the sigmoid (which keeps its output) and the product (which keeps both factors).
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf_decoder::norm_op;
use super::ops::*;
use super::{add, mul, Result, RunSettings};
use crate::arch::{DualEncoder, NormKind, TowerFamily, TransformerArch, VisionOutput, VisionTower};

/// One encoder stack's shape.
struct Stack {
    rows: u64,
    batch: u64,
    seq: u64,
    hidden: u64,
    inter: u64,
    heads: u64,
    causal: bool,
    act: Activation,
}

#[derive(Clone, Copy)]
pub(super) enum Activation {
    QuickGelu,
    Plain(ActKind),
}

pub(super) fn activation(name: &str) -> Activation {
    match name {
        "quick_gelu" => Activation::QuickGelu,
        "relu" => Activation::Plain(ActKind::Relu),
        "silu" | "swish" => Activation::Plain(ActKind::Silu),
        "gelu_new" => Activation::Plain(ActKind::GeluPython),
        _ => Activation::Plain(ActKind::Gelu),
    }
}

pub fn graph(a: &TransformerArch, de: &DualEncoder, run: &RunSettings) -> Result<Graph> {
    if a.model_type.ends_with("_text_model") {
        return text_model_graph(a, de, run);
    }
    let here = de.model_type.as_str();
    check_text_run(
        a,
        run,
        here,
        "the dual encoders (clip, siglip)",
        "images and texts",
    )?;
    if de.tower.family == TowerFamily::Siglip && !de.tower.pooling_head {
        return Err(crate::Error::invalid(
            here,
            "SiglipModel's forward needs the vision tower's pooled output: set vision_use_head to true (transformers fails without it)",
        ));
    }
    let (b, s) = (run.batch, run.seq);
    let eager = run.attn == AttnImpl::Eager;
    let clip = de.tower.family == TowerFamily::Clip;
    let mut g = Graph::default();

    // ---- vision tower
    let t = &de.tower;
    // both inputs before any node: a value's id counts the inputs before it
    let pixels = g.input(
        prod(&[b, t.num_channels, t.image_size, t.image_size])?,
        InputKind::Float,
    );
    let ids = g.input(mul(b, s)?, InputKind::Index);
    let image_features = vision_tower(
        &mut g,
        t,
        &a.activation,
        (b, pixels),
        eager,
        VisionOutput::LastHidden,
    )?
    .pooled
    .ok_or_else(|| crate::Error::Internal("siglip tower without its head".into()))?;

    let (_, text_features) = text_tower(&mut g, a, de, ids, (b, s), eager)?;

    // ---- contrastive head
    let (image_embeds, text_embeds, width) = if clip {
        let p = de.projection_dim;
        let i = g.push(
            Op::Linear(Linear::new(b, t.hidden_size, p, false)),
            &[image_features],
        );
        let t = g.push(
            Op::Linear(Linear::new(b, a.hidden_size, p, false)),
            &[text_features],
        );
        (i, t, p)
    } else {
        (image_features, text_features, de.projection_dim)
    };
    let image_embeds = g.push(Op::Normalize(Normalize { rows: b }), &[image_embeds]);
    let text_embeds = g.push(Op::Normalize(Normalize { rows: b }), &[text_embeds]);
    let sims = g.push(
        Op::Matmul(Matmul {
            batch: 1,
            m: b,
            k: width,
            n: b,
        }),
        &[text_embeds, image_embeds],
    );
    // `* logit_scale.exp()` (siglip also `+ logit_bias`): one-element parameters
    let mut logits = g.push(Op::Scale(Scale { numel: 1 }), &[sims]);
    if !clip {
        logits = g.push(Op::Scale(Scale { numel: 1 }), &[logits]);
    }
    g.infer_output = Some(logits);
    let tail_start = g.nodes.len();
    if clip {
        let labels = g.push(
            Op::Fill(Fill {
                numel: b,
                dtype: Some(DType::I64),
                buffer: None,
            }),
            &[],
        );
        for _ in 0..2 {
            g.push(
                Op::CrossEntropy(CrossEntropy {
                    rows: b,
                    classes: b,
                    label_copies: Vec::new(),
                }),
                &[logits, labels],
            );
        }
    } else {
        // `logsigmoid(m1_diag1 * logits)`, summed and averaged
        let signs = g.push(
            Op::Fill(Fill {
                numel: mul(b, b)?,
                dtype: None,
                buffer: None,
            }),
            &[],
        );
        let signed = g.push(Op::Mul(Mul), &[signs, logits]);
        let loglik = g.push(
            Op::Act(Act {
                kind: ActKind::Sigmoid,
            }),
            &[signed],
        );
        g.push(Op::SquareMean(SquareMean), &[loglik]);
    }
    g.train_only_tail = g.nodes.len() - tail_start;
    Ok(g)
}

/// What a vision tower gives: `last_hidden_state` (CLIP's before `post_layernorm`,
/// SigLIP's after) and the pooled features (CLIP's class token normalised, SigLIP's
/// pooling head; `None` without the head).
pub(super) struct TowerOutput {
    pub last_hidden: ValueId,
    pub pooled: Option<ValueId>,
}
/// The text tower on `ids` (batch × seq tokens): the final LayerNorm's output and the
/// pooled features (CLIP's EOS token, SigLIP's last token through its `head`).
fn text_tower(
    g: &mut Graph,
    a: &TransformerArch,
    de: &DualEncoder,
    ids: ValueId,
    (b, s): (u64, u64),
    eager: bool,
) -> Result<(ValueId, ValueId)> {
    let clip = de.tower.family == TowerFamily::Clip;
    let text = Stack {
        rows: mul(b, s)?,
        batch: b,
        seq: s,
        hidden: a.hidden_size,
        inter: a.intermediate_size,
        heads: a.num_heads,
        causal: clip,
        act: activation(&a.activation),
    };
    let tok = g.push(
        Op::Embedding(Embedding {
            tokens: text.rows,
            vocab: a.vocab_size,
            dim: a.hidden_size,
            tied: false,
        }),
        &[ids],
    );
    let pid = position_ids(g, a.max_positions);
    let pos = g.push(
        Op::Embedding(Embedding {
            tokens: s,
            vocab: a.max_positions,
            dim: a.hidden_size,
            tied: false,
        }),
        &[pid],
    );
    let mut x = g.push(Op::Add(Add), &[tok, pos]);
    for _ in 0..a.num_layers {
        x = block(g, &text, x, eager)?;
    }
    x = g.push(norm_op(LN, text.rows, a.hidden_size), &[x]);
    // one token per text (CLIP's EOS, SigLIP's last): its backward makes a zero gradient
    // of the whole sequence
    let pooled = g.push(
        Op::SelectLast(SelectLast {
            out_numel: mul(b, a.hidden_size)?,
        }),
        &[x],
    );
    let text_features = if clip {
        pooled
    } else {
        g.push(
            Op::Linear(Linear::new(b, a.hidden_size, de.projection_dim, true)),
            &[pooled],
        )
    };
    Ok((x, text_features))
}

/// What a run of a model with a text encoder may not ask: LoRA or quantized weights
/// (not lowered for `what`), generation (it encodes `encodes`), a sequence longer than
/// the text encoder's positions.
fn check_text_run(
    a: &TransformerArch,
    run: &RunSettings,
    here: &str,
    what: &str,
    encodes: &str,
) -> Result<()> {
    run.refuse_for_encoder(here, what, encodes)?;
    if run.seq > a.max_positions {
        return Err(crate::Error::invalid(
            here,
            format!(
                "--seq {} is longer than the text encoder's {} positions (max_position_embeddings)",
                run.seq, a.max_positions
            ),
        ));
    }
    Ok(())
}

/// `CLIPTextModel` / `SiglipTextModel` alone: the text tower on batch × seq tokens, the
/// protocol's loss on `last_hidden_state` (the pooled output is made, off its path).
fn text_model_graph(a: &TransformerArch, de: &DualEncoder, run: &RunSettings) -> Result<Graph> {
    check_text_run(
        a,
        run,
        &a.model_type,
        "the text encoders (clip, siglip)",
        "texts",
    )?;
    let (b, s) = (run.batch, run.seq);
    let mut g = Graph::default();
    let ids = g.input(mul(b, s)?, InputKind::Index);
    let (x, _) = text_tower(&mut g, a, de, ids, (b, s), run.attn == AttnImpl::Eager)?;
    let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[x]);
    g.push(Op::SquareMean(SquareMean), &[hf]);
    g.train_only_tail = 2;
    g.infer_output = Some(x);
    Ok(g)
}

/// The CLIP or SigLIP vision tower on `b` images read from `pixels`, as
/// `CLIPVisionModel` / `SiglipVisionModel` run it (the dual encoders' and the towers'
/// alone) for `output`'s [`VisionOutput::LastHidden`]; a CLIP tower's other outputs have
/// no pooled class token: its final norm on every token (keras-hub's CLIPVisionEncoder,
/// whose `last_hidden` is then that norm's output) or no final norm at all (keras-hub's
/// MetaCLIP2VisionEncoder).
pub(super) fn vision_tower(
    g: &mut Graph,
    t: &VisionTower,
    act: &str,
    (b, pixels): (u64, ValueId),
    eager: bool,
    output: VisionOutput,
) -> Result<TowerOutput> {
    let clip = t.family == TowerFamily::Clip;
    let side = t.image_size / t.patch_size;
    let patches = mul(side, side)?;
    let slots = if clip { add(patches, 1)? } else { patches };
    let conv = g.push(
        Op::Conv(Conv {
            batch: b,
            in_channels: t.num_channels,
            out_channels: t.hidden_size,
            dims: vec![
                ConvDim::new(t.image_size, t.patch_size, t.patch_size, 0),
                ConvDim::new(t.image_size, t.patch_size, t.patch_size, 0),
            ],
            groups: 1,
            bias: !clip,
            transposed: false,
            shared_weights: false,
        }),
        &[pixels],
    );
    let tokens = g.push(Op::View(View), &[conv]);
    let vision = Stack {
        rows: mul(b, slots)?,
        batch: b,
        seq: slots,
        hidden: t.hidden_size,
        inter: t.intermediate_size,
        heads: t.num_heads,
        causal: false,
        act: activation(act),
    };
    // the `position_ids` buffer; CLIP's positions are added with its class embedding
    let vision_ids = position_ids(g, slots);
    let mut v = if clip {
        let joined = g.push(
            Op::ClsPositions(ClsPositions {
                batch: b,
                patches,
                dim: t.hidden_size,
                tokens: 1,
            }),
            &[tokens],
        );
        g.push(norm_op(LN, vision.rows, t.hidden_size), &[joined])
    } else {
        let pos = g.push(
            Op::Embedding(Embedding {
                tokens: slots,
                vocab: slots,
                dim: t.hidden_size,
                tied: false,
            }),
            &[vision_ids],
        );
        g.push(Op::Add(Add), &[tokens, pos])
    };
    for _ in 0..t.num_layers {
        v = block(g, &vision, v, eager)?;
    }
    if clip && output == VisionOutput::EveryTokenNormed {
        return Ok(TowerOutput {
            last_hidden: g.push(norm_op(LN, vision.rows, t.hidden_size), &[v]),
            pooled: None,
        });
    }
    if clip && output == VisionOutput::LastHiddenUnpooled {
        return Ok(TowerOutput {
            last_hidden: v,
            pooled: None,
        });
    }
    if clip {
        let first = g.push(
            Op::SelectLast(SelectLast {
                out_numel: mul(b, t.hidden_size)?,
            }),
            &[v],
        );
        let pooled = g.push(norm_op(LN, b, t.hidden_size), &[first]);
        return Ok(TowerOutput {
            last_hidden: v,
            pooled: Some(pooled),
        });
    }
    let normed = g.push(norm_op(LN, vision.rows, t.hidden_size), &[v]);
    let pooled = match t.pooling_head {
        true => Some(pooling_head(g, &vision, normed)?),
        false => None,
    };
    Ok(TowerOutput {
        last_hidden: normed,
        pooled,
    })
}

pub(super) const LN: NormKind = NormKind::LayerNorm { bias: true };

/// The `position_ids` buffer (`int64`, one per position), sliced as a view.
fn position_ids(g: &mut Graph, positions: u64) -> ValueId {
    g.push(
        Op::Fill(Fill {
            numel: 0,
            dtype: Some(DType::I64),
            buffer: Some((positions, DType::I64)),
        }),
        &[],
    )
}

/// One pre-norm encoder block (`CLIPEncoderLayer`, `SiglipEncoderLayer`).
fn block(g: &mut Graph, st: &Stack, x: ValueId, eager: bool) -> Result<ValueId> {
    let h = st.hidden;
    let n1 = g.push(norm_op(LN, st.rows, h), &[x]);
    let q = g.push(Op::Linear(Linear::new(st.rows, h, h, true)), &[n1]);
    let k = g.push(Op::Linear(Linear::new(st.rows, h, h, true)), &[n1]);
    let v = g.push(Op::Linear(Linear::new(st.rows, h, h, true)), &[n1]);
    let mut ins = vec![q, k, v];
    // eager causal attention adds a float mask batch×1×S×S made by `create_causal_mask`
    let eager_mask = eager && st.causal;
    if eager_mask {
        ins.push(g.push(
            Op::Fill(Fill {
                numel: prod(&[st.batch, st.seq, st.seq])?,
                dtype: None,
                buffer: None,
            }),
            &[],
        ));
    }
    let att = g.push(
        Op::Attention(Attention {
            causal: st.causal,
            eager_mask,
            softmax_fp32: true,
            ..Attention::plain(st.batch, st.heads, st.seq, st.seq, h / st.heads, 0.0)
        }),
        &ins,
    );
    let o = g.push(Op::Linear(Linear::new(st.rows, h, h, true)), &[att]);
    let mid = g.push(Op::Add(Add), &[x, o]);
    let n2 = g.push(norm_op(LN, st.rows, h), &[mid]);
    let d = mlp(g, st.rows, h, st.inter, st.act, n2);
    Ok(g.push(Op::Add(Add), &[mid, d]))
}

/// fc1 → activation → fc2, biased.
pub(super) fn mlp(
    g: &mut Graph,
    rows: u64,
    h: u64,
    inter: u64,
    act: Activation,
    x: ValueId,
) -> ValueId {
    let f = g.push(Op::Linear(Linear::new(rows, h, inter, true)), &[x]);
    let a = match act {
        Activation::Plain(kind) => g.push(Op::Act(Act { kind }), &[f]),
        Activation::QuickGelu => {
            // `1.702 * x`: a new tensor, nothing saved
            let scaled = g.push(Op::Add(Add), &[f]);
            let sig = g.push(
                Op::Act(Act {
                    kind: ActKind::Sigmoid,
                }),
                &[scaled],
            );
            g.push(Op::Mul(Mul), &[f, sig])
        }
    };
    g.push(Op::Linear(Linear::new(rows, inter, h, true)), &[a])
}

/// `SiglipMultiheadAttentionPoolingHead`: the probe (batch×1×hidden) attends over the
/// patches (q from the probe, k and v from the patches through the packed in-projection),
/// then `out_proj`, LayerNorm and the MLP with a residual, on one row per image.
fn pooling_head(g: &mut Graph, st: &Stack, x: ValueId) -> Result<ValueId> {
    let (b, h) = (st.batch, st.hidden);
    // `probe.repeat(batch, 1, 1)`: as a one-row table looked up once per image
    let row = g.push(
        Op::Fill(Fill {
            numel: b,
            dtype: Some(DType::I64),
            buffer: None,
        }),
        &[],
    );
    let probe = g.push(
        Op::Embedding(Embedding {
            tokens: b,
            vocab: 1,
            dim: h,
            tied: false,
        }),
        &[row],
    );
    let q = g.push(Op::Linear(Linear::new(b, h, h, true)), &[probe]);
    let k = g.push(Op::Linear(Linear::new(st.rows, h, h, true)), &[x]);
    let v = g.push(Op::Linear(Linear::new(st.rows, h, h, true)), &[x]);
    let att = g.push(
        Op::Attention(Attention {
            // `nn.MultiheadAttention` returns the weights: bmm and softmax, never SDPA
            eager_only: true,
            ..Attention::plain(b, st.heads, 1, st.seq, h / st.heads, 0.0)
        }),
        &[q, k, v],
    );
    let o = g.push(Op::Linear(Linear::new(b, h, h, true)), &[att]);
    let n = g.push(norm_op(LN, b, h), &[o]);
    let d = mlp(g, b, h, st.inter, st.act, n);
    Ok(g.push(Op::Add(Add), &[o, d]))
}
