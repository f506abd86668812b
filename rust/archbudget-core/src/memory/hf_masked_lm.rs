//! The masked-LM head of an encoder whose type has no causal-LM class (distilbert's
//! `DistilBertForMaskedLM`), lowered after `hf.rs`'s encoder: `vocab_transform` (a
//! `hidden → hidden` Linear), the config's activation, `vocab_layer_norm`, the
//! `vocab_projector` (biased, tied to the word embeddings unless the config unties
//! them), and `nn.CrossEntropyLoss` on the `batch·seq × vocab` logits as they are: no
//! fp32 upcast and no shifted label copies, unlike the causal-LM loss.
use super::graph::{Graph, ValueId};
use super::hf_decoder::norm_op;
use super::hf_names::HfNames;
use super::lora::{Linears, Module};
use super::ops::*;
use super::Result;
use crate::arch::TransformerArch;

/// The head on the encoder's output `h` (`rows` = batch·seq tokens, `ids` the token ids
/// the labels are read beside).
pub(super) fn head(
    g: &mut Graph,
    lx: &mut Linears,
    a: &TransformerArch,
    names: &HfNames,
    (h, ids, rows): (ValueId, ValueId, u64),
) -> Result<()> {
    let hidden = a.hidden_size;
    let transform = Linear::new(rows, hidden, hidden, true);
    let t = lx.push(g, Module::linear(names.head_dense), transform, h)?;
    let t = g.push(
        Op::Act(Act {
            kind: super::hf_encoders::act_kind(&a.activation),
        }),
        &[t],
    );
    let t = g.push(norm_op(a.norm, rows, hidden), &[t]);
    let projector = Linear {
        rows,
        in_features: hidden,
        out_features: a.vocab_size,
        bias: true,
        tied_weight: a.tie_word_embeddings,
    };
    let logits = lx.push(g, names.lm_head(), projector, t)?;
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
    Ok(())
}
