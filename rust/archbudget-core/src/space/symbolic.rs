//! A sweep's candidates evaluated from their structure's fitted expressions
//! (`memory::compiled::axes`) instead of building each one's step.
//!
//! A space's size axes (integer axes that change tensor sizes, not the events of the
//! step: an mlp's widths, a transformer's hidden and vocabulary sizes, batch and seq)
//! are the fitted model's variables; every other axis (depth, layer counts, heads,
//! flags, mode, precision, optimizer) is part of a structure's key. A structure is
//! fitted once it has been seen [`FIT_AT`] times, if it has half as many candidates
//! again or more; until then, and wherever the fit or a candidate's guard fails, the candidate's
//! step is built and estimated as before (`Evaluator::step`).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::family::{Counts, Evaluator, Metrics};
use super::{FamilyKind, Scalar, Space};
use crate::memory::compiled::axes::{AxisModel, AxisRange, Probed, MAX_AXES};

/// Sightings of a structure before it is fitted. A fit builds some 20 to 100 probes, each
/// costing about what a candidate's simulation does, so a structure is fitted once it has
/// cost about as much simulated: a sweep that meets each structure a few times (a top-k
/// by a cheap key, a shard) pays for no fit it does not use (`bench_sweep.py`'s 10⁶
/// llama space: fitting at the 4th sighting halved its plain path's rate).
pub const FIT_AT: u32 = 64;
const SHARDS: usize = 64;
/// Structures per shard before it is emptied.
const SHARD_ENTRIES: usize = 256;

enum Entry {
    Seen(u32),
    Fitting,
    Fitted(Arc<AxisModel>),
    Failed,
}

/// What the sweeps' fits and evaluations did, over every `Symbolic` of the process
/// (for benches and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub fitted: u64,
    pub failed: u64,
    pub probes: u64,
    pub evaluated: u64,
}

static STATS: Mutex<Stats> = Mutex::new(Stats {
    fitted: 0,
    failed: 0,
    probes: 0,
    evaluated: 0,
});

/// The counters since the last [`reset_stats`] (`evaluated` counts per fit, not per
/// candidate: see [`Symbolic::evaluated`]).
pub fn stats() -> Stats {
    STATS.lock().map(|s| *s).unwrap_or_default()
}

pub fn reset_stats() {
    if let Ok(mut s) = STATS.lock() {
        *s = Stats::default();
    }
}

pub struct Symbolic {
    /// Each size axis: its index in the space and its values.
    axes: Vec<(usize, Vec<i64>)>,
    ranges: Vec<AxisRange>,
    /// (axis index, stride) of the other axes: a structure's key.
    strides: Vec<(usize, u64)>,
    shards: Vec<Mutex<HashMap<u64, Entry>>>,
    evaluated: std::sync::atomic::AtomicU64,
    fit_at: u32,
}

/// The names of a family's size axes.
fn is_size(family: FamilyKind, name: &str) -> bool {
    match family {
        FamilyKind::Mlp => ["input_dim", "width", "classes", "batch"].contains(&name),
        FamilyKind::Cnn => ["channels", "filters", "classes", "batch"].contains(&name),
        FamilyKind::Lstm => ["vocab", "embed", "hidden", "seq", "classes", "batch"].contains(&name),
        FamilyKind::Hf => [
            "hidden_size",
            "intermediate_size",
            "vocab_size",
            "batch",
            "seq",
        ]
        .contains(&name),
        FamilyKind::Keras => {
            name == "batch" || name.ends_with(".units") || name.ends_with(".filters")
        }
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Symbolic {
    /// The size axes of `space` (integers ≥ 1, two values or more), or `None` where it
    /// has none or too few candidates per structure to fit at the `fit_at`-th sighting.
    pub fn new(space: &Space, fit_at: u32) -> Option<Symbolic> {
        let mut axes = Vec::new();
        let mut ranges = Vec::new();
        let mut strides = Vec::new();
        let mut stride = 1u64;
        let mut per_structure = 1u64;
        for (i, axis) in space.axes.iter().enumerate().rev() {
            let ints: Option<Vec<i64>> = axis
                .values
                .iter()
                .map(|v| match v {
                    Scalar::Int(x) if *x >= 1 => Some(*x),
                    _ => None,
                })
                .collect();
            let range = ints.as_ref().and_then(|v| {
                let min = *v.iter().min()?;
                let max = *v.iter().max()?;
                let step = v.iter().fold(0, |g, &x| gcd(x - min, g));
                (max > min).then_some(AxisRange { min, max, step })
            });
            match (is_size(space.family, &axis.name), ints, range) {
                (true, Some(values), Some(range)) if axes.len() < MAX_AXES => {
                    per_structure = per_structure.saturating_mul(values.len() as u64);
                    axes.push((i, values));
                    ranges.push(range);
                }
                _ => {
                    strides.push((i, stride));
                    stride = stride.saturating_mul(axis.values.len() as u64);
                }
            }
        }
        if axes.is_empty() || per_structure < fit_at as u64 * 3 / 2 {
            return None;
        }
        Some(Symbolic {
            axes,
            ranges,
            strides,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            evaluated: Default::default(),
            fit_at,
        })
    }

    /// Candidates this sweep evaluated from fitted expressions.
    pub fn evaluated(&self) -> u64 {
        self.evaluated.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The candidate's metrics from its structure's fitted expressions, or `None`: the
    /// caller builds its step (and names its errors).
    pub fn metrics(&self, eval: &Evaluator, digits: &[usize]) -> Option<Metrics> {
        let key: u64 = self
            .strides
            .iter()
            .map(|&(i, stride)| (digits[i] as u64).wrapping_mul(stride))
            .fold(0, u64::wrapping_add);
        let shard = &self.shards[(key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize];
        let model = {
            let mut map = shard.lock().ok()?;
            if map.len() >= SHARD_ENTRIES && !map.contains_key(&key) {
                map.clear();
            }
            let entry = map.entry(key).or_insert(Entry::Seen(0));
            match entry {
                Entry::Fitted(m) => m.clone(),
                Entry::Fitting | Entry::Failed => return None,
                Entry::Seen(n) if *n + 1 < self.fit_at => {
                    *n += 1;
                    return None;
                }
                Entry::Seen(_) => {
                    *entry = Entry::Fitting;
                    drop(map);
                    let fitted = self.fit(eval.space(), digits).map(Arc::new);
                    if let Ok(mut s) = STATS.lock() {
                        match &fitted {
                            Some(m) => {
                                s.fitted += 1;
                                s.probes += m.probes as u64;
                            }
                            None => s.failed += 1,
                        }
                    }
                    let mut map = shard.lock().ok()?;
                    let entry = match &fitted {
                        Some(m) => Entry::Fitted(m.clone()),
                        None => Entry::Failed,
                    };
                    map.insert(key, entry);
                    fitted?
                }
            }
        };
        // a transformers config the structure cache cannot read is the step's error
        if eval.space().family == FamilyKind::Hf {
            eval.hf_structure(digits).ok()?;
        }
        let mut point = [0i64; MAX_AXES];
        for (p, (i, values)) in point.iter_mut().zip(&self.axes) {
            *p = values[digits[*i]];
        }
        let (report, extras) = model.evaluate(&point[..self.axes.len()])?;
        self.evaluated
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(decode(&extras)?.metrics(&report))
    }

    /// Fits the structure of the candidate at `digits`: its step built at points of the
    /// size axes' lattices, the other axes as the candidate has them.
    fn fit(&self, space: &Space, digits: &[usize]) -> Option<AxisModel> {
        let mut probe_space = space.clone();
        let mut probe_digits = digits.to_vec();
        for (i, _) in &self.axes {
            probe_digits[*i] = 0;
        }
        let mut probe = |point: &[i64]| -> Option<Probed> {
            for ((i, _), &v) in self.axes.iter().zip(point) {
                probe_space.axes[*i].values = vec![Scalar::Int(v)];
            }
            let step = Evaluator::building(&probe_space).step(&probe_digits).ok()?;
            Some(Probed {
                graph: step.graph,
                run: step.run,
                extras: encode(step.counts),
            })
        };
        AxisModel::fit(&self.ranges, &mut probe).or_else(|| {
            // the smallest sizes are often a regime of their own (one token per expert,
            // a sequence no longer than a sliding window, a position table not sliced):
            // fitted without them, their candidates' steps built
            let inner: Vec<AxisRange> = self
                .ranges
                .iter()
                .map(|&a| match (a.max - a.min) / a.step {
                    3.. => AxisRange {
                        min: a.min + a.step,
                        ..a
                    },
                    _ => a,
                })
                .collect();
            (inner != self.ranges)
                .then(|| AxisModel::fit(&inner, &mut probe))
                .flatten()
        })
    }
}

/// `Counts` as fitted numbers: its kind, then its counts.
fn encode(counts: Counts) -> Vec<u64> {
    match counts {
        Counts::Report => vec![0],
        Counts::Adapters => vec![1],
        Counts::Counted {
            params,
            trainable,
            active,
        } => vec![2, params, trainable, active],
    }
}

fn decode(extras: &[u64]) -> Option<Counts> {
    Some(match extras {
        [0] => Counts::Report,
        [1] => Counts::Adapters,
        [2, params, trainable, active] => Counts::Counted {
            params: *params,
            trainable: *trainable,
            active: *active,
        },
        _ => return None,
    })
}
