//! The MLPs of transformers decoder and encoder blocks: the dense MLP (plain or gated)
//! and the sparse mixture of experts, their linears named as each type names them
//! (for LoRA targets and quantization, [`super::lora::Linears`]).
use super::graph::{Graph, ValueId};
use super::hf_names::HfNames;
use super::lora::{Linears, Module};
use super::ops::*;
use super::{mul, Result};
use crate::arch::{Moe, RouterScoring};

/// A dense MLP: `down(act(gate(x)) * up(x))` when gated, else `down(act(up(x)))`.
pub(super) struct Mlp {
    pub rows: u64,
    pub hidden: u64,
    pub inter: u64,
    pub gated: bool,
    pub bias: bool,
    pub act: ActKind,
}

impl Mlp {
    fn lin(&self, inp: u64, out: u64) -> Linear {
        Linear {
            rows: self.rows,
            in_features: inp,
            out_features: out,
            bias: self.bias,
            tied_weight: false,
        }
    }

    /// The MLP of a transformers model, its linears named as the type names them.
    pub(super) fn push_named(
        &self,
        g: &mut Graph,
        x: ValueId,
        lx: &mut Linears,
        names: &HfNames,
    ) -> Result<ValueId> {
        self.push_inner(g, x, &[], Some((lx, names)))
    }

    /// The MLP with `before_down` applied in order to the inner activation before the
    /// down projection (t5's inner dropout and its cast to `wo`'s dtype).
    pub(super) fn push_with(&self, g: &mut Graph, x: ValueId, before_down: &[Op]) -> ValueId {
        self.push_inner(g, x, before_down, None)
            .expect("plain linears push without error")
    }

    fn push_inner(
        &self,
        g: &mut Graph,
        x: ValueId,
        before_down: &[Op],
        mut named: Option<(&mut Linears, &HfNames)>,
    ) -> Result<ValueId> {
        let (h, i) = (self.hidden, self.inter);
        let act = Op::Act(Act { kind: self.act });
        // phi3's fused `gate_up_proj` runs here as its two halves (`chunk(2)`)
        let mut linear =
            |g: &mut Graph, name: fn(&HfNames) -> &'static str, part, l: Linear, x| match named
                .as_mut()
            {
                Some((lx, names)) => {
                    let part = if names.fused_gate_up { part } else { None };
                    lx.push_part(g, Module::linear(name(names)), l, x, part)
                }
                None => Ok(g.push(Op::Linear(l), &[x])),
            };
        let inner = if self.gated {
            let gt = linear(g, |n| n.gate, Some(true), self.lin(h, i), x)?;
            let up = linear(g, |n| n.up, Some(false), self.lin(h, i), x)?;
            let sg = g.push(act, &[gt]);
            g.push(Op::Mul(Mul), &[sg, up])
        } else {
            let f = linear(g, |n| n.up, None, self.lin(h, i), x)?;
            g.push(act, &[f])
        };
        let inner = before_down
            .iter()
            .fold(inner, |v, op| g.push(op.clone(), &[v]));
        linear(g, |n| n.down, None, self.lin(i, h), inner)
    }
}

/// A sparse MoE block (`MixtralSparseMoeBlock`, `Qwen2MoeSparseMoeBlock`) on `x`: qwen2_moe's
/// shared expert first (a gated MLP), the router's `Linear` and top-k, the routed experts,
/// then the shared expert scaled by `sigmoid(shared_expert_gate(x))` and added.
#[allow(clippy::too_many_arguments)]
pub(super) fn sparse_moe(
    g: &mut Graph,
    lx: &mut Linears,
    model_type: &str,
    moe: &Moe,
    x: ValueId,
    rows: u64,
    hidden: u64,
    act: ActKind,
) -> Result<ValueId> {
    if moe.experts_per_token == 0 {
        return Err(crate::Error::invalid(
            "num_experts_per_tok",
            "is not set, so the router cannot choose experts; set it in the config",
        ));
    }
    if moe.experts_per_token > moe.num_experts {
        return Err(crate::Error::invalid(
            "num_experts_per_tok",
            format!(
                "routes each token to {} experts but the model has {}",
                moe.experts_per_token, moe.num_experts
            ),
        ));
    }
    let shared = (moe.shared_expert_intermediate_size > 0).then(|| {
        let mlp = Mlp {
            rows,
            hidden,
            inter: moe.shared_expert_intermediate_size,
            gated: true,
            bias: moe.shared_expert_bias,
            act,
        };
        mlp.push_named(g, x, lx, &HfNames::of(model_type))
    });
    let shared = shared.transpose()?;
    let router = |out_features, bias| Linear {
        rows,
        in_features: hidden,
        out_features,
        bias,
        tied_weight: false,
    };
    let logits = lx.push(
        g,
        HfNames::router(model_type),
        router(moe.num_experts, moe.router_bias),
        x,
    )?;
    let weights = g.push(
        Op::Router(Router {
            rows,
            experts: moe.num_experts,
            top_k: moe.experts_per_token,
            renormalize: moe.renormalize,
            cast_to_logits: moe.weights_in_logits_dtype,
            scoring: moe.scoring,
        }),
        &[logits],
    );
    let inter = moe.expert_intermediate_size;
    let mut inputs = vec![x, weights];
    let (gate_up, down) = lx.experts_targets(model_type)?;
    for (on, in_features, out_features, rank_factor) in [
        (gate_up, hidden, mul(2, inter)?, 2),
        (down, inter, hidden, 1),
    ] {
        if let (true, Some(lora)) = (on, lx.lora()) {
            let first = g.nodes.len();
            let op = ExpertsLora {
                experts: moe.num_experts,
                in_features,
                out_features,
                rank: mul(lora.rank, rank_factor)?,
            };
            inputs.push(g.push(Op::ExpertsLora(op), &[]));
            lx.adapter(first..g.nodes.len());
        }
    }
    let mut out = g.push(
        Op::MoeExperts(MoeExperts {
            rows,
            hidden,
            inter,
            experts: moe.num_experts,
            // llama4 runs every expert on every token (unchosen ones weighted 0)
            top_k: match moe.scoring {
                RouterScoring::DenseSigmoid => moe.num_experts,
                _ => moe.experts_per_token,
            },
            lora: (gate_up, down),
            bias: moe.expert_bias,
            clamped_swiglu: moe.expert_bias,
            mxfp4: lx.quant().is_some_and(|q| q.converts_experts()),
        }),
        &inputs,
    );
    if let Some(mut s) = shared {
        if moe.shared_expert_gate {
            let gl = lx.push(g, Module::linear("shared_expert_gate"), router(1, false), x)?;
            let sg = g.push(
                Op::Act(Act {
                    kind: ActKind::Sigmoid,
                }),
                &[gl],
            );
            s = g.push(Op::Mul(Mul), &[sg, s]);
        }
        out = g.push(Op::Add(Add), &[out, s]);
    }
    Ok(out)
}
