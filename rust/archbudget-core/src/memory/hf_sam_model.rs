//! sam lowered into the op graph: one step of `SamModel(pixel_values, input_points,
//! input_labels, input_boxes)` on `batch` images, each prompted with one point (label 1)
//! and one box and no mask — keras-hub's SAMBackbone inputs as its example fills them
//! (`points [B, 1, 2]`, `labels [B, 1]`, `boxes [B, 1, 2, 2]`, `masks [B, 0, …]`);
//! transformers' `input_points [B, 1, 1, 2]` and `input_boxes [B, 1, 4]`, one prediction
//! per image. The loss is `pred_masks.float().pow(2).mean()` (the IoU head is off its
//! path: no gradient). Without the mask decoder (keras-hub's SAMBackbone alone) the step
//! ends at the image embedding, the loss `image_embeddings.pow(2).mean()` (the prompt
//! encoder runs, off the loss's path).
//!
//! Computes, as `modeling_sam.py` of transformers 5.24 runs it:
//! - `get_image_wide_positional_embeddings`: the s×s grid of coordinates (ones, cumsum,
//!   normalised, stacked), its Fourier features (`2·c − 1`, times the `[2, F]` matrix,
//!   `2π·`, sin and cos concatenated), permuted and `repeat`ed per image (a copy);
//! - the image encoder ([`super::hf_sam::encoder`]);
//! - the prompt encoder: the point shifted by half a pixel, its Fourier features, the
//!   label `where`s (`not_a_point_embed`, zeros, `point_embed[0]` and `[1]` added); the box
//!   corners the same with `point_embed[2]` and `[3]`; the two concatenated; the dense
//!   embedding `no_mask_embed` expanded over the grid (a view);
//! - the mask decoder: the IoU and mask tokens concatenated, repeated per image and
//!   prepended to the prompt tokens; the image embedding plus the dense embedding, both
//!   it and the positional map `repeat_interleave`d (copies); per two-way block the token
//!   self-attention (the first block without positions and residual), token→image
//!   attention, the MLP and image→token attention, each with its residual and LayerNorm,
//!   positions added to queries and keys before each; the final token→image attention and
//!   LayerNorm; the image map transposed back (a copy), two transposed 2×2 convolutions
//!   with a channels-first LayerNorm and GELUs; a hypernetwork MLP per mask token, stacked;
//!   their product with the upscaled map (a batched matmul); the IoU head; the masks after
//!   the first (`multimask_output`), a slice.
//!
//! Not charged: the copies `F.linear` makes of the first block's transposed image map and
//! the in-place writes of the prompt encoder (elementwise on a few tokens).
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::ops::*;
use super::{mul, Mode, Result, RunSettings};
use crate::arch::TransformerArch;
use crate::formats::hf::sam::SamVision;
use crate::formats::hf::sam_model::{SamDecoder, SamModel, BLOCK_RATE};

pub(super) fn graph(
    a: &TransformerArch,
    s: &SamVision,
    m: &SamModel,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    super::hf_sam::refuse(a, run, "Segment Anything (sam)")?;
    widths_agree(a, s, m)?;
    let b = run.batch;
    let grid = mul(s.side, s.side)?;
    let width = mul(2, m.pos_feats)?;
    let mut g = Graph::default();
    let pixels = super::hf_sam::pixels(&mut g, s, run)?;
    let points = g.input(mul(b, 2)?, InputKind::Float);
    g.input(b, InputKind::Index);
    let boxes = g.input(mul(b, 4)?, InputKind::Float);
    let coords = g.push(
        Op::Fill(Fill {
            numel: mul(grid, 2)?,
            dtype: None,
            buffer: None,
        }),
        &[],
    );
    let features = fourier(&mut g, coords, grid, m.pos_feats, false)?;
    let positions = copy(&mut g, features, prod(&[b, grid, width])?);
    let image = super::hf_sam::encoder(&mut g, pixels, a, s, drop, run)?;
    let sparse = prompt_encoder(&mut g, m, b, (points, boxes))?;
    if !m.runs_decoder {
        if run.mode == Mode::Train {
            g.push(Op::Cast(Cast { to: DType::F32 }), &[image]);
            g.then(Op::SquareMean(SquareMean));
            g.train_only_tail = 2;
        }
        g.infer_output = Some(image);
        return Ok(g);
    }
    let masks = mask_decoder(&mut g, &m.decoder, b, s.side, (image, positions, sparse))?;
    if run.mode == Mode::Train {
        g.push(Op::Cast(Cast { to: DType::F32 }), &[masks]);
        g.then(Op::SquareMean(SquareMean));
        g.train_only_tail = 2;
    }
    g.infer_output = Some(masks);
    Ok(g)
}

/// The adds SamModel's forward makes need one width and one grid throughout.
fn widths_agree(a: &TransformerArch, s: &SamVision, m: &SamModel) -> Result<()> {
    let image = s.output_channels;
    let mut widths = vec![
        ("vision_config.output_channels", image),
        ("2 · vision_config.num_pos_feats", mul(2, m.pos_feats)?),
        ("prompt_encoder_config.hidden_size", m.prompt.hidden),
    ];
    if m.runs_decoder {
        widths.push(("mask_decoder_config.hidden_size", m.decoder.hidden));
    }
    if let Some((key, w)) = widths.iter().find(|(_, w)| *w != image) {
        return Err(crate::Error::invalid(
            a.model_type.as_str(),
            format!(
                "{key} ({w}) must equal vision_config.output_channels ({image}): the image embedding, its positions and the prompt embeddings are added"
            ),
        ));
    }
    if m.prompt.side != s.side {
        return Err(crate::Error::invalid(
            a.model_type.as_str(),
            format!(
                "the prompt encoder's grid (image_size // patch_size = {}) must be the image encoder's ({}): the dense prompt embedding is added to the image embedding",
                m.prompt.side, s.side
            ),
        ));
    }
    Ok(())
}

/// `SamPositionalEmbedding` of `rows` coordinate pairs: `2·c − 1`, the matmul with the
/// `[2, feats]` matrix (`again`: the tied matrix, declared before), `2π·`, sin and cos
/// concatenated: `[rows, 2·feats]`.
fn fourier(g: &mut Graph, coords: ValueId, rows: u64, feats: u64, again: bool) -> Result<ValueId> {
    let x = copy(g, coords, mul(rows, 2)?);
    let matmul = Op::Linear(Linear::new(rows, 2, feats, false));
    let op = match again {
        true => Op::Reused(Box::new(matmul)),
        false => matmul,
    };
    let x = g.push(op, &[x]);
    let x = copy(g, x, mul(rows, feats)?);
    Ok(copy(g, x, mul(rows, 2 * feats)?))
}

/// `SamPromptEncoder` on one point and one box per image: the sparse embeddings,
/// `[B, 1, 3, hidden]`. The dense one (`no_mask_embed` expanded) is a view the decoder
/// adds to the image ([`mask_decoder`]).
fn prompt_encoder(
    g: &mut Graph,
    m: &SamModel,
    b: u64,
    (points, boxes): (ValueId, ValueId),
) -> Result<ValueId> {
    let p = &m.prompt;
    let h = p.hidden;
    // the mask convolutions run only on a mask prompt; point embeddings past the four
    // (two labels, two corners) are never read
    let extra = mul(p.point_embeddings.saturating_sub(4), h)?;
    let mut unused = crate::formats::hf::sam_model::mask_embed_params(p)? + extra;
    if !m.runs_decoder {
        // no_mask_embed is read by the decoder's add only
        unused += h;
    }
    g.push(Op::UnusedParam(UnusedParam { numel: unused }), &[]);
    let shifted = copy(g, points, mul(b, 2)?);
    let x = g.push(Op::Copy(Copy::default()), &[shifted]);
    let mut x = fourier(g, x, b, m.pos_feats, true)?;
    let rows = mul(b, h)?;
    // not_a_point_embed, zeros, then point_embed[0] and [1] each added and selected
    for selected in [true, false, true, true] {
        if selected {
            x = g.push(Op::BiasAdd(BiasAdd { numel: h }), &[x]);
        }
        x = copy(g, x, rows);
    }
    let corners = copy(g, boxes, mul(b, 4)?);
    let mut y = fourier(g, corners, mul(b, 2)?, m.pos_feats, true)?;
    for _ in 0..2 {
        y = g.push(Op::BiasAdd(BiasAdd { numel: h }), &[y]);
    }
    let sparse = g.push(
        Op::Copy(Copy {
            numel: Some(prod(&[b, 3, h])?),
        }),
        &[x, y],
    );
    Ok(sparse)
}

/// `SamMaskDecoder` on `(image, positions, sparse)`: the masks after the first,
/// `[B, 1, mask_tokens − 1, 4s, 4s]` (a slice).
fn mask_decoder(
    g: &mut Graph,
    d: &SamDecoder,
    b: u64,
    side: u64,
    (image, positions, sparse): (ValueId, ValueId, ValueId),
) -> Result<ValueId> {
    let h = d.hidden;
    let grid = mul(side, side)?;
    let map = prod(&[b, grid, h])?;
    let head_tokens = super::add(1, d.mask_tokens)?;
    let index = g.push(
        Op::Fill(Fill {
            numel: head_tokens,
            dtype: Some(DType::I64),
            buffer: None,
        }),
        &[],
    );
    // iou_token and mask_tokens: their weights concatenated
    let out_tokens = g.push(
        Op::Embedding(Embedding {
            tokens: head_tokens,
            vocab: head_tokens,
            dim: h,
            tied: false,
        }),
        &[index],
    );
    let tokens = super::add(head_tokens, 3)?;
    let repeated = copy(g, out_tokens, prod(&[b, head_tokens, h])?);
    let points = g.push(
        Op::Copy(Copy {
            numel: Some(prod(&[b, tokens, h])?),
        }),
        &[repeated, sparse],
    );
    // + no_mask_embed, broadcast over the grid
    let keys = g.push(Op::BiasAdd(BiasAdd { numel: h }), &[image]);
    let keys = copy(g, keys, map);
    let key_pos = copy(g, positions, map);
    let t = TwoWay {
        batch: b,
        tokens,
        grid,
        hidden: h,
        heads: d.heads,
        inner: h / BLOCK_RATE,
    };
    let mut queries = points;
    let mut keys = keys;
    for i in 0..d.layers {
        (queries, keys) = t.block(g, d, i == 0, (queries, keys), (points, key_pos))?;
    }
    let q = g.push(Op::Add(Add), &[queries, points]);
    let k = g.push(Op::Add(Add), &[keys, key_pos]);
    let out = t.attention(g, (q, k, keys), (tokens, grid), h / d.downsample)?;
    g.push(Op::Add(Add), &[queries, out]);
    let queries = g.then(layer_norm(mul(b, tokens)?, h));
    let x = copy(g, keys, map);
    let upscaled = upscale(g, x, b, side, h)?;
    let mut hyper = Vec::new();
    for _ in 0..d.mask_tokens {
        let token = g.push(Op::View(View), &[queries]);
        hyper.push(feed_forward(g, token, b, &[h, h, h, h / 8])?);
    }
    let hyper = g.push(
        Op::Copy(Copy {
            numel: Some(prod(&[b, d.mask_tokens, h / 8])?),
        }),
        &hyper,
    );
    let pixels = mul(16, grid)?;
    let masks = g.push(
        Op::Matmul(Matmul {
            batch: b,
            m: d.mask_tokens,
            k: h / 8,
            n: pixels,
        }),
        &[hyper, upscaled],
    );
    let iou = g.push(Op::View(View), &[queries]);
    let mut widths = vec![h];
    widths.extend(vec![d.iou_hidden; d.iou_depth.saturating_sub(1) as usize]);
    widths.push(d.mask_tokens);
    feed_forward(g, iou, b, &widths)?;
    Ok(g.push(
        Op::SelectLast(SelectLast {
            out_numel: prod(&[b, d.mask_tokens - 1, pixels])?,
        }),
        &[masks],
    ))
}

/// `upscale_conv1`, the channels-first LayerNorm, GELU, `upscale_conv2`, GELU:
/// `[B, h/8, 4s, 4s]`.
fn upscale(g: &mut Graph, x: ValueId, b: u64, side: u64, h: u64) -> Result<ValueId> {
    let mut x = x;
    for (i, (d_in, d_out, at)) in [(h, h / 4, side), (h / 4, h / 8, 2 * side)]
        .into_iter()
        .enumerate()
    {
        g.push(
            Op::Conv(Conv {
                batch: b,
                in_channels: d_in,
                out_channels: d_out,
                dims: vec![ConvDim::new(at, 2, 2, 0); 2],
                groups: 1,
                bias: true,
                transposed: true,
                shared_weights: false,
            }),
            &[x],
        );
        if i == 0 {
            g.then(layer_norm(prod(&[b, 2 * side, 2 * side])?, d_out));
        }
        x = g.then(Op::Act(Act {
            kind: ActKind::Gelu,
        }));
    }
    Ok(x)
}

/// `SamFeedForward` (keras-hub's SAM `MLP`) on `rows` vectors: Linears through
/// `widths`, ReLU between them.
fn feed_forward(g: &mut Graph, x: ValueId, rows: u64, widths: &[u64]) -> Result<ValueId> {
    let mut x = x;
    for (i, pair) in widths.windows(2).enumerate() {
        if i > 0 {
            x = g.push(
                Op::Act(Act {
                    kind: ActKind::Relu,
                }),
                &[x],
            );
        }
        x = g.push(Op::Linear(Linear::new(rows, pair[0], pair[1], true)), &[x]);
    }
    Ok(x)
}

fn layer_norm(rows: u64, dim: u64) -> Op {
    super::hf_swin::layer_norm(rows, dim)
}

/// A new tensor of `numel` elements made from `x` (a shift, a repeat, a transposing copy).
fn copy(g: &mut Graph, x: ValueId, numel: u64) -> ValueId {
    g.push(Op::Copy(Copy { numel: Some(numel) }), &[x])
}

/// What every two-way block shares: `batch` images, `tokens` prompt tokens, `grid`
/// image positions, `hidden` wide; cross-attention `inner` wide.
struct TwoWay {
    batch: u64,
    tokens: u64,
    grid: u64,
    hidden: u64,
    heads: u64,
    inner: u64,
}

impl TwoWay {
    /// `SamTwoWayAttentionBlock`: the updated (queries, keys).
    fn block(
        &self,
        g: &mut Graph,
        d: &SamDecoder,
        first: bool,
        (queries, keys): (ValueId, ValueId),
        (query_pos, key_pos): (ValueId, ValueId),
    ) -> Result<(ValueId, ValueId)> {
        let (t, n, h) = (self.tokens, self.grid, self.hidden);
        let rows_q = mul(self.batch, t)?;
        let rows_k = mul(self.batch, n)?;
        let queries = match first {
            true => self.attention(g, (queries, queries, queries), (t, t), h)?,
            false => {
                let q = g.push(Op::Add(Add), &[queries, query_pos]);
                let out = self.attention(g, (q, q, queries), (t, t), h)?;
                g.push(Op::Add(Add), &[queries, out])
            }
        };
        let queries = g.push(layer_norm(rows_q, h), &[queries]);
        let q = g.push(Op::Add(Add), &[queries, query_pos]);
        let k = g.push(Op::Add(Add), &[keys, key_pos]);
        let out = self.attention(g, (q, k, keys), (t, n), self.inner)?;
        g.push(Op::Add(Add), &[queries, out]);
        let queries = g.then(layer_norm(rows_q, h));
        g.push(
            Op::Linear(Linear::new(rows_q, h, d.mlp_dim, true)),
            &[queries],
        );
        g.then(Op::Act(Act {
            kind: super::hf_encoders::act_kind(&d.act),
        }));
        let out = g.then(Op::Linear(Linear::new(rows_q, d.mlp_dim, h, true)));
        g.push(Op::Add(Add), &[queries, out]);
        let queries = g.then(layer_norm(rows_q, h));
        let q = g.push(Op::Add(Add), &[queries, query_pos]);
        let k = g.push(Op::Add(Add), &[keys, key_pos]);
        let out = self.attention(g, (k, q, queries), (n, t), self.inner)?;
        g.push(Op::Add(Add), &[keys, out]);
        let keys = g.then(layer_norm(rows_k, h));
        Ok((queries, keys))
    }

    /// `SamAttention(query, key, value)`: q, k, v projected to `inner`, `heads` heads of
    /// `q_len` queries over `kv_len` keys, the output projected back.
    fn attention(
        &self,
        g: &mut Graph,
        (query, key, value): (ValueId, ValueId, ValueId),
        (q_len, kv_len): (u64, u64),
        inner: u64,
    ) -> Result<ValueId> {
        let (b, h) = (self.batch, self.hidden);
        let rows_q = mul(b, q_len)?;
        let rows_kv = mul(b, kv_len)?;
        let q = g.push(Op::Linear(Linear::new(rows_q, h, inner, true)), &[query]);
        let k = g.push(Op::Linear(Linear::new(rows_kv, h, inner, true)), &[key]);
        let v = g.push(Op::Linear(Linear::new(rows_kv, h, inner, true)), &[value]);
        let views: Vec<ValueId> = [q, k, v]
            .into_iter()
            .map(|x| g.push(Op::View(View), &[x]))
            .collect();
        g.push(
            Op::Attention(Attention::plain(
                b,
                self.heads,
                q_len,
                kv_len,
                inner / self.heads,
                0.0,
            )),
            &views,
        );
        g.then(Op::View(View));
        Ok(g.then(Op::Linear(Linear::new(rows_q, inner, h, true))))
    }
}
