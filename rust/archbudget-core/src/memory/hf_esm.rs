//! esm lowered into the op graph from its [`TransformerArch`] (`formats::hf::esm`):
//! bert's modules run pre-norm, as `modeling_esm.py` of transformers 5.x runs one step
//! on `input_ids` alone (no attention mask: SDPA and eager get none):
//! - embeddings: the position ids counted from the padding id
//!   (`create_position_ids_from_input_ids`: batch×seq int64), the word lookup, the
//!   learned positions added when absolute, the LayerNorm with `emb_layer_norm_before`; the
//!   embeddings' dropout module is never called;
//! - rotary: one `inv_freq` buffer, cos and sin seq×head_dim per forward, applied to
//!   q (scaled by head_dim^-0.5 first, a new tensor) and k in every layer;
//! - each layer: LayerNorm, q/k/v, attention (SDPA, or eager with the weights' dropout),
//!   `output.dense`, dropout, residual; LayerNorm, `intermediate.dense`, the erf GELU
//!   written out ([`ActKind::GeluErf`]), `output.dense`, dropout, residual; the encoder
//!   ends in `emb_layer_norm_after`;
//! - the bare model's pooler (dense + tanh on the first token, off the loss's path) and
//!   the contact head's `regression`, built but never run (unused parameters);
//! - the masked LM's head: `dense`, erf GELU, `layer_norm`, the unbiased `decoder` (tied
//!   by default) and `+ bias` (a new logits-sized tensor), `CrossEntropyLoss` on the
//!   logits as they are (no upcast, no shifted labels).
//!
//! Not modelled: the int32 intermediates of the position ids (batch×seq, transients) and
//! `token_dropout` (ESM-2's checkpoints set it; KerasHub's ESM has none): its masked fill
//! and rescaling make three embeddings-sized transients, nothing saved but a bool mask. LoRA and quantized weights are not lowered for esm.
use super::graph::{DType, Graph, InputKind};
use super::hf::Dropouts;
use super::hf_decoder::norm_op;
use super::ops::*;
use super::{mul, Result, RunSettings};
use crate::arch::{HeadKind, Position, TransformerArch};

pub(super) fn graph(a: &TransformerArch, drop: &Dropouts, run: &RunSettings) -> Result<Graph> {
    run.refuse_for_encoder("esm", "esm", "protein sequences")?;
    let (b, s) = (run.batch, run.seq);
    let rows = mul(b, s)?;
    let (h, hd) = (a.hidden_size, a.head_dim);
    let qd = mul(a.num_heads, hd)?;
    let lin =
        |rows: u64, inp: u64, out: u64, bias: bool| Op::Linear(Linear::new(rows, inp, out, bias));
    let ln = || norm_op(a.norm, rows, h);
    let gelu = Op::Act(Act {
        kind: ActKind::GeluErf,
    });
    let mut g = Graph::default();

    // ---- embeddings
    let ids = g.input(rows, InputKind::Index);
    // `position_ids` (a registered buffer, unused) and those counted from the padding id
    g.push(
        Op::Fill(Fill {
            numel: 0,
            dtype: Some(DType::I64),
            buffer: Some((a.max_positions, DType::I64)),
        }),
        &[],
    );
    let positions = g.push(
        Op::Fill(Fill {
            numel: rows,
            dtype: Some(DType::I64),
            buffer: None,
        }),
        &[],
    );
    let mut x = g.push(
        Op::Embedding(Embedding {
            tokens: rows,
            vocab: a.vocab_size,
            dim: h,
            tied: false,
        }),
        &[ids],
    );
    if let Position::Learned { rows: table } = a.position {
        let p = g.push(
            Op::Embedding(Embedding {
                tokens: rows,
                vocab: table,
                dim: h,
                tied: false,
            }),
            &[positions],
        );
        x = g.push(Op::Add(Add), &[x, p]);
    }
    if a.details.embed_norm {
        x = g.push(ln(), &[x]);
    }
    let cos_sin = (a.position == Position::Rotary).then(|| {
        let n = s * hd;
        let cos = g.push(
            Op::Fill(Fill {
                numel: n,
                dtype: None,
                buffer: Some((hd / 2, DType::F32)),
            }),
            &[],
        );
        let sin = g.push(
            Op::Fill(Fill {
                numel: n,
                dtype: None,
                buffer: None,
            }),
            &[],
        );
        (cos, sin)
    });

    // ---- encoder
    for _ in 0..a.num_layers {
        let n1 = g.push(ln(), &[x]);
        let q = g.push(lin(rows, h, qd, a.qkv_bias), &[n1]);
        let k = g.push(lin(rows, h, qd, a.qkv_bias), &[n1]);
        let v = g.push(lin(rows, h, qd, a.qkv_bias), &[n1]);
        // `query_layer * attention_head_size**-0.5`, before the rotation
        let mut q = g.push(Op::Add(Add), &[q]);
        let mut k = k;
        if let Some((cos, sin)) = cos_sin {
            q = g.push(Op::Rotary(Rotary), &[q, cos, sin]);
            k = g.push(Op::Rotary(Rotary), &[k, cos, sin]);
        }
        let att = g.push(
            Op::Attention(Attention::plain(b, a.num_heads, s, s, hd, drop.attn)),
            &[q, k, v],
        );
        let o = g.push(lin(rows, qd, h, a.o_bias), &[att]);
        let o = g.dropout(o, drop.resid);
        x = g.push(Op::Add(Add), &[x, o]);
        let n2 = g.push(ln(), &[x]);
        let f = g.push(lin(rows, h, a.intermediate_size, a.mlp_bias), &[n2]);
        let f = g.push(gelu.clone(), &[f]);
        let f = g.push(lin(rows, a.intermediate_size, h, a.mlp_bias), &[f]);
        let f = g.dropout(f, drop.resid);
        x = g.push(Op::Add(Add), &[f, x]);
    }
    x = g.push(ln(), &[x]);
    g.push(
        Op::UnusedParam(UnusedParam {
            numel: crate::formats::hf::esm_contact_head_params(a),
        }),
        &[],
    );

    // ---- pooler, head and loss
    if a.head == HeadKind::Base {
        let first = g.push(
            Op::SelectLast(SelectLast {
                out_numel: mul(b, h)?,
            }),
            &[x],
        );
        let pd = g.push(lin(b, h, h, true), &[first]);
        g.push(
            Op::Act(Act {
                kind: ActKind::Tanh,
            }),
            &[pd],
        );
        let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[x]);
        g.push(Op::SquareMean(SquareMean), &[hf]);
        g.train_only_tail = 2;
        g.infer_output = Some(x);
        return Ok(g);
    }
    let t = g.push(lin(rows, h, h, true), &[x]);
    let t = g.push(gelu, &[t]);
    let t = g.push(ln(), &[t]);
    // `decoder(x) + self.bias`: the unbiased projection's output and the sum, two
    // logits-sized tensors (the bias is the Linear's here, the same parameters)
    let decoder = Linear {
        rows,
        in_features: h,
        out_features: a.vocab_size,
        bias: true,
        tied_weight: a.tie_word_embeddings,
    };
    let scores = g.push(Op::Linear(decoder), &[t]);
    let logits = g.push(Op::Add(Add), &[scores]);
    g.push(
        Op::CrossEntropy(CrossEntropy {
            rows,
            classes: a.vocab_size,
            label_copies: Vec::new(),
        }),
        &[logits, ids],
    );
    g.train_only_tail = 1;
    g.infer_output = Some(logits);
    Ok(g)
}
