//! One Keras layer call as the lowering sees it: its class, config and shapes, and
//! the readers of its config that every layer family shares.
use serde_json::Value;

use super::super::graph::{Graph, ValueId};
use super::super::ops::*;
use super::super::{mul, Result};
use crate::error::Error;
use crate::shape::Shape;

/// Elements of `shape` at the run's batch.
pub(super) fn numel(batch: u64, shape: &Shape, location: &str) -> Result<u64> {
    shape[1.min(shape.len())..]
        .iter()
        .try_fold(batch, |acc, d| {
            let d = d.ok_or_else(|| Error::shape(location, UNKNOWN_DIM))?;
            mul(acc, d)
        })
}

pub(super) const UNKNOWN_DIM: &str =
    "memory needs every non-batch dimension known (give --seq for an unknown time axis)";

/// Keras activations by what their PyTorch backward keeps, which is all that matters to
/// bytes: ReLU its output (aliasable in place); tanh, sigmoid and softmax their output;
/// GELU its input; SiLU, ReLU6, ELU, SELU, leaky ReLU and the hard variants their input
/// (`elu` is `elu_backward(…, is_result=false, self)` unless run in place).
pub(in crate::memory) fn activation_op(name: &str, location: &str) -> Result<Option<ActKind>> {
    Ok(match name {
        "linear" | "" => None,
        "relu" => Some(ActKind::Relu),
        "gelu" => Some(ActKind::Gelu),
        "tanh" | "sigmoid" | "softmax" => Some(ActKind::Tanh),
        "silu" | "swish" | "relu6" | "elu" | "leaky_relu" | "hard_sigmoid" | "hard_silu" | "hard_swish" | "selu" | "mish" => Some(ActKind::Silu),
        other => {
            return Err(Error::invalid(
                location,
                format!("memory: activation '{other}' has no PyTorch lowering yet (relu, gelu, silu, tanh, sigmoid, softmax, elu, relu6, leaky_relu, hard_sigmoid, hard_silu, selu, mish)"),
            ))
        }
    })
}

pub(super) type Config = serde_json::Map<String, Value>;

/// One layer call to lower: the layer's class and config, and the shapes it sees.
pub(super) struct Site<'a> {
    pub(super) class: &'a str,
    pub(super) cfg: &'a Config,
    /// Input shapes, batch dimension first, as Keras records them.
    pub(super) ins: &'a [Shape],
    pub(super) out: &'a Shape,
    /// The call's batch: the run's, times the time axis folded in by TimeDistributed.
    pub(super) batch: u64,
    pub(super) here: &'a str,
    /// (layer, call) of a model-level call; None inside a wrapper. RNN chains continue
    /// only through model-level calls, whose consumers are known.
    pub(super) key: Option<(usize, usize)>,
}

impl Site<'_> {
    pub(super) fn dim(&self, d: Option<u64>) -> Result<u64> {
        d.ok_or_else(|| Error::shape(self.here, UNKNOWN_DIM))
    }
    pub(super) fn input(&self, i: usize) -> Result<&Shape> {
        self.ins.get(i).ok_or_else(|| {
            Error::invalid(self.here, format!("memory: {} needs input {i}", self.class))
        })
    }
    pub(super) fn last(&self, s: &Shape) -> Result<u64> {
        self.dim(s.last().copied().flatten())
    }
    pub(super) fn numel(&self, s: &Shape) -> Result<u64> {
        numel(self.batch, s, self.here)
    }
    pub(super) fn str_of(&self, k: &str) -> &str {
        self.cfg.get(k).and_then(Value::as_str).unwrap_or("")
    }
    pub(super) fn bool_of(&self, k: &str, d: bool) -> bool {
        self.cfg.get(k).and_then(Value::as_bool).unwrap_or(d)
    }
    pub(super) fn f64_of(&self, k: &str, d: f64) -> f64 {
        self.cfg.get(k).and_then(Value::as_f64).unwrap_or(d)
    }
    pub(super) fn u64_of(&self, k: &str) -> Result<u64> {
        self.cfg
            .get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::invalid(self.here, format!("missing or non-integer '{k}'")))
    }
    /// `n` per-dimension integers of `k` (one integer or a list); None when absent or null.
    pub(super) fn ints(&self, k: &str, n: usize) -> Result<Option<Vec<u64>>> {
        let bad = || Error::invalid(self.here, format!("'{k}' must be {n} positive integers"));
        let v: Vec<u64> = match self.cfg.get(k) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(Value::as_u64)
                .collect::<Option<_>>()
                .ok_or_else(bad)?,
            Some(x) => vec![x.as_u64().ok_or_else(bad)?],
        };
        match v.len() {
            _ if v.contains(&0) => Err(bad()),
            1 => Ok(Some(vec![v[0]; n])),
            l if l == n => Ok(Some(v)),
            _ => Err(bad()),
        }
    }
    /// Spatial sizes and channels of `s` (1 to 3 spatial dims), after `data_format`.
    pub(super) fn spatial(&self, s: &Shape) -> Result<(Vec<u64>, u64)> {
        if !(3..=5).contains(&s.len()) {
            return Err(Error::shape(
                self.here,
                format!("memory: {} needs 1 to 3 spatial dimensions", self.class),
            ));
        }
        let dims = s[1..]
            .iter()
            .map(|&d| self.dim(d))
            .collect::<Result<Vec<_>>>()?;
        Ok(if self.str_of("data_format") == "channels_first" {
            (dims[1..].to_vec(), dims[0])
        } else {
            (dims[..dims.len() - 1].to_vec(), dims[dims.len() - 1])
        })
    }
    /// The config's `activation` as its own op after `v`.
    pub(super) fn activate(&self, g: &mut Graph, v: ValueId) -> Result<ValueId> {
        Ok(match activation_op(self.str_of("activation"), self.here)? {
            Some(kind) => g.push(Op::Act(Act { kind }), &[v]),
            None => v,
        })
    }
    pub(super) fn unsupported(&self, what: &str) -> Error {
        Error::invalid(
            self.here,
            format!("memory: {} {what} has no PyTorch lowering yet", self.class),
        )
    }
}

/// The class and config of the layer a wrapper (Bidirectional, TimeDistributed) holds.
pub(super) fn wrapped<'a>(s: &Site<'a>) -> Result<(&'a str, &'a Config)> {
    let inner = s.cfg.get("layer");
    let class = inner
        .and_then(|l| l.get("class_name"))
        .and_then(Value::as_str);
    let cfg = inner
        .and_then(|l| l.get("config"))
        .and_then(Value::as_object);
    class
        .zip(cfg)
        .ok_or_else(|| Error::invalid(s.here, "wrapped layer has no 'class_name' and 'config'"))
}
