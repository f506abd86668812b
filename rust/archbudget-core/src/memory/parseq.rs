//! KerasHub's PARSeq lowered into the op graph from the arch its reader makes
//! (`formats::keras_hub::parseq::lowered`): the keras-hub layers as Keras runs them on
//! its torch backend, on `batch` images and `max_label_length` tokens (`--seq` is not
//! read). There is no transformers twin, so:
//! - the image encoder (a `ViTBackbone`) is lowered as keras-hub's ViT is, through its
//!   vit twin ([`super::hf::graph`]), up to its final norm: the `memory`, M tokens;
//! - `PARSeqDecoder` from the shared ops: the `<bos>` lookup and the other tokens'
//!   lookups, each scaled by √hidden (a new tensor), the positions taken from
//!   `pos_query_embeddings` (an index on the table, as an embedding lookup) and added,
//!   concatenated, dropout: the content stream; `ones(B,1,1)` times the positions,
//!   dropout: the query stream. Each block norms both streams, then runs the query
//!   stream and (but in the last block) the content stream through the same weights:
//!   the padding and causal (or permutation) masks merged into one batch×T×T tensor
//!   given to SDPA, self-attention on the normed content (q, k, v `heads × key_dim`
//!   wide, biased; dropout on the probabilities), dropout, residual; `ln_1`,
//!   cross-attention on the memory (its k and v projected again for every stream, block
//!   and pass), dropout, residual; `ln_2`, the ViT MLP (`dense_1` with GELU, dropout,
//!   `dense_2`, dropout), residual. The final `layer_norm` on the query stream, the
//!   `Dense` head (`vocabulary_size - 2` classes);
//! - the backbone's loss is the protocol's `x.float().pow(2).mean()` on the logits;
//! - `PARSeqCausalLM`'s training step is Keras's: `y_pred = self(x)` (the whole forward,
//!   which the loss never reads: off the loss's path), then `compute_loss`, which runs the
//!   image encoder again and the decoder and head once per training permutation, each
//!   with keras's sparse cross-entropy on the labels, summed. Its inference is one
//!   forward.
//!
//! Weights are declared by the pass backward reaches and reused ([`Op::Reused`]) by
//! every other. The unread `y_pred` forward records what autograd saves, which Keras's
//! train step keeps referenced until it returns: held here to the end of the forward
//! ([`Graph::forward_held`]), so the peak at the loss counts it and one later in
//! backward does not. Not modelled: the int32 intermediates of the masks; the
//! permutations' own L×L masks; the `y_pred` forward's dropout masks. LoRA, quantized
//! weights, gradient checkpointing and generation are refused.
use super::graph::{DType, Graph, InputKind, ValueId};
use super::hf::Dropouts;
use super::hf_decoder::norm_op;
use super::ops::*;
use super::{mul, Mode, Result, RunSettings};
use crate::arch::TransformerArch;
use crate::formats::keras_hub::parseq::Parseq;

const HERE: &str = "PARSeqBackbone";

pub(super) fn graph(
    a: &TransformerArch,
    p: &Parseq,
    drop: &Dropouts,
    run: &RunSettings,
) -> Result<Graph> {
    refuse(run)?;
    let encoder = Encoder::read(p, run)?;
    let d = Dims {
        a,
        drop,
        b: run.batch,
        t: p.max_label_length,
        m: encoder.tokens,
        rows: mul(run.batch, p.max_label_length)?,
    };
    // keras's train step on the task: the forward, then `compute_loss`'s passes
    let permutations = p.permutations.filter(|_| run.mode == Mode::Train);
    let again = permutations.is_some();
    let mut g = Graph::default();
    let pixels = g.input(encoder.pixels, InputKind::Float);
    let ids = g.input(d.rows, InputKind::Index);
    // `padding_mask`: read by the masks, which are made per stream
    g.input(d.rows, InputKind::Index);
    let labels = again.then(|| g.input(d.rows, InputKind::Index));
    if again {
        // `sample_weight`: the padding mask of the labels
        g.input(d.rows, InputKind::Index);
    }

    let start = g.nodes.len();
    let memory = encoder.splice(&mut g, pixels, again);
    let out = decoder(&mut g, &d, (ids, memory), again)?;
    let logits = head(&mut g, &d, out, again);
    if again {
        g.forward_held = kept_by_autograd(&g, start);
    }
    let (Some(passes), Some(labels)) = (permutations, labels) else {
        g.infer_output = Some(logits);
        if p.permutations.is_none() {
            let lf = g.push(Op::Cast(Cast { to: DType::F32 }), &[logits]);
            g.push(Op::SquareMean(SquareMean), &[lf]);
            g.train_only_tail = 2;
        }
        return Ok(g);
    };

    // ---- `compute_loss`: the encoder again, a decoder pass per permutation
    let first = g.nodes.len();
    let memory = encoder.splice(&mut g, pixels, false);
    let mut losses = Vec::new();
    for i in 0..passes {
        let out = decoder(&mut g, &d, (ids, memory), i > 0)?;
        let logits = head(&mut g, &d, out, i > 0);
        let lf = g.push(Op::Cast(Cast { to: DType::F32 }), &[logits]);
        losses.push(g.push(
            Op::CrossEntropy(CrossEntropy {
                rows: d.rows,
                classes: a.vocab_size,
                label_copies: Vec::new(),
            }),
            &[lf, labels],
        ));
    }
    // `ops.sum(losses) / len(perms)`
    g.push(Op::Add(Add), &losses);
    g.train_only_tail = g.nodes.len() - first;
    Ok(g)
}

/// What autograd keeps of the nodes from `start` on (the unread `y_pred` forward, which
/// the loss never reaches, so the simulator records nothing of it): the inputs of its
/// matmuls, convolutions, norms and activations, and SDPA's q, k, v and output (not the
/// dropout masks, nor the graph's inputs, held anyway).
fn kept_by_autograd(g: &Graph, start: usize) -> Vec<ValueId> {
    let n_in = g.inputs.len();
    let mut kept = Vec::new();
    for (k, node) in g.nodes.iter().enumerate().skip(start) {
        let op = match &node.op {
            Op::Reused(op) => op.as_ref(),
            op => op,
        };
        match op {
            Op::Linear(_) | Op::Conv(_) | Op::LayerNorm(_) | Op::Act(_) => {
                kept.extend(node.inputs.first())
            }
            Op::Attention(_) => {
                kept.extend(node.inputs.iter().take(3));
                kept.push(n_in + k);
            }
            _ => {}
        }
    }
    kept.retain(|&v| v >= n_in);
    kept.sort_unstable();
    kept.dedup();
    kept
}

fn refuse(run: &RunSettings) -> Result<()> {
    let refused = if run.lora.is_some() || run.quantize.is_some() {
        "LoRA and quantized weights are not lowered for KerasHub PARSeq yet"
    } else if run.mode == Mode::Generate {
        "generation (PARSeq's autoregressive decoding and refinement) is not modelled; use --mode train or infer"
    } else if run.grad_ckpt {
        "gradient checkpointing is not modelled for KerasHub PARSeq (keras-hub's layers have none)"
    } else {
        return Ok(());
    };
    Err(crate::Error::invalid(HERE, refused))
}

/// The decoder's sizes: `t` tokens and `m` memory tokens per image, `rows` = b·t.
struct Dims<'a> {
    a: &'a TransformerArch,
    drop: &'a Dropouts,
    b: u64,
    t: u64,
    m: u64,
    rows: u64,
}

/// `op`, or `op` on weights an earlier node declared.
fn reused(again: bool, op: Op) -> Op {
    match again {
        true => Op::Reused(Box::new(op)),
        false => op,
    }
}

/// The image encoder's own graph (keras-hub's ViT through its vit twin), spliced in once
/// per call of `image_encoder`.
struct Encoder {
    graph: Graph,
    /// Pixels per batch.
    pixels: u64,
    /// The memory's tokens per image (patches and class token).
    tokens: u64,
}

impl Encoder {
    fn read(p: &Parseq, run: &RunSettings) -> Result<Encoder> {
        let location = "PARSeqBackbone image_encoder";
        let class = p
            .image_encoder
            .get("registered_name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?");
        let refused = || {
            crate::Error::invalid(
                location,
                format!("memory of KerasHub PARSeq lowers a ViTBackbone image encoder (keras-hub's); {class} is not modelled"),
            )
        };
        if class != "keras_hub>ViTBackbone" {
            return Err(refused());
        }
        let model =
            crate::formats::keras_hub::read(&p.image_encoder, location)?.ok_or_else(refused)?;
        let arch = crate::formats::keras_hub::arch(&model, location)?;
        let drop = crate::formats::keras_hub::dropouts(&model);
        let v = arch.vision.ok_or_else(refused)?;
        let graph = super::hf::graph(&arch, &drop, run)?;
        let pixels = graph.inputs.first().map(|i| i.numel).ok_or_else(refused)?;
        Ok(Encoder {
            graph,
            pixels,
            tokens: v.num_patches + v.class_tokens,
        })
    }

    /// The encoder's nodes up to its output (its stand-in loss left out), reading
    /// `pixels`; returns the memory.
    fn splice(&self, g: &mut Graph, pixels: ValueId, again: bool) -> ValueId {
        let sub = &self.graph;
        let mut at: Vec<ValueId> = vec![pixels; sub.inputs.len()];
        let kept = sub.nodes.len() - sub.train_only_tail;
        for node in &sub.nodes[..kept] {
            let inputs: Vec<ValueId> = node.inputs.iter().map(|&i| at[i]).collect();
            at.push(g.push(reused(again, node.op.clone()), &inputs));
        }
        at[sub.infer_output.unwrap_or(at.len() - 1)]
    }
}

/// One call of `PARSeqDecoder` on `ids` and the encoder's `memory`; returns the normed
/// query stream. `again`: its weights are declared by another pass.
fn decoder(
    g: &mut Graph,
    d: &Dims,
    (ids, memory): (ValueId, ValueId),
    again: bool,
) -> Result<ValueId> {
    let (a, drop, b, t) = (d.a, d.drop, d.b, d.t);
    let h = a.hidden_size;
    let lookup = |tokens: u64, vocab: u64| {
        Op::Embedding(Embedding {
            tokens,
            vocab,
            dim: h,
            tied: false,
        })
    };
    let fill = |g: &mut Graph, numel: u64, dtype: Option<DType>| {
        g.push(
            Op::Fill(Fill {
                numel,
                dtype,
                buffer: None,
            }),
            &[],
        )
    };
    // `token_embedding` holds every id; the head leaves out <bos> and <pad>
    let vocab = a.vocab_size + 2;
    let positions = t + 1;
    let rest = mul(b, t - 1)?;

    // ---- content: `<bos>` alone, the other tokens plus their positions
    let bos = g.push(reused(again, lookup(b, vocab)), &[ids]);
    let bos = g.push(Op::Add(Add), &[bos]);
    let tokens = g.push(Op::Reused(Box::new(lookup(rest, vocab))), &[ids]);
    let tokens = g.push(Op::Add(Add), &[tokens]);
    let arange = fill(g, t - 1, Some(DType::I64));
    let pos = g.push(reused(again, lookup(t - 1, positions)), &[arange]);
    let sum = g.push(Op::Add(Add), &[pos, tokens]);
    let content = g.push(
        Op::Copy(Copy {
            numel: Some(mul(d.rows, h)?),
        }),
        &[bos, sum],
    );
    let mut content = g.dropout(content, drop.embed);
    // ---- query: every position, broadcast over the batch
    let ones = fill(g, b, None);
    let arange = fill(g, t, Some(DType::I64));
    let pos = g.push(Op::Reused(Box::new(lookup(t, positions))), &[arange]);
    let query = g.push(
        Op::Copy(Copy {
            numel: Some(mul(d.rows, h)?),
        }),
        &[ones, pos],
    );
    let mut query = g.dropout(query, drop.embed);

    let ln = || norm_op(a.norm, d.rows, h);
    for i in 0..a.num_layers {
        let qn = g.push(reused(again, ln()), &[query]);
        let cn = g.push(reused(again, ln()), &[content]);
        query = stream(g, d, (query, qn, cn, memory), again)?;
        if i + 1 < a.num_layers {
            content = stream(g, d, (content, cn, cn, memory), true)?;
        }
    }
    Ok(g.push(reused(again, ln()), &[query]))
}

/// `PARSeqDecoderBlock.forward_stream`: the stream `x` (normed: `xn`) attending to `kv`,
/// then to the memory, then the MLP; returns the new stream.
fn stream(
    g: &mut Graph,
    d: &Dims,
    (mut x, xn, kv, memory): (ValueId, ValueId, ValueId, ValueId),
    again: bool,
) -> Result<ValueId> {
    let (a, drop, b, t, m) = (d.a, d.drop, d.b, d.t, d.m);
    let (h, heads, hd) = (a.hidden_size, a.num_heads, a.head_dim);
    let width = mul(heads, hd)?;
    let mem_rows = mul(b, m)?;
    let lin = |g: &mut Graph, rows: u64, i: u64, o: u64, x: ValueId| {
        g.push(
            reused(again, Op::Linear(Linear::new(rows, i, o, true))),
            &[x],
        )
    };
    let ln = || reused(again, norm_op(a.norm, d.rows, h));

    // self-attention under the merged padding and causal (or permutation) mask
    let mask = g.push(
        Op::Fill(Fill {
            numel: mul(d.rows, t)?,
            dtype: Some(DType::Bool),
            buffer: None,
        }),
        &[],
    );
    let q = lin(g, d.rows, h, width, xn);
    let k = lin(g, d.rows, h, width, kv);
    let v = lin(g, d.rows, h, width, kv);
    let att = g.push(
        Op::Attention(Attention {
            score_bias: true,
            ..Attention::plain(b, heads, t, t, hd, drop.attn)
        }),
        &[q, k, v, mask],
    );
    let o = lin(g, d.rows, width, h, att);
    let o = g.dropout(o, drop.resid);
    x = g.push(Op::Add(Add), &[x, o]);

    // cross-attention on the memory
    let n1 = g.push(ln(), &[x]);
    let q = lin(g, d.rows, h, width, n1);
    let k = lin(g, mem_rows, h, width, memory);
    let v = lin(g, mem_rows, h, width, memory);
    let att = g.push(
        Op::Attention(Attention::plain(b, heads, t, m, hd, drop.attn)),
        &[q, k, v],
    );
    let o = lin(g, d.rows, width, h, att);
    let o = g.dropout(o, drop.resid);
    x = g.push(Op::Add(Add), &[x, o]);

    // the ViT MLP: its dropout after each Dense, none on the branch
    let n2 = g.push(ln(), &[x]);
    let f = lin(g, d.rows, h, a.intermediate_size, n2);
    let f = g.push(
        Op::Act(Act {
            kind: ActKind::Gelu,
        }),
        &[f],
    );
    let f = g.dropout(f, drop.activation);
    let f = lin(g, d.rows, a.intermediate_size, h, f);
    let f = g.dropout(f, drop.resid);
    Ok(g.push(Op::Add(Add), &[x, f]))
}

/// The `Dense` head on the decoder's output: the logits.
fn head(g: &mut Graph, d: &Dims, out: ValueId, again: bool) -> ValueId {
    let classes = d.a.vocab_size;
    let op = Op::Linear(Linear::new(d.rows, d.a.hidden_size, classes, true));
    g.push(reused(again, op), &[out])
}
