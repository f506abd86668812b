//! What a candidate of each family is, and its metrics: the very rules of `summary`
//! (Keras, transformers) and `memory` (PyTorch), applied to the candidate's model.
use super::{space_err, FamilyKind, Scalar, Space, RUN_KEYS};
use crate::error::Result;
use crate::memory::families::{Cnn, LstmNet, Mlp};
use crate::memory::{AttnImpl, Breakdown, MemoryReport, Mode, Optimizer, Precision, RunSettings};

/// Everything a sweep row reports besides the axis values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Metrics {
    /// Counted as the framework that runs the model does (PyTorch for mlp, cnn, lstm and
    /// hf; Keras for the keras family).
    pub params: u64,
    pub trainable_params: u64,
    pub peak_bytes: u64,
    pub flops_fwd: u64,
    pub flops_fwd_bwd: u64,
    pub breakdown: Breakdown,
}

/// The metric columns, in output order.
pub const METRIC_NAMES: [&str; 13] = [
    "params",
    "trainable_params",
    "peak_bytes",
    "flops_fwd",
    "flops_fwd_bwd",
    "weights_bytes",
    "gradients_bytes",
    "optimizer_bytes",
    "activations_bytes",
    "activation_grads_bytes",
    "inputs_bytes",
    "autocast_copies_bytes",
    "transients_bytes",
];

impl Metrics {
    pub fn values(&self) -> [u64; 13] {
        let b = &self.breakdown;
        [
            self.params,
            self.trainable_params,
            self.peak_bytes,
            self.flops_fwd,
            self.flops_fwd_bwd,
            b.weights,
            b.gradients,
            b.optimizer,
            b.activations,
            b.activation_grads,
            b.inputs,
            b.autocast_copies,
            b.transients,
        ]
    }

    fn from_report(r: &MemoryReport, trainable: u64) -> Metrics {
        Metrics {
            params: r.params,
            trainable_params: trainable,
            peak_bytes: r.peak_bytes,
            flops_fwd: r.flops_fwd,
            flops_fwd_bwd: r.flops_fwd_bwd,
            breakdown: r.breakdown,
        }
    }
}

const MLP: [&str; 4] = ["input_dim", "depth", "width", "classes"];
const CNN: [&str; 7] = ["image", "channels", "stages", "convs", "filters", "batchnorm", "classes"];
const LSTM: [&str; 6] = ["vocab", "embed", "hidden", "layers", "seq", "classes"];

fn family_params(kind: FamilyKind) -> &'static [&'static str] {
    match kind {
        FamilyKind::Mlp => &MLP,
        FamilyKind::Cnn => &CNN,
        FamilyKind::Lstm => &LSTM,
        FamilyKind::Hf | FamilyKind::Keras => &[],
    }
}

/// Every name of the space must mean something to its family, and every parameter a
/// family needs must be given.
pub fn check_names(space: &Space) -> Result<()> {
    let names = space.axes.iter().map(|a| a.name.as_str()).chain(space.fixed.iter().map(|(n, _)| n.as_str()));
    match space.family {
        FamilyKind::Mlp | FamilyKind::Cnn | FamilyKind::Lstm => {
            let params = family_params(space.family);
            for name in names {
                if !params.contains(&name) && !RUN_KEYS.contains(&name) {
                    return Err(space_err(&space.location, format!("'{name}' is not a parameter of this family (expected {})", params.join(", "))));
                }
            }
            for p in params {
                if space.value(p, &vec![0; space.axes.len()]).is_none() {
                    return Err(space_err(&space.location, format!("the family needs '{p}' in [fixed] or [axes]")));
                }
            }
        }
        FamilyKind::Hf | FamilyKind::Keras => {}
    }
    Ok(())
}

/// A candidate: the space and the digits of its axis values.
pub struct Candidate<'a> {
    pub space: &'a Space,
    pub digits: &'a [usize],
}

impl Candidate<'_> {
    fn scalar(&self, name: &str) -> Option<&Scalar> {
        self.space.value(name, self.digits)
    }

    fn int(&self, name: &str, min: u64) -> Result<u64> {
        let v = self.scalar(name).ok_or_else(|| space_err(&self.space.location, format!("missing '{name}'")))?;
        match v.as_i64() {
            Some(i) if i >= min as i64 => Ok(i as u64),
            _ => Err(space_err(&self.space.location, format!("'{name}' must be an integer ≥ {min}, got {v:?}"))),
        }
    }

    fn flag(&self, name: &str, default: bool) -> Result<bool> {
        match self.scalar(name) {
            None => Ok(default),
            Some(Scalar::Bool(b)) => Ok(*b),
            Some(v) => Err(space_err(&self.space.location, format!("'{name}' must be true or false, got {v:?}"))),
        }
    }

    fn text(&self, name: &str, default: &'static str) -> Result<&str> {
        match self.scalar(name) {
            None => Ok(default),
            Some(Scalar::Str(s)) => Ok(s),
            Some(v) => Err(space_err(&self.space.location, format!("'{name}' must be a string, got {v:?}"))),
        }
    }

    /// Run settings: SPEC.md defaults (train, fp32, adamw, sdpa), batch 1.
    pub fn run(&self) -> Result<RunSettings> {
        let loc = |e: crate::Error| space_err(&self.space.location, e.to_string());
        Ok(RunSettings {
            mode: Mode::parse(self.text("mode", "train")?).map_err(loc)?,
            batch: if self.scalar("batch").is_some() { self.int("batch", 1)? } else { 1 },
            seq: if self.scalar("seq").is_some() { self.int("seq", 1)? } else { 1 },
            precision: Precision::parse(self.text("precision", "fp32")?).map_err(loc)?,
            optimizer: Optimizer::parse(self.text("optimizer", "adamw")?).map_err(loc)?,
            attn: AttnImpl::parse(self.text("attn", "sdpa")?).map_err(loc)?,
            grad_ckpt: self.flag("grad_ckpt", false)?,
        })
    }

    fn mlp(&self) -> Result<Mlp> {
        Ok(Mlp { input_dim: self.int("input_dim", 1)?, depth: self.int("depth", 0)?, width: self.int("width", 1)?, classes: self.int("classes", 1)? })
    }

    fn cnn(&self) -> Result<Cnn> {
        Ok(Cnn {
            image: self.int("image", 1)?,
            channels: self.int("channels", 1)?,
            stages: self.int("stages", 0)?,
            convs: self.int("convs", 1)?,
            filters: self.int("filters", 1)?,
            batchnorm: self.flag("batchnorm", false)?,
            classes: self.int("classes", 1)?,
        })
    }

    fn lstm(&self) -> Result<LstmNet> {
        Ok(LstmNet {
            vocab: self.int("vocab", 1)?,
            embed: self.int("embed", 1)?,
            hidden: self.int("hidden", 1)?,
            layers: self.int("layers", 1)?,
            seq: self.int("seq", 1)?,
            classes: self.int("classes", 1)?,
        })
    }

    /// Parameter counts only: cheap, so that a params budget cuts candidates before
    /// their memory is simulated. Returns (params, trainable).
    pub fn params(&self) -> Result<(u64, u64)> {
        let p = match self.space.family {
            FamilyKind::Mlp => mlp_params(&self.mlp()?),
            _ => return self.metrics().map(|m| (m.params, m.trainable_params)),
        };
        p.map(|p| (p, p)).ok_or_else(|| crate::Error::overflow(&self.space.location, "the parameter count"))
    }

    /// All metrics of the candidate.
    pub fn metrics(&self) -> Result<Metrics> {
        let run = self.run()?;
        let report = match self.space.family {
            FamilyKind::Mlp => self.mlp()?.estimate(&run)?,
            FamilyKind::Cnn => self.cnn()?.estimate(&run)?,
            FamilyKind::Lstm => self.lstm()?.estimate(&run)?,
            FamilyKind::Hf | FamilyKind::Keras => {
                return Err(space_err(&self.space.location, "the hf and keras families are not wired to the sweep yet"))
            }
        };
        // Every parameter of the PyTorch families trains.
        Ok(Metrics::from_report(&report, report.params))
    }
}

/// The parameters of `Mlp`'s Linear layers (weight in×out + bias out each), the closed
/// form of what its graph declares (tested equal in `tests`).
pub fn mlp_params(m: &Mlp) -> Option<u64> {
    let first = if m.depth == 0 { (m.input_dim + 1).checked_mul(m.classes)? } else { (m.input_dim + 1).checked_mul(m.width)? };
    let hidden = (m.width + 1).checked_mul(m.width)?.checked_mul(m.depth.saturating_sub(1))?;
    let head = if m.depth == 0 { 0 } else { (m.width + 1).checked_mul(m.classes)? };
    first.checked_add(hidden)?.checked_add(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlp_closed_form_equals_its_graph() {
        for input_dim in [1, 7, 784] {
            for depth in [0, 1, 2, 5] {
                for width in [1, 16, 512] {
                    for classes in [1, 10] {
                        let m = Mlp { input_dim, depth, width, classes };
                        let report = m.estimate(&RunSettings::default()).unwrap();
                        assert_eq!(mlp_params(&m), Some(report.params), "{m:?}");
                    }
                }
            }
        }
    }
}
