//! What a transformers candidate's config gives whatever its run settings (its counts,
//! architecture, dropouts and quantization), read once per structure: the values of the
//! axes that are not run settings (and `head`, which picks the class counted). A space
//! sweeping batch, seq, precision and optimizer over each config counts each config once,
//! and its lower bound on the peak (`memory::bound`) costs a lookup.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Space, RUN_KEYS};
use crate::arch::{ArchKind, TransformerArch};
use crate::error::Result;
use crate::memory::bound::Held;
use crate::memory::hf::Dropouts;
use crate::memory::quant::Quant;

/// One transformers structure, read from its config.
#[derive(Debug)]
pub struct HfStructure {
    /// As `summary` counts them (transformers' own count).
    pub total_params: u64,
    pub trainable_params: u64,
    pub active_params: u64,
    pub arch: TransformerArch,
    pub dropouts: Dropouts,
    /// The config's `quantization_config`.
    pub quant: Option<Quant>,
}

impl HfStructure {
    /// The parameters the memory model holds, for `memory::bound`. Every parameter of a
    /// transformers class trains and reaches the loss, except where the step does not
    /// run a module: a pooler (bert's `AutoModel`), a multimodal wrapper's vision tower
    /// (a text batch), a decoder's cross-attention without an encoder (gpt2
    /// `add_cross_attention`). There the trainable part is not known (the property tests
    /// of `tests/memory_bound.rs` found these).
    pub fn held(&self) -> Held {
        let a = &self.arch;
        let unreached = a.pooler.is_some()
            || a.details.vision_language.is_some()
            || (a.cross_attention && a.kind != ArchKind::EncoderDecoder);
        Held {
            params: self.total_params,
            trainable_reached: if unreached { 0 } else { self.trainable_params },
        }
    }
}

/// Shards of the cache, each behind its own lock, so that workers rarely wait.
const SHARDS: usize = 64;
/// Entries per shard before it is emptied: a space of distinct configs (no run axes)
/// gains nothing from the cache, and must not hold every architecture it read.
const SHARD_ENTRIES: usize = 1024;

/// Structures by key (the mixed-radix index of the structural axes' digits).
pub struct StructureCache {
    /// This cache's number among the process's (the key of `LAST`).
    id: u64,
    /// (axis position, stride) of each structural axis.
    strides: Vec<(usize, u64)>,
    shards: Vec<Mutex<HashMap<u64, Result<Arc<HfStructure>>>>>,
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

thread_local! {
    /// The structure this thread read last, with its cache's id and key: a sweep's next
    /// candidates mostly share it (run settings and size axes vary fastest), found
    /// without the shard's lock.
    static LAST: std::cell::RefCell<Option<(u64, u64, Arc<HfStructure>)>> =
        const { std::cell::RefCell::new(None) };
}

impl StructureCache {
    pub fn new(space: &Space) -> Self {
        let mut strides = Vec::new();
        let mut stride = 1u64;
        for (i, axis) in space.axes.iter().enumerate().rev() {
            let structural = axis.name == "head" || !RUN_KEYS.contains(&axis.name.as_str());
            if structural {
                strides.push((i, stride));
                // the product of some axis lengths: at most the space's size, a u64
                stride = stride.saturating_mul(axis.values.len() as u64);
            }
        }
        StructureCache {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            strides,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn key(&self, digits: &[usize]) -> u64 {
        self.strides
            .iter()
            .map(|&(i, stride)| digits[i] as u64 * stride)
            .sum()
    }

    /// Whether the candidate at `digits` has a structure (its config reads): the
    /// structure this thread read last answers without a lock or a reference count
    /// (a fitted sweep candidate asks no more).
    pub fn readable(&self, digits: &[usize], read: impl FnOnce() -> Result<HfStructure>) -> bool {
        let key = self.key(digits);
        let last = LAST.with(|last| {
            matches!(last.borrow().as_ref(), Some((id, at, _)) if *id == self.id && *at == key)
        });
        last || self.get(digits, read).is_ok()
    }

    /// The structure of the candidate at `digits`, read by `read` on a miss.
    pub fn get(
        &self,
        digits: &[usize],
        read: impl FnOnce() -> Result<HfStructure>,
    ) -> Result<Arc<HfStructure>> {
        let key = self.key(digits);
        let last = LAST.with(|last| {
            let last = last.borrow();
            let (id, at, found) = last.as_ref()?;
            (*id == self.id && *at == key).then(|| found.clone())
        });
        if let Some(found) = last {
            return Ok(found);
        }
        // a multiplicative hash spreads consecutive keys over the shards
        let shard = &self.shards[(key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize];
        let found = shard.lock().map_err(poisoned)?.get(&key).cloned();
        if let Some(found) = found {
            if let Ok(structure) = &found {
                LAST.with(|last| *last.borrow_mut() = Some((self.id, key, structure.clone())));
            }
            return found;
        }
        // read outside the lock: two workers may read the same structure once each
        let read = read().map(Arc::new);
        let mut map = shard.lock().map_err(poisoned)?;
        if map.len() >= SHARD_ENTRIES {
            map.clear();
        }
        map.insert(key, read.clone());
        read
    }
}

fn poisoned<T>(_: T) -> crate::Error {
    crate::Error::Internal("a sweep worker panicked while holding the structure cache".into())
}
