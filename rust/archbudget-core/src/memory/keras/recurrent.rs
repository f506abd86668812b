//! LSTM, GRU and SimpleRNN (bidirectional when wrapped): a chain returning sequences
//! becomes one multi-layer `nn.LSTM` / `nn.GRU` / `nn.RNN`.
use super::super::graph::{Graph, ValueId};
use super::super::ops::*;
use super::super::{mul, Result};
use super::layer::average;
use super::site::{wrapped, Site};
use super::Lowering;
use crate::error::Error;

impl Lowering<'_> {
    /// A Keras LSTM, GRU or SimpleRNN (bidirectional when wrapped): extends the
    /// multi-layer RNN it continues, or starts one.
    pub(super) fn lower_rnn(
        &mut self,
        g: &mut Graph,
        s: &Site,
        bidirectional: bool,
        inputs: &[ValueId],
    ) -> Result<ValueId> {
        let kind = match s.class {
            "LSTM" => RnnKind::Lstm,
            "GRU" => RnnKind::Gru,
            "SimpleRNN" => RnnKind::Tanh,
            _ => return Err(s.unsupported("(wrapped by Bidirectional)")),
        };
        // return_state: the states are further outputs of the call, lowered for no
        // consumer (one that reads them gets the clean error of `Lowering::input`).
        // go_backwards: the RNN runs on `x.flip(1)`, a copy; wrapped by Bidirectional
        // it would swap the directions, which has no lowering.
        let backwards = s.bool_of("go_backwards", false);
        if backwards && bidirectional {
            return Err(s.unsupported("with go_backwards (wrapped by Bidirectional)"));
        }
        let x = if backwards {
            g.push(Op::Copy(Copy::default()), &inputs[..1])
        } else {
            inputs[0]
        };
        let hidden = s.u64_of("units")?;
        let in_shape = s.input(0)?;
        let seq = in_shape
            .get(1)
            .copied()
            .flatten()
            .ok_or_else(|| Error::shape(s.here, "memory needs the sequence length known"))?;
        let input_size = in_shape
            .get(2)
            .copied()
            .flatten()
            .ok_or_else(|| Error::shape(s.here, "memory needs the feature size known"))?;
        let continues = self.open_rnn.get(&x).copied().filter(|&node| {
            matches!(&g.nodes[node].op, Op::Rnn(r)
                if r.kind == kind && r.hidden == hidden && r.bidirectional == bidirectional)
        });
        let seq_out = match continues {
            Some(node) => {
                if let Op::Rnn(r) = &mut g.nodes[node].op {
                    r.layers += 1;
                }
                x
            }
            None => g.push(
                Op::Rnn(Rnn {
                    kind,
                    batch: s.batch,
                    seq,
                    input_size,
                    hidden,
                    layers: 1,
                    bidirectional,
                    spaces: CudnnRnnSpaces::H100,
                }),
                &[x],
            ),
        };
        let node = self
            .open_rnn
            .remove(&x)
            .filter(|_| continues.is_some())
            .unwrap_or(g.nodes.len() - 1);
        if s.bool_of("return_sequences", false) {
            let single_consumer = s
                .key
                .is_some_and(|(li, ni)| self.consumers.get(&(li, ni, 0)).copied() == Some(1));
            if single_consumer {
                self.open_rnn.insert(seq_out, node);
            }
            return Ok(seq_out);
        }
        // h[:, -1]: both directions' outputs at the last step
        let out_numel = mul(mul(s.batch, hidden)?, 1 + bidirectional as u64)?;
        Ok(g.push(Op::SelectLast(SelectLast { out_numel }), &[seq_out]))
    }

    /// Bidirectional(LSTM/GRU/SimpleRNN): one bidirectional RNN, its two directions
    /// concatenated, or split and merged by `merge_mode`.
    pub(super) fn bidirectional(
        &mut self,
        g: &mut Graph,
        s: &Site,
        inputs: &[ValueId],
    ) -> Result<ValueId> {
        // merge_mode is always recorded; null means the two directions apart
        let merge = match s.cfg.get("merge_mode") {
            None => "concat",
            Some(m) => m.as_str().unwrap_or("None"),
        };
        if !matches!(merge, "concat" | "sum" | "ave" | "mul") {
            return Err(s.unsupported(&format!("with merge_mode {merge}")));
        }
        let (class, cfg) = wrapped(s)?;
        let inner = Site { class, cfg, ..*s };
        let out = self.lower_rnn(g, &inner, true, inputs)?;
        if merge == "concat" {
            Ok(out)
        } else {
            // out[..., :H] and out[..., H:] combined: a new tensor, so no later
            // layer continues this RNN
            self.open_rnn.remove(&out);
            let half = s.numel(s.out)?;
            let split = Op::SelectLast(SelectLast { out_numel: half });
            let fwd = g.push(split.clone(), &[out]);
            let bwd = g.push(split, &[out]);
            Ok(match merge {
                "sum" => g.push(Op::Add(Add), &[fwd, bwd]),
                "mul" => g.push(Op::Mul(Mul), &[fwd, bwd]),
                _ => average(g, &[fwd, bwd]),
            })
        }
    }
}
