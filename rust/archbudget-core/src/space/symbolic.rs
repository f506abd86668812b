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
//!
//! A structure is fitted piece by piece: where the step is not one polynomial over the
//! whole box of its axes' values (a rule that changes regime inside the range: a
//! convolution's workspace from 16 input channels on, an LSTM's widest layer input
//! `max(embed, hidden)`), the fit says along which axis (`axes::Misfit`) and the box is
//! halved there, keeping the half the candidate lies in, until a piece fits; a later
//! candidate outside every piece fits its own. Each piece is exact on its own box.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::family::{Counts, Evaluator, Metrics};
use super::{FamilyKind, Scalar, Space};
use crate::memory::compiled::axes::{AxisModel, AxisRange, Coords, Misfit, Probed, MAX_AXES};

/// Sightings of a structure before it is fitted. A fit builds some 20 to 100 probes, each
/// costing about what a candidate's simulation does, so a structure is fitted once it has
/// cost about as much simulated: a sweep that meets each structure a few times (a top-k
/// by a cheap key, a shard) pays for no fit it does not use (`bench_sweep.py`'s 10⁶
/// llama space: fitting at the 4th sighting halved its plain path's rate).
pub const FIT_AT: u32 = 64;
const SHARDS: usize = 64;
/// Structures per shard before it is emptied.
const SHARD_ENTRIES: usize = 256;
/// Pieces (fitted or failed) per structure, and fits tried per piece, at most: a
/// structure whose regimes cut its box finer is left to the simulator.
const PIECES: usize = 16;
const SPLITS: usize = 8;

/// A box of the size axes' values (per axis, smallest and largest, inclusive) and its
/// fitted model (`None`: its fit failed, its candidates are built).
struct Piece {
    lo: [i64; MAX_AXES],
    hi: [i64; MAX_AXES],
    model: Option<Arc<AxisModel>>,
    /// Per size axis, by digit, the value's coordinates in the model (`None`: off its
    /// lattice or outside the box), computed once rather than per candidate.
    coords: Vec<Vec<Option<Coords>>>,
}

impl Piece {
    fn contains(&self, point: &[i64]) -> bool {
        point
            .iter()
            .zip(self.lo.iter().zip(&self.hi))
            .all(|(x, (lo, hi))| lo <= x && x <= hi)
    }
}

#[derive(Default)]
struct Entry {
    /// Candidates outside every piece so far.
    seen: u32,
    fitting: bool,
    pieces: Vec<Arc<Piece>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Candidates a thread counts before it adds them to its sweep's count: one shared
/// counter bumped per candidate would bounce between the cores of a parallel sweep.
const PENDING_MOST: u64 = 1 << 12;

thread_local! {
    /// The count of the sweep this thread evaluated last, and its candidates not yet
    /// added to it.
    static PENDING: std::cell::RefCell<Option<(Arc<AtomicU64>, u64)>> =
        const { std::cell::RefCell::new(None) };
    /// The piece this thread used last, with its sweep's id and structure key: a sweep's
    /// next candidate is mostly of the same structure and piece (its fastest axes are
    /// batch and sizes), found without the shard's lock.
    static LAST_PIECE: std::cell::RefCell<Option<(u64, u64, Arc<Piece>)>> =
        const { std::cell::RefCell::new(None) };
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
    /// This sweep's number among the process's (the key of `LAST_PIECE`).
    id: u64,
    /// Each size axis: its index in the space and its values.
    axes: Vec<(usize, Vec<i64>)>,
    /// Each size axis's distinct values, ascending: the pieces' boxes are ranges of them.
    sorted: Vec<Vec<i64>>,
    /// (axis index, stride) of the other axes: a structure's key.
    strides: Vec<(usize, u64)>,
    shards: Vec<Mutex<HashMap<u64, Entry>>>,
    /// Candidates evaluated from fits, but those still counted per thread (`PENDING`).
    evaluated: Arc<AtomicU64>,
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
            let several = ints.as_ref().is_some_and(|v| v.iter().any(|&x| x != v[0]));
            match (is_size(space.family, &axis.name), ints) {
                (true, Some(values)) if several && axes.len() < MAX_AXES => {
                    per_structure = per_structure.saturating_mul(values.len() as u64);
                    axes.push((i, values));
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
        let sorted = axes
            .iter()
            .map(|(_, values)| {
                let mut v = values.clone();
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect();
        Some(Symbolic {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            axes,
            sorted,
            strides,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            evaluated: Arc::default(),
            fit_at,
        })
    }

    /// Candidates this sweep evaluated from fitted expressions: exact for this thread's,
    /// short by at most [`PENDING_MOST`] for each other thread that evaluated some.
    pub fn evaluated(&self) -> u64 {
        let mine = PENDING.with(|pending| match &*pending.borrow() {
            Some((counter, n)) if Arc::ptr_eq(counter, &self.evaluated) => *n,
            _ => 0,
        });
        self.evaluated.load(Ordering::Relaxed) + mine
    }

    /// Counts one candidate evaluated from fits, on this thread until [`PENDING_MOST`]
    /// or another sweep's candidate.
    fn count_evaluated(&self) {
        PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            match &mut *pending {
                Some((counter, n))
                    if Arc::ptr_eq(counter, &self.evaluated) && *n < PENDING_MOST =>
                {
                    *n += 1
                }
                other => {
                    if let Some((counter, n)) = other.take() {
                        counter.fetch_add(n, Ordering::Relaxed);
                    }
                    *other = Some((self.evaluated.clone(), 1));
                }
            }
        });
    }

    /// The candidate's metrics from its structure's fitted expressions into `out`, or
    /// `None`: the caller builds its step (and names its errors).
    #[inline]
    pub fn metrics(&self, eval: &Evaluator, digits: &[usize], out: &mut Metrics) -> Option<()> {
        let key: u64 = self
            .strides
            .iter()
            .map(|&(i, stride)| (digits[i] as u64).wrapping_mul(stride))
            .fold(0, u64::wrapping_add);
        let mut point = [0i64; MAX_AXES];
        for (p, (i, values)) in point.iter_mut().zip(&self.axes) {
            *p = values[digits[*i]];
        }
        let point = &point[..self.axes.len()];
        // the thread's last piece taken out and put back: no reference counted per
        // candidate (a shared count would bounce between the cores of a sweep)
        let last = LAST_PIECE.with(|last| last.borrow_mut().take());
        if let Some((id, at, piece)) = &last {
            if *id == self.id && *at == key && piece.contains(point) {
                let evaluated = self.evaluate(eval, piece, digits, point, out);
                LAST_PIECE.with(|l| *l.borrow_mut() = last);
                return evaluated;
            }
        }
        // a miss keeps it too, unless `piece` finds this candidate's
        LAST_PIECE.with(|l| *l.borrow_mut() = last);
        let piece = self.piece(eval, key, digits, point)?;
        self.evaluate(eval, &piece, digits, point, out)
    }

    /// The piece of structure `key` that `point` lies in (fitting it where its
    /// structure has been seen often enough), remembered as this thread's last; `None`
    /// where the candidate's step is to be built.
    fn piece(
        &self,
        eval: &Evaluator,
        key: u64,
        digits: &[usize],
        point: &[i64],
    ) -> Option<Arc<Piece>> {
        let shard = &self.shards[(key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize];
        let piece = {
            let mut map = shard.lock().ok()?;
            if map.len() >= SHARD_ENTRIES && !map.contains_key(&key) {
                map.clear();
            }
            let entry = map.entry(key).or_default();
            if let Some(piece) = entry.pieces.iter().find(|p| p.contains(point)) {
                piece.clone()
            } else {
                entry.seen += 1;
                if entry.seen < self.fit_at || entry.fitting || entry.pieces.len() >= PIECES {
                    return None;
                }
                entry.fitting = true;
                drop(map);
                let piece = Arc::new(self.fit_around(eval.space(), digits, point));
                let mut map = shard.lock().ok()?;
                let entry = map.entry(key).or_default();
                entry.fitting = false;
                entry.pieces.push(piece.clone());
                piece
            }
        };
        LAST_PIECE.with(|last| *last.borrow_mut() = Some((self.id, key, piece.clone())));
        Some(piece)
    }

    /// The candidate's metrics from `piece` (the one its point lies in), or `None`.
    fn evaluate(
        &self,
        eval: &Evaluator,
        piece: &Piece,
        digits: &[usize],
        point: &[i64],
        out: &mut Metrics,
    ) -> Option<()> {
        let model = piece.model.as_ref()?;
        let mut coords = [Coords::default(); MAX_AXES];
        for ((c, (i, _)), by_digit) in coords.iter_mut().zip(&self.axes).zip(&piece.coords) {
            *c = by_digit[digits[*i]]?;
        }
        // a transformers config the structure cache cannot read is the step's error
        if eval.space().family == FamilyKind::Hf && !eval.hf_readable(digits) {
            return None;
        }
        let coords = &coords[..self.axes.len()];
        model.evaluate(point, coords, |report, extras| {
            *out = decode(extras)?.metrics(report);
            Some(())
        })?;
        self.count_evaluated();
        Some(())
    }

    /// The piece around `point` (the candidate at `digits`): the largest box, halved
    /// along the axis each failed fit names, on which its structure fits, or the box
    /// where the halving stopped, unfitted.
    fn fit_around(&self, space: &Space, digits: &[usize], point: &[i64]) -> Piece {
        // per axis, the range of sorted values the box spans, and where the point is
        let mut cell: Vec<(usize, usize)> = self.sorted.iter().map(|v| (0, v.len() - 1)).collect();
        let at: Vec<usize> = self
            .sorted
            .iter()
            .zip(point)
            .map(|(v, x)| v.binary_search(x).unwrap_or(0))
            .collect();
        let mut model = None;
        for _ in 0..SPLITS {
            let ranges: Vec<AxisRange> = cell
                .iter()
                .zip(&self.sorted)
                .map(|(&(lo, hi), v)| {
                    let span = &v[lo..=hi];
                    let step = span.iter().fold(0, |g, &x| gcd(x - span[0], g));
                    AxisRange {
                        min: span[0],
                        max: span[span.len() - 1],
                        step: step.max(1),
                    }
                })
                .collect();
            let misfit = match self.fit(space, digits, &ranges) {
                Ok(m) => {
                    if let Ok(mut s) = STATS.lock() {
                        s.fitted += 1;
                        s.probes += m.probes as u64;
                    }
                    model = Some(Arc::new(m));
                    break;
                }
                Err(misfit) => misfit,
            };
            if let Ok(mut s) = STATS.lock() {
                s.failed += 1;
            }
            // the part of the box the point lies in
            let halved = match misfit {
                Misfit::Along(a) if cell[a].1 > cell[a].0 => {
                    let (lo, hi) = cell[a];
                    let mid = (lo + hi).div_ceil(2);
                    Some((
                        a,
                        if at[a] < mid {
                            (lo, mid - 1)
                        } else {
                            (mid, hi)
                        },
                    ))
                }
                Misfit::AtMin(a) if cell[a].1 > cell[a].0 => {
                    let (lo, hi) = cell[a];
                    Some((a, if at[a] == lo { (lo, lo) } else { (lo + 1, hi) }))
                }
                _ => None,
            };
            match halved {
                Some((a, part)) => cell[a] = part,
                None => break,
            }
        }
        let mut piece = Piece {
            lo: [0; MAX_AXES],
            hi: [0; MAX_AXES],
            coords: Vec::new(),
            model,
        };
        for (a, (&(lo, hi), v)) in cell.iter().zip(&self.sorted).enumerate() {
            piece.lo[a] = v[lo];
            piece.hi[a] = v[hi];
        }
        if let Some(model) = &piece.model {
            piece.coords = self
                .axes
                .iter()
                .enumerate()
                .map(|(a, (_, values))| {
                    let within = |x: i64| piece.lo[a] <= x && x <= piece.hi[a];
                    let at = |&x: &i64| within(x).then(|| model.coordinates(a, x)).flatten();
                    values.iter().map(at).collect()
                })
                .collect();
        }
        piece
    }

    /// Fits the structure of the candidate at `digits` over `ranges`: its step built at
    /// points of the size axes' lattices, the other axes as the candidate has them.
    fn fit(
        &self,
        space: &Space,
        digits: &[usize],
        ranges: &[AxisRange],
    ) -> Result<AxisModel, Misfit> {
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
        AxisModel::fit(ranges, &mut probe)
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
