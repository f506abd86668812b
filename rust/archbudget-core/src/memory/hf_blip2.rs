//! blip-2's image features, lowered before its language model: one step of
//! `Blip2ForConditionalGeneration(pixel_values, input_ids, labels=input_ids)` (or
//! `Blip2Model`'s forward, the same modules and path) on `batch` images whose
//! `num_query_tokens` features replace the first `--seq` ids' embeddings.
//!
//! Computes, as transformers 5.24 runs `get_image_features` and `forward`:
//! - vision: the biased patch convolution, the class token and positions joined
//!   ([`ClsPositions`]); N pre-norm blocks (LayerNorm, fused `qkv` projection whose q, k
//!   and v are views, attention with `attention_dropout`, scores in the inputs' dtype,
//!   `projection`, residual; LayerNorm, fc1, activation, fc2, residual), then
//!   `post_layernorm` on every token; the pooled class token is normed again (the same
//!   module: its weights counted once) and held in the output, off the loss's path;
//! - Q-Former: `query_tokens` expanded to the batch, LayerNorm, dropout, then BERT's
//!   post-norm layers on the queries alone (self-attention, cross-attention on the
//!   patch features every `cross_attention_frequency` layers with key and value read
//!   from the vision width, `intermediate_query` → activation → `output_query`), each
//!   output `dense` → dropout → LayerNorm of the residual sum; no mask (the image mask
//!   is all ones); the text branch (`use_qformer_text_input`) never runs here: its
//!   weights are held, unused;
//! - `language_projection`, cast to the embeddings' dtype, and `masked_scatter` into the
//!   token embeddings at the image-token positions (a new embeddings-sized tensor; the
//!   bool mask is kept for backward). The language model then runs as its own type
//!   (`hf_embed`, `seq2seq`) on those embeddings.
//!
//! Gradient checkpointing (the vision, Q-Former and language layers each a region),
//! generation, LoRA and quantized weights are refused in one line.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf_decoder::norm_op;
use super::hf_dual::{activation, LN};
use super::ops::*;
use super::{add, mul, Precision, Result, RunSettings};
use crate::arch::TransformerArch;
use crate::formats::hf::blip2::{Blip2, QFormer, Vision};

/// The projected query features (batch × queries × the language model's width), the
/// graph's first nodes; checks the run first.
pub(super) fn image_features(
    a: &TransformerArch,
    b2: &Blip2,
    run: &RunSettings,
    g: &mut Graph,
) -> Result<ValueId> {
    if let Some(why) = &b2.refusal {
        return Err(crate::Error::invalid("blip-2", why.as_str()));
    }
    run.refuse_for_encoder("blip-2", "blip-2", "images with a text prompt")?;
    if run.grad_ckpt && run.mode == super::Mode::Train {
        return Err(crate::Error::invalid(
            "blip-2",
            "gradient checkpointing is not lowered for blip-2 yet (its vision, Q-Former and language layers are each a region)",
        ));
    }
    if run.seq < b2.queries {
        return Err(crate::Error::invalid(
            "blip-2",
            format!(
                "--seq ({}) must hold the {} image tokens (num_query_tokens) the prompt starts with",
                run.seq, b2.queries
            ),
        ));
    }
    let image = vision(g, &b2.vision, run.batch)?;
    let v = &b2.vision;
    let queries = qformer(
        g,
        &b2.qformer,
        (b2.queries, v.tokens(), v.hidden),
        run.batch,
        image,
    )?;
    let rows = mul(run.batch, b2.queries)?;
    Ok(g.push(
        Op::Linear(Linear::new(
            rows,
            b2.qformer.hidden,
            a.hidden_size,
            b2.projection_bias,
        )),
        &[queries],
    ))
}

/// `inputs_embeds.masked_scatter(special_image_mask, features)` on `rows` token
/// embeddings, the features first cast to the embeddings' dtype (the weights').
pub(super) fn scatter(
    g: &mut Graph,
    (embeds, features): (ValueId, ValueId),
    rows: u64,
    precision: Precision,
) -> ValueId {
    let to = match precision {
        Precision::Bf16 => DType::BF16,
        _ => DType::F32,
    };
    let f = g.push(Op::Cast(Cast { to }), &[features]);
    // `input_ids == image_token_id`: one bool per token
    g.push(
        Op::Fill(Fill {
            numel: rows,
            dtype: Some(DType::Bool),
            buffer: None,
        }),
        &[],
    );
    g.push(Op::Add(Add), &[embeds, f])
}

/// `Blip2VisionModel` on `b` images: its `last_hidden_state`.
fn vision(g: &mut Graph, v: &Vision, b: u64) -> Result<ValueId> {
    let pixels = g.input(prod(&[b, 3, v.image.0, v.image.1])?, InputKind::Float);
    let conv = g.push(
        Op::Conv(Conv {
            batch: b,
            in_channels: 3,
            out_channels: v.hidden,
            dims: vec![
                ConvDim::new(v.image.0, v.patch.0, v.patch.0, 0),
                ConvDim::new(v.image.1, v.patch.1, v.patch.1, 0),
            ],
            groups: 1,
            bias: v.patch_bias,
            transposed: false,
            shared_weights: false,
        }),
        &[pixels],
    );
    // `.flatten(2).transpose(1, 2)`: a view
    let patches = g.push(Op::View(View), &[conv]);
    let tokens = v.tokens();
    let mut x = g.push(
        Op::ClsPositions(ClsPositions {
            batch: b,
            patches: v.patches(),
            dim: v.hidden,
            tokens: v.class_token as u64,
        }),
        &[patches],
    );
    let rows = mul(b, tokens)?;
    let h = v.hidden;
    for _ in 0..v.layers {
        let n1 = g.push(norm_op(LN, rows, h), &[x]);
        let qkv = g.push(
            Op::Linear(Linear::new(rows, h, mul(3, h)?, v.qkv_bias)),
            &[n1],
        );
        let att = g.push(
            Op::Attention(Attention {
                fused_qkv: true,
                ..Attention::plain(b, v.heads, tokens, tokens, h / v.heads, v.attn_dropout)
            }),
            &[qkv],
        );
        let o = g.push(
            Op::Linear(Linear::new(rows, h, h, v.projection_bias)),
            &[att],
        );
        let mid = g.push(Op::Add(Add), &[o, x]);
        let n2 = g.push(norm_op(LN, rows, h), &[mid]);
        let d = vision_mlp(g, v, rows, n2);
        x = g.push(Op::Add(Add), &[d, mid]);
    }
    let last = g.push(norm_op(LN, rows, h), &[x]);
    // `post_layernorm(last_hidden_state[:, 0, :])`: the same module again, held in the
    // output
    let first = g.push(
        Op::SelectLast(SelectLast {
            out_numel: mul(b, h)?,
        }),
        &[last],
    );
    g.push(Op::Reused(Box::new(norm_op(LN, b, h))), &[first]);
    Ok(last)
}

/// `Blip2MLP`: fc1 → activation → fc2.
fn vision_mlp(g: &mut Graph, v: &Vision, rows: u64, x: ValueId) -> ValueId {
    let f = g.push(
        Op::Linear(Linear::new(rows, v.hidden, v.inter, v.mlp_bias)),
        &[x],
    );
    let f = g.push(
        Op::Act(Act {
            kind: act_kind(&v.act),
        }),
        &[f],
    );
    g.push(
        Op::Linear(Linear::new(rows, v.inter, v.hidden, v.mlp_bias)),
        &[f],
    )
}

/// The activation op of `name` (GELU for CLIP's `quick_gelu`, which BLIP-2 does not use).
fn act_kind(name: &str) -> ActKind {
    match activation(name) {
        super::hf_dual::Activation::Plain(kind) => kind,
        super::hf_dual::Activation::QuickGelu => ActKind::Gelu,
    }
}

/// `Blip2QFormerModel` on the expanded query tokens of `b` images, cross-attending to
/// `image` (`image_tokens` per image, `vision_hidden` wide).
fn qformer(
    g: &mut Graph,
    q: &QFormer,
    (queries, image_tokens, vision_hidden): (u64, u64, u64),
    b: u64,
    image: ValueId,
) -> Result<ValueId> {
    let h = q.hidden;
    let rows = mul(b, queries)?;
    let image_rows = mul(b, image_tokens)?;
    if q.text_input {
        // the text branch's feed-forward (`intermediate`, `output`): held, never run on
        // the queries
        let per_layer = add(add(mul(2, mul(h, q.inter)?)?, q.inter)?, mul(3, h)?)?;
        g.push(
            Op::UnusedParam(UnusedParam {
                numel: mul(per_layer, q.layers)?,
            }),
            &[],
        );
    }
    // `query_tokens.expand(batch, -1, -1)`: a table of the queries read once per image
    let ids = g.push(
        Op::Fill(Fill {
            numel: rows,
            dtype: Some(DType::I64),
            buffer: None,
        }),
        &[],
    );
    let tokens = g.push(
        Op::Embedding(Embedding {
            tokens: rows,
            vocab: queries,
            dim: h,
            tied: false,
        }),
        &[ids],
    );
    let normed = g.push(norm_op(LN, rows, h), &[tokens]);
    let mut x = dropout(g, normed, q.hidden_dropout);
    let inner = mul(q.heads, q.head_dim)?;
    for i in 0..q.layers {
        let att = attend(g, q, (b, queries, queries), x, None)?;
        x = post_norm(g, q, (rows, inner), att, x);
        if q.has_cross_attention(i) {
            let kv = Some((image, image_rows, vision_hidden));
            let att = attend(g, q, (b, queries, image_tokens), x, kv)?;
            x = post_norm(g, q, (rows, inner), att, x);
        }
        let f = g.push(Op::Linear(Linear::new(rows, h, q.inter, true)), &[x]);
        let f = g.push(
            Op::Act(Act {
                kind: act_kind(&q.act),
            }),
            &[f],
        );
        let f = g.push(Op::Linear(Linear::new(rows, q.inter, h, true)), &[f]);
        x = residual_norm(g, q, rows, h, f, x);
    }
    Ok(x)
}

/// `Blip2QFormerMultiHeadAttention`: q from `x`, k and v from `kv` (the image features,
/// their rows and width) or from `x`.
fn attend(
    g: &mut Graph,
    q: &QFormer,
    (b, q_len, kv_len): (u64, u64, u64),
    x: ValueId,
    kv: Option<(ValueId, u64, u64)>,
) -> Result<ValueId> {
    let h = q.hidden;
    let inner = mul(q.heads, q.head_dim)?;
    let rows = mul(b, q_len)?;
    let (source, kv_rows, width) = kv.unwrap_or((x, rows, h));
    let query = g.push(Op::Linear(Linear::new(rows, h, inner, true)), &[x]);
    let key = g.push(
        Op::Linear(Linear::new(kv_rows, width, inner, true)),
        &[source],
    );
    let value = g.push(
        Op::Linear(Linear::new(kv_rows, width, inner, true)),
        &[source],
    );
    Ok(g.push(
        Op::Attention(Attention::plain(
            b,
            q.heads,
            q_len,
            kv_len,
            q.head_dim,
            q.attn_dropout,
        )),
        &[query, key, value],
    ))
}

/// `Blip2QFormerSelfOutput`: `dense` from the heads' width, then [`residual_norm`].
fn post_norm(
    g: &mut Graph,
    q: &QFormer,
    (rows, inner): (u64, u64),
    att: ValueId,
    x: ValueId,
) -> ValueId {
    let o = g.push(Op::Linear(Linear::new(rows, inner, q.hidden, true)), &[att]);
    residual_norm(g, q, rows, q.hidden, o, x)
}

/// dropout → LayerNorm(`y + x`).
fn residual_norm(g: &mut Graph, q: &QFormer, rows: u64, h: u64, y: ValueId, x: ValueId) -> ValueId {
    let y = dropout(g, y, q.hidden_dropout);
    let sum = g.push(Op::Add(Add), &[y, x]);
    g.push(norm_op(LN, rows, h), &[sum])
}

fn dropout(g: &mut Graph, x: ValueId, p: f64) -> ValueId {
    g.push(Op::Dropout(Dropout { p }), &[x])
}
