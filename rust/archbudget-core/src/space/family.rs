//! What a candidate of each family is, and its metrics: the very rules of `summary`
//! (Keras, transformers) and `memory` (PyTorch), applied to the candidate's model.
use serde_json::{Map, Value};

pub use super::metrics::{Counts, Metrics, METRIC_NAMES};
use super::names::{family_params, template_layer_names};
use super::structure::{HfStructure, StructureCache};
use super::symbolic::Symbolic;
use super::{space_err, FamilyKind, Scalar, Slot, Space, RUN_KEYS};
use crate::error::Result;
use crate::formats::hf::{self, Head};
use crate::formats::keras;
use crate::memory;
use crate::memory::bound::{self, Held};
use crate::memory::compiled;
use crate::memory::families::{Cnn, LstmNet, Mlp};
use crate::memory::{AttnImpl, Mode, Optimizer, Precision, RunSettings};

/// A space's names resolved once to where each value lives (an axis or a fixed value),
/// so that evaluating a candidate does no name lookups.
pub struct Evaluator<'s> {
    space: &'s Space,
    /// Family parameters in `family_params` order, then `RUN_KEYS`.
    slots: Vec<Option<Slot>>,
    /// The same slots when they hold integers, read without matching on `Scalar`.
    ints: Vec<IntSlot>,
    /// hf: config keys and where their values live. keras: (layer index in the
    /// template's `layers`, config key, slot) of each parameter the axes change.
    config_keys: Vec<(String, Slot)>,
    keras_keys: Vec<(usize, String, Slot)>,
    /// hf: each config's counts and architecture, read once.
    structures: StructureCache,
    /// The structures' fitted expressions of the candidates' sizes (`None`: every
    /// candidate's step is built, as for the probes of a fit).
    symbolic: Option<Symbolic>,
}

/// An integer parameter: an axis of integers (values pre-converted), or a fixed integer.
enum IntSlot {
    Axis(usize, Vec<i64>),
    Fixed(i64),
    Other,
}

/// Index of a run key among the evaluator's slots.
fn run_slot(kind: FamilyKind, key: &str) -> usize {
    family_params(kind).len() + RUN_KEYS.iter().position(|k| *k == key).expect("a run key")
}

impl<'s> Evaluator<'s> {
    pub fn new(space: &'s Space) -> Self {
        Self::fitting_at(space, super::symbolic::FIT_AT)
    }

    /// An evaluator that fits a structure at its `sightings`-th candidate (tests and
    /// benches: `new` waits for `symbolic::FIT_AT`).
    pub fn fitting_at(space: &'s Space, sightings: u32) -> Self {
        Evaluator {
            symbolic: Symbolic::new(space, sightings),
            ..Evaluator::building(space)
        }
    }

    /// An evaluator that builds every candidate's step (the probes of `symbolic`).
    pub(super) fn building(space: &'s Space) -> Self {
        let slots: Vec<Option<Slot>> = family_params(space.family)
            .iter()
            .chain(RUN_KEYS.iter())
            .map(|name| space.slot(name))
            .collect();
        let ints = slots
            .iter()
            .map(|slot| match slot {
                Some(Slot::Axis(i)) => {
                    let values: Option<Vec<i64>> = space.axes[*i]
                        .values
                        .iter()
                        .map(|v| match v {
                            Scalar::Int(x) => Some(*x),
                            _ => None,
                        })
                        .collect();
                    values.map_or(IntSlot::Other, |v| IntSlot::Axis(*i, v))
                }
                Some(Slot::Fixed(Scalar::Int(x))) => IntSlot::Fixed(*x),
                _ => IntSlot::Other,
            })
            .collect();
        let user_names = space
            .axes
            .iter()
            .map(|a| a.name.clone())
            .chain(space.fixed.iter().map(|(n, _)| n.clone()));
        let user_names: Vec<String> = user_names
            .filter(|n| !RUN_KEYS.contains(&n.as_str()))
            .collect();
        let (mut config_keys, mut keras_keys) = (Vec::new(), Vec::new());
        match space.family {
            FamilyKind::Hf => {
                config_keys = user_names
                    .iter()
                    .filter_map(|n| Some((n.clone(), space.slot(n)?)))
                    .collect();
            }
            FamilyKind::Keras => {
                let layers = template_layer_names(space);
                for n in &user_names {
                    let (layer, key) = n.split_once('.').expect("checked by check_names");
                    let index = layers
                        .iter()
                        .position(|l| l == layer)
                        .expect("checked by check_names");
                    keras_keys.push((
                        index,
                        key.to_string(),
                        space.slot(n).expect("a name of the space"),
                    ));
                }
            }
            _ => {}
        }
        Evaluator {
            space,
            slots,
            ints,
            config_keys,
            keras_keys,
            structures: StructureCache::new(space),
            symbolic: None,
        }
    }

    pub fn space(&self) -> &'s Space {
        self.space
    }

    fn slot_value<'a>(&'a self, slot: &'a Slot, digits: &[usize]) -> &'a Scalar {
        match slot {
            Slot::Axis(i) => &self.space.axes[*i].values[digits[*i]],
            Slot::Fixed(v) => v,
        }
    }

    /// The candidate's transformers config.json: the space's whole config where it has
    /// one (a single candidate's, nested values included), with its names' values set.
    pub fn hf_config(&self, digits: &[usize]) -> Value {
        let mut map = match &self.space.template {
            Some(Value::Object(whole)) => whole.clone(),
            _ => Map::new(),
        };
        for (key, slot) in &self.config_keys {
            set_dotted(&mut map, key, self.slot_value(slot, digits).to_json());
        }
        Value::Object(map)
    }

    /// The candidate's Keras model JSON: the template with the axes' values set.
    pub fn keras_json(&self, digits: &[usize]) -> Value {
        let mut model = self.space.template.clone().unwrap_or(Value::Null);
        if let Some(layers) = model
            .pointer_mut("/config/layers")
            .and_then(Value::as_array_mut)
        {
            for (index, key, slot) in &self.keras_keys {
                if let Some(config) = layers[*index]
                    .get_mut("config")
                    .and_then(Value::as_object_mut)
                {
                    config.insert(key.clone(), self.slot_value(slot, digits).to_json());
                }
            }
        }
        model
    }

    fn head(&self, digits: &[usize]) -> Result<Option<Head>> {
        match self.text(run_slot(self.space.family, "head"), digits, "")? {
            "" => Ok(None),
            "base" => Ok(Some(Head::Base)),
            "causal_lm" => Ok(Some(Head::CausalLm)),
            other => Err(space_err(
                &self.space.location,
                format!("'head' must be base or causal_lm, got '{other}'"),
            )),
        }
    }

    fn scalar<'a>(&'a self, slot: usize, digits: &[usize]) -> Option<&'a Scalar> {
        match self.slots[slot].as_ref()? {
            Slot::Axis(i) => Some(&self.space.axes[*i].values[digits[*i]]),
            Slot::Fixed(v) => Some(v),
        }
    }

    fn name(&self, slot: usize) -> &'static str {
        let params = family_params(self.space.family);
        params
            .get(slot)
            .copied()
            .unwrap_or_else(|| RUN_KEYS[slot - params.len()])
    }

    #[inline]
    fn int(&self, slot: usize, digits: &[usize], min: u64) -> Result<u64> {
        let fast = match &self.ints[slot] {
            IntSlot::Axis(i, values) => values[digits[*i]],
            IntSlot::Fixed(x) => *x,
            IntSlot::Other => -1,
        };
        if fast >= min as i64 {
            return Ok(fast as u64);
        }
        self.int_slow(slot, digits, min)
    }

    #[cold]
    fn int_slow(&self, slot: usize, digits: &[usize], min: u64) -> Result<u64> {
        let name = self.name(slot);
        let v = self
            .scalar(slot, digits)
            .ok_or_else(|| space_err(&self.space.location, format!("missing '{name}'")))?;
        match v.as_i64() {
            Some(i) if i >= min as i64 => Ok(i as u64),
            _ => Err(space_err(
                &self.space.location,
                format!("'{name}' must be an integer ≥ {min}, got {v}"),
            )),
        }
    }

    fn int_or(&self, slot: usize, digits: &[usize], min: u64, default: u64) -> Result<u64> {
        if self.scalar(slot, digits).is_none() {
            return Ok(default);
        }
        self.int(slot, digits, min)
    }

    fn flag(&self, slot: usize, digits: &[usize], default: bool) -> Result<bool> {
        match self.scalar(slot, digits) {
            None => Ok(default),
            Some(Scalar::Bool(b)) => Ok(*b),
            Some(v) => Err(space_err(
                &self.space.location,
                format!("'{}' must be true or false, got {v}", self.name(slot)),
            )),
        }
    }

    fn text<'a>(&'a self, slot: usize, digits: &[usize], default: &'static str) -> Result<&'a str> {
        match self.scalar(slot, digits) {
            None => Ok(default),
            Some(Scalar::Str(s)) => Ok(s),
            Some(v) => Err(space_err(
                &self.space.location,
                format!("'{}' must be a string, got {v}", self.name(slot)),
            )),
        }
    }

    /// Run settings: SPEC.md defaults (train, fp32, adamw, sdpa), batch 1.
    pub fn run(&self, digits: &[usize]) -> Result<RunSettings> {
        let kind = self.space.family;
        let at = |key| run_slot(kind, key);
        let loc = |e: crate::Error| space_err(&self.space.location, e.to_string());
        Ok(RunSettings {
            mode: Mode::parse(self.text(at("mode"), digits, "train")?).map_err(loc)?,
            batch: self.int_or(at("batch"), digits, 1, 1)?,
            seq: self.int_or(at("seq"), digits, 1, 1)?,
            precision: Precision::parse(self.text(at("precision"), digits, "fp32")?)
                .map_err(loc)?,
            optimizer: Optimizer::parse(self.text(at("optimizer"), digits, "adamw")?)
                .map_err(loc)?,
            attn: AttnImpl::parse(self.text(at("attn"), digits, "sdpa")?).map_err(loc)?,
            grad_ckpt: self.flag(at("grad_ckpt"), digits, false)?,
            new_tokens: self.int_or(at("new_tokens"), digits, 0, 0)?,
            gpus: self.int_or(at("gpus"), digits, 1, 1)?,
            zero_stage: match self.int_or(at("zero_stage"), digits, 0, 0)? {
                stage @ 0..=3 => stage as u8,
                other => {
                    return Err(space_err(
                        &self.space.location,
                        format!("'zero_stage' must be 0, 1, 2 or 3, got {other}"),
                    ))
                }
            },
            lora: match self.int_or(at("lora_rank"), digits, 1, 0)? {
                0 => None,
                rank => {
                    let targets =
                        Some(self.text(at("lora_targets"), digits, "")?).filter(|t| !t.is_empty());
                    let dropout = match self.scalar(at("lora_dropout"), digits) {
                        None => 0.0,
                        Some(Scalar::Float(p)) => *p,
                        Some(Scalar::Int(p)) => *p as f64,
                        Some(v) => {
                            return Err(space_err(
                                &self.space.location,
                                format!("'lora_dropout' must be a number, got {v:?}"),
                            ))
                        }
                    };
                    Some(memory::lora::Lora::new(rank, targets, dropout).map_err(loc)?)
                }
            },
            quantize: match self.text(at("quantize"), digits, "")? {
                "" => None,
                q => Some(memory::quant::Quant::parse(q).map_err(loc)?),
            },
        })
    }

    #[inline]
    fn mlp(&self, d: &[usize]) -> Result<Mlp> {
        Ok(Mlp {
            input_dim: self.int(0, d, 1)?,
            depth: self.int(1, d, 0)?,
            width: self.int(2, d, 1)?,
            classes: self.int(3, d, 1)?,
        })
    }

    fn cnn(&self, d: &[usize]) -> Result<Cnn> {
        Ok(Cnn {
            image: self.int(0, d, 1)?,
            channels: self.int(1, d, 1)?,
            stages: self.int(2, d, 0)?,
            convs: self.int(3, d, 1)?,
            filters: self.int(4, d, 1)?,
            batchnorm: self.flag(5, d, false)?,
            classes: self.int(6, d, 1)?,
        })
    }

    fn lstm(&self, d: &[usize]) -> Result<LstmNet> {
        Ok(LstmNet {
            vocab: self.int(0, d, 1)?,
            embed: self.int(1, d, 1)?,
            hidden: self.int(2, d, 1)?,
            layers: self.int(3, d, 1)?,
            seq: self.int(4, d, 1)?,
            classes: self.int(5, d, 1)?,
        })
    }

    /// Tokens per sample for throughput estimates: the sequence of hf and lstm
    /// candidates; `None` for families without one.
    pub fn tokens_per_sample(&self, digits: &[usize], run: &RunSettings) -> Option<u64> {
        match self.space.family {
            FamilyKind::Hf => Some(run.seq),
            FamilyKind::Lstm => self.lstm(digits).ok().map(|l| l.seq),
            FamilyKind::Mlp | FamilyKind::Cnn | FamilyKind::Keras => None,
        }
    }

    /// Whether `params` is much cheaper than `metrics` (a closed form, or a transformers
    /// config counted once), so that ranking by it may pick the top-K before their
    /// memory is simulated.
    pub fn cheap_params(&self) -> bool {
        match self.space.family {
            FamilyKind::Mlp => true,
            FamilyKind::Hf => !self.lora_possible(),
            _ => false,
        }
    }

    /// Whether `peak_bound` gives more than 0 for the space's candidates (a bound from
    /// counts: mlp, and transformers without LoRA or quantized weights).
    pub fn bounds_peak(&self) -> bool {
        match self.space.family {
            FamilyKind::Mlp => true,
            FamilyKind::Hf => {
                !self.lora_possible() && self.slots[run_slot(FamilyKind::Hf, "quantize")].is_none()
            }
            _ => false,
        }
    }

    /// With LoRA a transformers candidate's counts are peft's (its adapters added), which
    /// only its memory graph gives.
    fn lora_possible(&self) -> bool {
        self.slots[run_slot(self.space.family, "lora_rank")].is_some()
    }

    /// The transformers structure of the candidate (its config counted once per sweep).
    pub(super) fn hf_structure(&self, digits: &[usize]) -> Result<std::sync::Arc<HfStructure>> {
        self.structures
            .get(digits, || self.read_hf_structure(digits))
    }

    /// Whether the candidate's transformers config reads (`hf_structure` is `Ok`).
    pub(super) fn hf_readable(&self, digits: &[usize]) -> bool {
        self.structures
            .readable(digits, || self.read_hf_structure(digits))
    }

    fn read_hf_structure(&self, digits: &[usize]) -> Result<HfStructure> {
        let config = self.hf_config(digits);
        let location = self.space.location.as_str();
        let (counted, arch) = hf::count(&config, self.head(digits)?, location)?;
        Ok(HfStructure {
            total_params: counted.total_params,
            trainable_params: counted.trainable_params,
            active_params: counted.active_params,
            arch,
            dropouts: memory::hf::Dropouts::from_config(&config),
            quant: memory::quant::Quant::from_config(&config)?,
        })
    }

    /// A lower bound on the candidate's peak bytes from its parameter counts alone
    /// (`memory::bound`; 0 where the family has none here: cnn, lstm, keras, LoRA).
    pub fn peak_bound(&self, digits: &[usize]) -> Result<u64> {
        let (held, run) = match self.space.family {
            FamilyKind::Mlp => {
                // an overflowing count is left to `metrics`, which names it
                let params = mlp_params(&self.mlp(digits)?).unwrap_or(0);
                let every_one_trains = Held {
                    params,
                    trainable_reached: params,
                };
                (every_one_trains, self.run(digits)?)
            }
            FamilyKind::Hf if !self.lora_possible() => {
                let structure = self.hf_structure(digits)?;
                let run = self.run(digits)?;
                let run = RunSettings {
                    quantize: memory::hf::quantize_for_run(structure.quant, &run),
                    ..run
                };
                (structure.held(), run)
            }
            _ => return Ok(0),
        };
        Ok(bound::peak_lower_bound(held, &run))
    }

    /// Params of `len` consecutive candidates along the innermost axis from `digits` (the
    /// mlp closed form over a slice, no per-candidate lookups), or false where this fast
    /// path does not apply (then `params` gives the same answers, and errors, one by one).
    pub fn params_run(&self, digits: &[usize], len: usize, out: &mut Vec<u64>) -> bool {
        if self.space.family != FamilyKind::Mlp {
            return false;
        }
        let inner = self.space.axes.len().wrapping_sub(1);
        let start = digits.last().copied().unwrap_or(0);
        // Each of input_dim, depth, width, classes: a constant, or the inner axis's slice.
        let mut consts = [0i64; 4];
        let mut varying: Option<(usize, &[i64])> = None;
        for (slot, c) in consts.iter_mut().enumerate() {
            match &self.ints[slot] {
                IntSlot::Fixed(x) => *c = *x,
                IntSlot::Axis(i, values) if *i == inner => {
                    varying = Some((slot, &values[start..start + len]))
                }
                IntSlot::Axis(i, values) => *c = values[digits[*i]],
                IntSlot::Other => return false,
            }
        }
        let min = [1, 0, 1, 1];
        let valid = |v: &[i64; 4]| v.iter().zip(min).all(|(&x, m)| x >= m);
        out.clear();
        match varying {
            None => {
                let Some(p) = valid(&consts).then(|| mlp_params_wide(consts)).flatten() else {
                    return false;
                };
                out.resize(len, p);
            }
            Some((slot, values)) => {
                // Below 2^20 every term fits in 64 bits: a branch-free loop per slot.
                const SMALL: i64 = 1 << 20;
                let lo = values.iter().copied().min().unwrap_or(0);
                let hi = values.iter().copied().max().unwrap_or(0);
                let mut bounds = consts;
                bounds[slot] = lo;
                let small = valid(&bounds) && hi < SMALL && consts.iter().all(|&x| x < SMALL);
                if small && consts[1] > 0 || small && slot == 1 && lo > 0 {
                    let [i, d, w, c] = consts.map(|x| x as u64);
                    let f = |i: u64, d: u64, w: u64, c: u64| {
                        (i + 1) * w + (w + 1) * w * (d - 1) + (w + 1) * c
                    };
                    match slot {
                        0 => out.extend(values.iter().map(|&x| f(x as u64, d, w, c))),
                        1 => out.extend(values.iter().map(|&x| f(i, x as u64, w, c))),
                        2 => out.extend(values.iter().map(|&x| f(i, d, x as u64, c))),
                        _ => out.extend(values.iter().map(|&x| f(i, d, w, x as u64))),
                    }
                } else {
                    for &x in values {
                        let mut v = consts;
                        v[slot] = x;
                        match valid(&v).then(|| mlp_params_wide(v)).flatten() {
                            Some(p) => out.push(p),
                            None => return false,
                        }
                    }
                }
            }
        }
        true
    }

    /// Parameter counts only: cheap, so that a params budget cuts candidates before
    /// their memory is simulated. Returns (params, trainable).
    #[inline]
    pub fn params(&self, digits: &[usize]) -> Result<(u64, u64)> {
        let p = match self.space.family {
            FamilyKind::Mlp => mlp_params(&self.mlp(digits)?),
            FamilyKind::Hf if !self.lora_possible() => {
                let s = self.hf_structure(digits)?;
                return Ok((s.total_params, s.trainable_params));
            }
            _ => return self.metrics(digits).map(|m| (m.params, m.trainable_params)),
        };
        p.map(|p| (p, p))
            .ok_or_else(|| crate::Error::overflow(&self.space.location, "the parameter count"))
    }

    /// All metrics of the candidate: evaluated from its structure's fitted expressions
    /// where the sweep has them (`symbolic`), else its step built and estimated.
    pub fn metrics(&self, digits: &[usize]) -> Result<Metrics> {
        if let Some(symbolic) = &self.symbolic {
            let mut m = Metrics::default();
            if symbolic.metrics(self, digits, &mut m).is_some() {
                return Ok(m);
            }
        }
        let step = self.step(digits)?;
        let report = compiled::estimate(&step.graph, &step.run)?;
        Ok(step.counts.metrics(&report))
    }

    /// The candidate's metrics as the reference computes them: its step built and
    /// simulated (what `metrics` must equal to the byte; for tests and benches).
    pub fn simulated_metrics(&self, digits: &[usize]) -> Result<Metrics> {
        let step = self.step(digits)?;
        let report = memory::estimate(&step.graph, &step.run)?;
        Ok(step.counts.metrics(&report))
    }

    /// Candidates evaluated from fitted expressions so far (`symbolic`).
    pub fn symbolic_evaluated(&self) -> u64 {
        self.symbolic.as_ref().map_or(0, Symbolic::evaluated)
    }

    /// The candidate's step: its PyTorch graph, run settings, and where its counts come
    /// from.
    pub(super) fn step(&self, digits: &[usize]) -> Result<Step> {
        let run = self.run(digits)?;
        let location = self.space.location.as_str();
        // Every parameter of the PyTorch families trains.
        let (graph, run, counts) = match self.space.family {
            FamilyKind::Mlp => (self.mlp(digits)?.graph(run.batch)?, run, Counts::Report),
            FamilyKind::Cnn => (self.cnn(digits)?.graph(run.batch)?, run, Counts::Report),
            FamilyKind::Lstm => (self.lstm(digits)?.graph(run.batch)?, run, Counts::Report),
            // transformers counts as PyTorch does: the summary's totals, the memory of
            // the same structure (as `summary` and `memory` compute them).
            FamilyKind::Hf => {
                if self
                    .scalar(run_slot(FamilyKind::Hf, "seq"), digits)
                    .is_none()
                {
                    return Err(space_err(
                        location,
                        "a transformers candidate needs 'seq' (tokens per sequence) in the run settings",
                    ));
                }
                let s = self.hf_structure(digits)?;
                let run = RunSettings {
                    quantize: memory::hf::quantize_for_run(s.quant, &run),
                    ..run
                };
                let graph = memory::hf::graph(&s.arch, &s.dropouts, &run)?;
                // with LoRA, peft's model: the base and its adapters, the adapters trained
                let counts = if run.lora.is_some() {
                    Counts::Adapters
                } else {
                    Counts::Counted {
                        params: s.total_params,
                        trainable: s.trainable_params,
                        active: s.active_params,
                    }
                };
                (graph, run, counts)
            }
            // Keras counts as Keras does (BatchNorm statistics are non-trainable params);
            // the memory is the PyTorch equivalent's.
            FamilyKind::Keras => {
                let model = keras::model_from_value(&self.keras_json(digits), None, location)?;
                let summary = keras::summarize(&model, location)?;
                let counts = Counts::Counted {
                    params: summary.total_params,
                    trainable: summary.trainable_params,
                    active: summary.total_params,
                };
                (memory::keras::graph(&model, &run, location)?, run, counts)
            }
        };
        Ok(Step { graph, run, counts })
    }
}

/// A candidate's step, built.
pub(super) struct Step {
    pub graph: memory::Graph,
    pub run: RunSettings,
    pub counts: Counts,
}

/// The parameters of `Mlp`'s Linear layers (weight in×out + bias out each), the closed
/// form of what its graph declares (tested equal in `tests`).
/// `mlp_params` of (input_dim, depth, width, classes) in 128-bit arithmetic, which
/// cannot overflow for 64-bit inputs below 2^40, checked once at the end.
#[inline]
fn mlp_params_wide(v: [i64; 4]) -> Option<u64> {
    if v.iter().any(|&x| x >= 1 << 40) {
        return mlp_params(&Mlp {
            input_dim: v[0] as u64,
            depth: v[1] as u64,
            width: v[2] as u64,
            classes: v[3] as u64,
        });
    }
    let [i, d, w, c] = v.map(|x| x as u128);
    let p = if d == 0 {
        (i + 1) * c
    } else {
        (i + 1) * w + (w + 1) * w * (d - 1) + (w + 1) * c
    };
    u64::try_from(p).ok()
}

#[inline]
pub fn mlp_params(m: &Mlp) -> Option<u64> {
    let first = if m.depth == 0 {
        (m.input_dim + 1).checked_mul(m.classes)?
    } else {
        (m.input_dim + 1).checked_mul(m.width)?
    };
    let hidden = (m.width + 1)
        .checked_mul(m.width)?
        .checked_mul(m.depth.saturating_sub(1))?;
    let head = if m.depth == 0 {
        0
    } else {
        (m.width + 1).checked_mul(m.classes)?
    };
    first.checked_add(hidden)?.checked_add(head)
}

/// Sets `key` in a config; a dotted key (`text_config.hidden_size`) sets a key of a nested
/// config (a multimodal wrapper's `text_config` / `vision_config`), made if absent.
fn set_dotted(map: &mut Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            map.insert(key.to_string(), value);
        }
        Some((outer, inner)) => {
            let nested = map
                .entry(outer.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !nested.is_object() {
                *nested = Value::Object(Map::new());
            }
            if let Value::Object(nested) = nested {
                set_dotted(nested, inner, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_and_run_forms_equal_the_checked_form() {
        for v in [
            [1, 0, 1, 1],
            [784, 3, 512, 10],
            [5000, 20, 4096, 10],
            [1 << 39, 2, 1 << 30, 7],
            [3, 1 << 41, 2, 2],
        ] {
            let m = Mlp {
                input_dim: v[0] as u64,
                depth: v[1] as u64,
                width: v[2] as u64,
                classes: v[3] as u64,
            };
            assert_eq!(mlp_params_wide(v), mlp_params(&m), "{v:?}");
        }
    }

    #[test]
    fn mlp_closed_form_equals_its_graph() {
        for input_dim in [1, 7, 784] {
            for depth in [0, 1, 2, 5] {
                for width in [1, 16, 512] {
                    for classes in [1, 10] {
                        let m = Mlp {
                            input_dim,
                            depth,
                            width,
                            classes,
                        };
                        let report = m.estimate(&RunSettings::default()).unwrap();
                        assert_eq!(mlp_params(&m), Some(report.params), "{m:?}");
                    }
                }
            }
        }
    }
}
