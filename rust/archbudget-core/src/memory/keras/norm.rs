//! Normalization layers: BatchNorm, LayerNorm (and RMS scaling), GroupNorm, RMSNorm,
//! UnitNormalization.
use serde_json::Value;

use super::super::graph::{Graph, ValueId};
use super::super::ops::*;
use super::super::{mul, Result};
use super::site::Site;
use crate::error::Error;

/// A normalization layer as its PyTorch module.
pub(super) fn norm(g: &mut Graph, s: &Site, inputs: &[ValueId]) -> Result<ValueId> {
    let b = s.batch;
    let in_shape = s.input(0)?;
    Ok(match s.class {
        "BatchNormalization" => {
            // the channels on `axis` (1 in a channels_first model), the last by default
            let axis = s.cfg.get("axis").and_then(Value::as_i64).unwrap_or(-1);
            let rank = in_shape.len() as i64;
            let index = if axis < 0 { axis + rank } else { axis };
            let channels = usize::try_from(index)
                .ok()
                .and_then(|i| in_shape.get(i))
                .ok_or_else(|| {
                    Error::shape(
                        s.here,
                        format!("axis {axis} is out of range for an input of rank {rank}"),
                    )
                })?;
            g.push(
                Op::BatchNorm2d(BatchNorm2d {
                    channels: s.dim(*channels)?,
                }),
                inputs,
            )
        }
        "LayerNormalization" => {
            let d = s.last(in_shape)?;
            let rms = s.bool_of("rms_scaling", false);
            g.push(
                Op::LayerNorm(LayerNorm {
                    rows: s.numel(in_shape)? / d.max(1),
                    dim: d,
                    weight: s.bool_of("scale", true) || rms,
                    bias: s.bool_of("center", true) && !rms,
                }),
                inputs,
            )
        }
        "GroupNormalization" => {
            let channels = s.last(in_shape)?;
            let groups = match s.cfg.get("groups").and_then(Value::as_i64) {
                Some(-1) => channels, // one group per channel, as Keras reads it
                Some(g) => u64::try_from(g).unwrap_or(0),
                None => 32,
            };
            if groups == 0 || channels % groups != 0 {
                return Err(Error::shape(
                    s.here,
                    format!("{channels} channels do not split into {groups} groups"),
                ));
            }
            let (weight, bias) = (s.bool_of("scale", true), s.bool_of("center", true));
            if weight != bias {
                return Err(s.unsupported("with only one of scale and center"));
            }
            g.push(
                Op::GroupNorm(GroupNorm {
                    batch: b,
                    groups,
                    channels,
                    affine: weight,
                }),
                inputs,
            )
        }
        "RMSNormalization" => {
            let d = s.last(in_shape)?;
            g.push(
                Op::FusedRmsNorm(FusedRmsNorm {
                    rows: s.numel(in_shape)? / d.max(1),
                    dim: d,
                    weight: true,
                }),
                inputs,
            )
        }
        "UnitNormalization" => {
            let rank = in_shape.len() as i64;
            let axes: Vec<i64> = match s.cfg.get("axis") {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_i64).collect(),
                Some(x) => x.as_i64().into_iter().collect(),
                None => vec![-1],
            };
            let mut row = 1u64;
            for a in axes {
                let i = if a < 0 { a + rank } else { a };
                if i < 1 || i >= rank {
                    return Err(Error::shape(s.here, format!("axis {a} out of range")));
                }
                row = mul(row, s.dim(in_shape[i as usize])?)?;
            }
            g.push(
                Op::Normalize(Normalize {
                    rows: s.numel(in_shape)? / row.max(1),
                }),
                inputs,
            )
        }
        _ => return Err(s.unsupported("(not a normalization layer)")),
    })
}
