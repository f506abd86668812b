//! The embeddings of a transformers stack and the masks its layers share: token,
//! token-type and position embeddings (or a vision transformer's patches), the rotary
//! tables, and the causal / ALiBi / sliding-window masks made once per forward.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Step;
use super::hf_decoder::window_mask;
use super::lora::{Linears, Module};
use super::ops::*;
use super::{mul, Result};
use crate::arch::{AttentionSpan, LayerMixer, Position, TransformerArch};

/// A cos/sin pair of rotary tables.
pub(super) type CosSin = (ValueId, ValueId);

/// What the embeddings hand the layers.
pub(super) struct Embedded {
    /// The step's input: token ids, or a vision transformer's pixels.
    pub ids: ValueId,
    pub h: ValueId,
    /// The rotary tables of the first kind of layer.
    pub cos_sin: Option<CosSin>,
    /// The tables of the other kinds, where the type builds one per kind of layer.
    pub other_cos_sin: Vec<(std::mem::Discriminant<AttentionSpan>, CosSin)>,
}

/// The masks made once per forward, which every layer reads.
#[derive(Clone, Copy)]
pub(super) struct Masks {
    /// The causal mask, or falcon's causal mask with the ALiBi biases folded in.
    pub causal: Option<ValueId>,
    /// The sliding-window / chunked layers' own mask, where one is made.
    pub windowed: Option<ValueId>,
    /// falcon's ALiBi biases travel in `causal` (SDPA's `attn_mask`).
    pub alibi: bool,
}

/// The embeddings, up to the hidden state the first layer reads.
pub(super) fn embeddings(st: &Step, g: &mut Graph, lx: &mut Linears) -> Result<Embedded> {
    let (a, b, s, rows) = (st.a, st.batch, st.seq, st.rows);
    let hsz = a.hidden_size;
    let mut cos_sin = None;
    let mut other_cos_sin = Vec::new();
    let (ids, mut h) =
        match a.vision {
            Some(v) => {
                let pixels = g.input(
                    prod(&[b, v.num_channels, v.image_size.0, v.image_size.1])?,
                    InputKind::Float,
                );
                let patches = g.push(
                    Op::Conv(Conv {
                        batch: b,
                        in_channels: v.num_channels,
                        out_channels: hsz,
                        dims: vec![
                            ConvDim::new(v.image_size.0, v.patch_size.0, v.patch_size.0, 0),
                            ConvDim::new(v.image_size.1, v.patch_size.1, v.patch_size.1, 0),
                        ],
                        groups: 1,
                        bias: v.patch_bias,
                        transposed: false,
                        shared_weights: false,
                    }),
                    &[pixels],
                );
                // `.flatten(2).transpose(1, 2)`: a view
                let tokens = g.push(Op::View(View), &[patches]);
                let h = g.push(
                    Op::ClsPositions(ClsPositions {
                        batch: b,
                        patches: v.num_patches,
                        dim: hsz,
                        tokens: v.class_tokens,
                    }),
                    &[tokens],
                );
                (pixels, h)
            }
            None => {
                let ids = match st.image_features {
                    Some((ids, _)) => ids,
                    None => g.input(rows, InputKind::Index),
                };
                let mut h = g.push(
                    Op::Embedding(Embedding {
                        tokens: rows,
                        vocab: a.vocab_size,
                        dim: a.embed_dim,
                        tied: false,
                    }),
                    &[ids],
                );
                if let Some((_, features)) = st.image_features {
                    // blip-2's image features in place of the image tokens' embeddings
                    h = super::hf_blip2::scatter(g, (h, features), rows, st.run.precision);
                }
                if matches!(a.model_type.as_str(), "gemma" | "gemma2" | "gemma3_text") {
                    // `GemmaTextScaledWordEmbedding`: the lookup times its `embed_scale`
                    // buffer (cast to the weights' dtype), a new tensor
                    g.push(
                        Op::Fill(Fill {
                            numel: 1,
                            dtype: None,
                            buffer: Some((1, DType::F32)),
                        }),
                        &[],
                    );
                    h = g.push(Op::Add(Add), &[h]);
                }
                if a.type_vocab_size > 0 {
                    // token_type_ids default to a zero buffer, expanded over the batch
                    let tt = g.push(
                        Op::Fill(Fill {
                            numel: rows,
                            dtype: Some(DType::I64),
                            buffer: Some((a.max_positions, DType::I64)),
                        }),
                        &[],
                    );
                    let t = g.push(
                        Op::Embedding(Embedding {
                            tokens: rows,
                            vocab: a.type_vocab_size,
                            dim: hsz,
                            tied: false,
                        }),
                        &[tt],
                    );
                    h = g.push(Op::Add(Add), &[h, t]);
                }
                match a.position {
                    Position::Learned { rows: prow } => {
                        // BERT registers `position_ids` as a buffer; GPT-2 makes an arange per call
                        let buf = (a.type_vocab_size > 0).then_some((a.max_positions, DType::I64));
                        let pid = g.push(
                            Op::Fill(Fill {
                                numel: s,
                                dtype: Some(DType::I64),
                                buffer: buf,
                            }),
                            &[],
                        );
                        let p = g.push(
                            Op::Embedding(Embedding {
                                tokens: s,
                                vocab: prow,
                                dim: hsz,
                                tied: false,
                            }),
                            &[pid],
                        );
                        if a.embed_dim != hsz {
                            // OPT's `project_in` (no bias) when `word_embed_proj_dim` differs
                            let m = Module::linear("project_in");
                            h = lx.push(g, m, st.lin(a.embed_dim, hsz, false), h)?;
                        }
                        h = g.push(Op::Add(Add), &[h, p]);
                    }
                    Position::Rotary | Position::Alibi => {
                        // falcon builds its rotary module with ALiBi too and computes cos/sin
                        // every forward, unused
                        let n = mul(s, a.rotary_dim())?;
                        // `inv_freq` and `original_inv_freq` (rotary_dim/2 each) are the rotary
                        // module's buffers; one pair, and one cos/sin, per kind of layer
                        // where the type builds them per layer type
                        for (t, span) in rotary_tables(a).into_iter().enumerate() {
                            let mut table = || {
                                g.push(
                                    Op::Fill(Fill {
                                        numel: n,
                                        dtype: None,
                                        buffer: Some((a.rotary_dim() / 2, DType::F32)),
                                    }),
                                    &[],
                                )
                            };
                            let pair = (table(), table());
                            match (a.position, t) {
                                (Position::Rotary, 0) => cos_sin = Some(pair),
                                (Position::Rotary, _) => other_cos_sin.push((span, pair)),
                                _ => {}
                            }
                        }
                    }
                    Position::None => {}
                    Position::RelativeBuckets { .. } => return Err(crate::Error::invalid(
                        a.model_type.as_str(),
                        "the memory model does not lower relative position buckets outside t5 yet",
                    )),
                }
                (ids, h)
            }
        };
    // falcon_h1's `embed_tokens(ids) * embedding_multiplier`
    if a.details.ssm.is_some_and(|s| s.mup) {
        h = g.push(Op::Add(Add), &[h]);
    }
    // the embeddings' LayerNorm of post-norm encoders (bert) and of bloom; post-norm OPT
    // has none
    if (!a.pre_norm && !st.decoder) || a.details.embed_norm {
        h = g.push(st.ln(rows), &[h]);
    }
    if st.drop.embed > 0.0 {
        h = g.push(Op::Dropout(Dropout { p: st.drop.embed }), &[h]);
    }
    Ok(Embedded {
        ids,
        h,
        cos_sin,
        other_cos_sin,
    })
}

/// The masks the layers share, made after the embeddings.
pub(super) fn masks(st: &Step, g: &mut Graph) -> Result<Masks> {
    let (a, b, s) = (st.a, st.batch, st.seq);
    // falcon with ALiBi: the model materialises the causal mask (`allow_is_causal_skip=
    // False`) and folds the scaled ALiBi biases into it, `masked_fill(alibi / sqrt(head_dim),
    // causal_mask < -1, min)`: one batch×heads×S×S float tensor (the embeddings' dtype)
    // alive all forward, which every layer adds to its scores (SDPA's `attn_mask`)
    // bloom instead builds batch·heads×1×S slopes × positions, added to every layer's
    // scores by `baddbmm`, beside the model's eager causal mask
    let alibi = a.position == Position::Alibi && !st.bloom;
    if st.bloom {
        let slopes = g.push(
            Op::Fill(Fill {
                numel: prod(&[b, a.num_heads, s])?,
                dtype: None,
                buffer: None,
            }),
            &[],
        );
        g.forward_held.push(slopes);
    }
    let causal = if alibi {
        Some(g.push(
            Op::Fill(Fill {
                numel: prod(&[b, a.num_heads, s, s])?,
                dtype: None,
                buffer: None,
            }),
            &[],
        ))
    } else if st.eager && st.decoder && attends(a) {
        Some(g.push(
            Op::Fill(Fill {
                numel: mul(mul(b, s)?, s)?,
                dtype: None,
                buffer: None,
            }),
            &[],
        ))
    } else {
        None
    };
    let windowed = window_mask(g, a, b, s, st.eager)?;
    Ok(Masks {
        causal,
        windowed,
        alibi,
    })
}

/// The kinds of layer with a rotary table of their own, in order of first use: one for
/// most types; each distinct layer type for those whose rotary module is built per
/// layer type (`Gemma3RotaryEmbedding`, olmo3's).
fn rotary_tables(a: &TransformerArch) -> Vec<std::mem::Discriminant<AttentionSpan>> {
    let first = std::mem::discriminant(&a.layer_attention(0).span);
    if !matches!(a.model_type.as_str(), "gemma3_text" | "olmo3") {
        return vec![first];
    }
    let mut kinds = vec![first];
    for i in 1..a.num_layers {
        let kind = std::mem::discriminant(&a.layer_attention(i).span);
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds
}

/// Whether any layer runs softmax attention (mamba's have none, and no mask is made).
fn attends(a: &TransformerArch) -> bool {
    a.details.mixers.is_empty() || a.details.mixers.iter().any(|&m| m != LayerMixer::Ssm)
}
