//! The end of a transformers stack: the final norm, OPT's `project_out`, BERT's pooler,
//! and the head with its loss (causal-LM, masked-LM, or the base model's stand-in loss).
use super::graph::{DType, Graph, ValueId};
use super::hf::Step;
use super::lora::{Linears, Module};
use super::ops::*;
use super::{add, mul, Result};
use crate::arch::HeadKind;

/// From the last layer's hidden state `h` to the loss; `ids` are the step's input
/// (the labels of a language-model head).
pub(super) fn head(
    st: &Step,
    g: &mut Graph,
    lx: &mut Linears,
    mut h: ValueId,
    ids: ValueId,
) -> Result<()> {
    let (a, b, s, rows) = (st.a, st.batch, st.seq, st.rows);
    let hsz = a.hidden_size;
    if a.final_norm && a.pre_norm {
        h = g.push(st.ln(rows), &[h]);
    }
    if a.embed_dim != hsz {
        let out = st.lin(hsz, a.embed_dim, false);
        h = lx.push(g, Module::linear("project_out"), out, h)?;
    }
    if let Some(p) = a.pooler {
        // BERT's pooler: dense + tanh on the first token; not on the loss's path
        let first_tok = g.push(
            Op::SelectLast(SelectLast {
                out_numel: mul(b, hsz)?,
            }),
            &[h],
        );
        let pooler_lin = Linear {
            rows: b,
            in_features: hsz,
            out_features: p,
            bias: true,
            tied_weight: false,
        };
        let pd = lx.push(
            g,
            Module::linear(st.names.head_dense),
            pooler_lin,
            first_tok,
        )?;
        g.push(
            Op::Act(Act {
                kind: ActKind::Tanh,
            }),
            &[pd],
        );
    }
    match a.head {
        HeadKind::CausalLm => {
            if a.mlm_head.is_some() {
                // BERT-style LM head: dense + GELU + LayerNorm before the vocabulary projection
                let dense = st.lin(hsz, hsz, true);
                let t = lx.push(g, Module::linear(st.names.head_dense), dense, h)?;
                let t = g.push(
                    Op::Act(Act {
                        kind: ActKind::Gelu,
                    }),
                    &[t],
                );
                h = g.push(st.ln(rows), &[t]);
            }
            if a.mlm_head.is_some_and(|m| m.untied_bias) {
                g.push(
                    Op::UnusedParam(UnusedParam {
                        numel: a.vocab_size,
                    }),
                    &[],
                );
            }
            let head = Linear {
                rows,
                in_features: a.embed_dim,
                out_features: a.vocab_size,
                bias: a.mlm_head.is_some() || a.details.lm_head_bias,
                tied_weight: a.tie_word_embeddings,
            };
            let mut logits = lx.push(g, st.names.lm_head(), head, h)?;
            if a.details.logit_scale {
                // cohere's `logits * logit_scale`: a new tensor, nothing saved
                logits = g.push(Op::Add(Add), &[logits]);
            }
            let lf = g.push(Op::Cast(Cast { to: DType::F32 }), &[logits]);
            g.push(
                Op::CrossEntropy(CrossEntropy {
                    rows,
                    classes: a.vocab_size,
                    label_copies: vec![mul(b, add(s, 1)?)?, rows],
                }),
                &[lf, ids],
            );
            g.train_only_tail = 2;
            g.infer_output = Some(logits);
        }
        HeadKind::Base => {
            let hf = g.push(Op::Cast(Cast { to: DType::F32 }), &[h]);
            g.push(Op::SquareMean(SquareMean), &[hf]);
            g.train_only_tail = 2;
            g.infer_output = Some(h);
        }
        HeadKind::MaskedLm => {
            super::hf_masked_lm::head(g, lx, a, &st.names, (h, ids, rows))?
        }
        _ => {
            return Err(crate::Error::invalid(
                a.model_type.as_str(),
                "the memory model does not lower this head yet (base, causal-LM and masked-LM heads only)",
            ))
        }
    }
    Ok(())
}
