//! A replay of PyTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp,
//! `DeviceCachingAllocator`, default configuration: no `max_split_size`, no
//! `roundup_power2_divisions`, no expandable segments, one stream, `empty_cache` never
//! called), tracking what `torch.cuda.memory_allocated()` and
//! `max_memory_allocated()` report.
//!
//! - `round_size`: requests are rounded up to a multiple of `kMinBlockSize` (512 B).
//! - `get_pool`: ≤ `kSmallSize` (1 MiB) from the small pool, else the large pool.
//! - `get_free_block`: best fit: the free block ordered first by (size, address) among
//!   those of at least the rounded size, in the request's pool.
//! - `get_allocation_size`: with no fit, a new segment of `kSmallBuffer` (2 MiB) for
//!   small requests, `kLargeBuffer` (20 MiB) below `kMinLargeAlloc` (10 MiB), else the
//!   size rounded up to `kRoundLarge` (2 MiB).
//! - `should_split`: the block handed out is split when the remainder is ≥ 512 B (small
//!   pool) or > `kSmallSize` (large pool); otherwise the whole block is handed out and
//!   counted in the allocated bytes (`alloc_found_block` adds `block->size`).
//! - `free_block` / `try_merge_blocks`: a freed block merges with its free neighbours
//!   of the same segment and goes back to its pool.
//! - `allocated_bytes` counts whole blocks (remainders included) and `peak` its maximum.
use std::collections::BTreeSet;

use super::{add, Result};

const MIN_BLOCK: u64 = 512;
const SMALL_SIZE: u64 = 1 << 20;
const SMALL_BUFFER: u64 = 2 << 20;
const LARGE_BUFFER: u64 = 20 << 20;
const MIN_LARGE_ALLOC: u64 = 10 << 20;
const ROUND_LARGE: u64 = 2 << 20;
const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Block {
    addr: u64,
    size: u64,
    prev: u32,
    next: u32,
    small: bool,
    allocated: bool,
}

/// The allocator's state. Block ids are indices into an arena; ids of blocks merged
/// away are recycled.
#[derive(Default)]
pub(crate) struct Allocator {
    blocks: Vec<Block>,
    spare: Vec<u32>,
    /// Free blocks per pool, ordered by (size, address) as `BlockComparatorSize` orders
    /// them (a tree: a model's conversion to bf16 leaves hundreds of free blocks).
    free_small: BTreeSet<(u64, u64, u32)>,
    free_large: BTreeSet<(u64, u64, u32)>,
    next_addr: u64,
    pub allocated: u64,
    pub peak: u64,
}

fn round_up(x: u64, m: u64) -> Result<u64> {
    let q = x.div_ceil(m);
    super::mul(q, m)
}

impl Allocator {
    /// Room for about `n` live tensors without reallocating.
    pub fn with_capacity(n: usize) -> Self {
        Allocator {
            blocks: Vec::with_capacity(2 * n + 2),
            ..Allocator::default()
        }
    }

    fn pool(&mut self, small: bool) -> &mut BTreeSet<(u64, u64, u32)> {
        if small {
            &mut self.free_small
        } else {
            &mut self.free_large
        }
    }

    fn insert_free(&mut self, id: u32) {
        let b = self.blocks[id as usize];
        self.pool(b.small).insert((b.size, b.addr, id));
    }

    fn remove_free(&mut self, id: u32) {
        let b = self.blocks[id as usize];
        self.pool(b.small).remove(&(b.size, b.addr, id));
    }

    fn new_block(&mut self, b: Block) -> Result<u32> {
        if let Some(id) = self.spare.pop() {
            self.blocks[id as usize] = b;
            return Ok(id);
        }
        let id = u32::try_from(self.blocks.len()).map_err(|_| super::overflow())?;
        if id == NONE {
            return Err(super::overflow());
        }
        self.blocks.push(b);
        Ok(id)
    }

    /// Allocates `bytes` (> 0); returns the block id and the bytes it is charged.
    pub fn malloc(&mut self, bytes: u64) -> Result<(u32, u64)> {
        let size = round_up(bytes.max(1), MIN_BLOCK)?;
        let small = size <= SMALL_SIZE;
        let pool = if small {
            &self.free_small
        } else {
            &self.free_large
        };
        let id = if let Some(&key) = pool.range((size, 0, 0)..).next() {
            self.pool(small).remove(&key);
            key.2
        } else {
            let seg = if small {
                SMALL_BUFFER
            } else if size < MIN_LARGE_ALLOC {
                LARGE_BUFFER
            } else {
                round_up(size, ROUND_LARGE)?
            };
            let addr = self.next_addr;
            self.next_addr = add(self.next_addr, seg)?;
            self.new_block(Block {
                addr,
                size: seg,
                prev: NONE,
                next: NONE,
                small,
                allocated: false,
            })?
        };
        let b = self.blocks[id as usize];
        let remaining = b.size - size;
        let split = if small {
            remaining >= MIN_BLOCK
        } else {
            remaining > SMALL_SIZE
        };
        if split {
            let rest = Block {
                addr: b.addr + size,
                size: remaining,
                prev: id,
                next: b.next,
                small,
                allocated: false,
            };
            let rid = self.new_block(rest)?;
            if b.next != NONE {
                self.blocks[b.next as usize].prev = rid;
            }
            let blk = &mut self.blocks[id as usize];
            blk.size = size;
            blk.next = rid;
            self.insert_free(rid);
        }
        let blk = &mut self.blocks[id as usize];
        blk.allocated = true;
        let charged = blk.size;
        self.allocated = add(self.allocated, charged)?;
        self.peak = self.peak.max(self.allocated);
        Ok((id, charged))
    }

    /// Frees block `id` (ignored if it is not allocated); returns the bytes it was charged.
    pub fn free(&mut self, id: u32) -> u64 {
        let Some(b) = self.blocks.get(id as usize).copied() else {
            return 0;
        };
        if !b.allocated {
            return 0;
        }
        self.allocated = self.allocated.saturating_sub(b.size);
        self.blocks[id as usize].allocated = false;
        // merge with the previous block: [prev id] becomes id
        if b.prev != NONE && !self.blocks[b.prev as usize].allocated {
            let p = b.prev;
            self.remove_free(p);
            let pb = self.blocks[p as usize];
            let blk = &mut self.blocks[id as usize];
            blk.addr = pb.addr;
            blk.size += pb.size;
            blk.prev = pb.prev;
            if pb.prev != NONE {
                self.blocks[pb.prev as usize].next = id;
            }
            self.spare.push(p);
        }
        let n = self.blocks[id as usize].next;
        if n != NONE && !self.blocks[n as usize].allocated {
            self.remove_free(n);
            let nb = self.blocks[n as usize];
            let blk = &mut self.blocks[id as usize];
            blk.size += nb.size;
            blk.next = nb.next;
            if nb.next != NONE {
                self.blocks[nb.next as usize].prev = id;
            }
            self.spare.push(n);
        }
        self.insert_free(id);
        b.size
    }
}

/// `torch.cuda.memory_allocated()` after a model is built: its parameters and buffers
/// (numel, final dtype bytes, built in fp32 and converted) allocated in construction
/// order, then, for `model.to(torch.bfloat16)`, converted one at a time as
/// `Module._apply` does (children first, then each module's parameters, then its
/// buffers — the same order): the bf16 tensor is allocated, then the fp32 one freed.
/// The freed fp32 blocks are reused best-fit by later conversions, so the result is not
/// the sum of per-tensor fresh-segment blocks.
pub(crate) fn construction_bytes(tensors: &[(u64, u64, bool)]) -> Result<u64> {
    if let Some(bytes) = packed_apart(tensors) {
        return Ok(bytes);
    }
    let mut a = Allocator::with_capacity(tensors.len());
    let mut made = Vec::with_capacity(tensors.len());
    for &(n, b, converted) in tensors {
        let raw = super::mul(n, if converted { 4 } else { b })?;
        made.push(if raw == 0 {
            None
        } else {
            Some(a.malloc(raw)?.0)
        });
    }
    for (&(n, b, converted), old) in tensors.iter().zip(made) {
        if converted {
            let raw = super::mul(n, b)?;
            if raw > 0 {
                a.malloc(raw)?;
            }
            if let Some(id) = old {
                a.free(id);
            }
        }
    }
    Ok(a.allocated)
}

/// The construction's bytes without a replay where no block can share a segment with
/// another's leftovers: nothing converted (no frees), every request rounded to at most
/// `kSmallSize` (carved exactly from small segments: sizes and segments are multiples of
/// 512 B) or to `kMinLargeAlloc` or more (a segment of its own: the large pool's free
/// blocks are leftovers under 2 MiB, which fit no such request). Each tensor then costs
/// its `alloc::block`.
fn packed_apart(tensors: &[(u64, u64, bool)]) -> Option<u64> {
    let mut total = 0u64;
    for &(n, b, converted) in tensors {
        let raw = n.checked_mul(b)?;
        let rounded = raw.checked_next_multiple_of(MIN_BLOCK)?;
        if converted || (rounded > SMALL_SIZE && rounded < MIN_LARGE_ALLOC) {
            return None;
        }
        total = total.checked_add(super::alloc::block(raw))?;
    }
    Some(total)
}

/// [`construction_bytes`], remembered per thread for the last few models: `fit`,
/// `Budget.check` and a sweep over batch, seq or run settings build the same weights
/// again and again, and the replay is a quarter of a transformers step's simulation.
/// Lists shorter than [`REMEMBER_FROM`] are replayed: for a small mlp the lookup costs
/// more than the replay saves when every candidate is new.
pub(crate) fn recent_construction_bytes(tensors: &[(u64, u64, bool)]) -> Result<u64> {
    if tensors.len() < REMEMBER_FROM {
        return construction_bytes(tensors);
    }
    RECENT_MODELS.with(|recent| {
        let mut recent = recent.borrow_mut();
        if let Some(&(_, bytes)) = recent.iter().find(|(seen, _)| seen.as_slice() == tensors) {
            return Ok(bytes);
        }
        let bytes = construction_bytes(tensors)?;
        // the oldest entry's list is reused: a sweep over sizes misses every time
        let mut entry = if recent.len() == RECENT {
            recent.remove(0)
        } else {
            (Vec::new(), 0)
        };
        entry.0.clear();
        entry.0.extend_from_slice(tensors);
        entry.1 = bytes;
        recent.push(entry);
        Ok(bytes)
    })
}

/// How many models' weights [`construction_bytes`] remembers per thread.
const RECENT: usize = 4;
/// Tensors a model needs before [`recent_construction_bytes`] remembers it.
const REMEMBER_FROM: usize = 64;

type Construction = Vec<(u64, u64, bool)>;

thread_local! {
    static RECENT_MODELS: std::cell::RefCell<Vec<(Construction, u64)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_reuse_and_merge() {
        let mut a = Allocator::default();
        // 11 MiB: a 12 MiB segment, 1 MiB remainder not split
        let (y, c) = a.malloc(11 << 20).unwrap();
        assert_eq!(c, 12 << 20);
        // 4 MiB from a fresh 20 MiB segment, split exactly
        let (x, c) = a.malloc(4 << 20).unwrap();
        assert_eq!(c, 4 << 20);
        assert_eq!(a.allocated, 16 << 20);
        // 11 MiB again would be carved from the free 16 MiB rest (5 MiB > 1 MiB remain)
        let (w, c) = a.malloc(11 << 20).unwrap();
        assert_eq!(c, 11 << 20);
        a.free(w);
        a.free(y);
        // a cached 12 MiB block serves 11.5 MiB whole (0.5 MiB remainder)
        let (y2, c) = a.malloc((23 << 19) - 100).unwrap();
        assert_eq!(c, 12 << 20);
        a.free(y2);
        // 9 MiB: best fit is the 12 MiB block (smaller than the 16 MiB rest of the
        // 20 MiB segment), split since 3 MiB > 1 MiB remain
        let (z, c) = a.malloc(9 << 20).unwrap();
        assert_eq!(c, 9 << 20);
        a.free(z);
        a.free(x);
        // everything merged back: one 20 MiB and one 12 MiB free block
        assert_eq!(
            a.free_large.iter().map(|k| k.0).collect::<Vec<_>>(),
            vec![12 << 20, 20 << 20]
        );
        assert_eq!(a.allocated, 0);
        assert_eq!(a.peak, 27 << 20);
        // small pool: exact split at 512 B
        let (_, c) = a.malloc(1).unwrap();
        assert_eq!(c, 512);
        assert!(a.malloc(u64::MAX).is_err());
    }

    /// Lists of small and large tensors, unconverted: their bytes without a replay
    /// equal the replay's.
    #[test]
    fn packed_apart_equals_the_replay() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut checked = 0;
        for _ in 0..2000 {
            let len = 1 + next() % 40;
            let tensors: Vec<(u64, u64, bool)> = (0..len)
                .map(|_| {
                    let numel = match next() % 3 {
                        0 => next() % 300_000,
                        1 => 2_500_000 + next() % 40_000_000,
                        _ => next() % 4_000_000,
                    };
                    (numel, [2, 4][(next() % 2) as usize], false)
                })
                .collect();
            if let Some(bytes) = packed_apart(&tensors) {
                checked += 1;
                let mut a = Allocator::with_capacity(tensors.len());
                for &(n, b, _) in &tensors {
                    if n > 0 {
                        a.malloc(n * b).unwrap();
                    }
                }
                assert_eq!(bytes, a.allocated, "{tensors:?}");
            }
        }
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn construction() {
        // fp32: per-tensor blocks; 12 MiB + 1 B rounds to a 14 MiB segment, 1.5 MiB over: split
        assert_eq!(
            construction_bytes(&[(3 << 20, 4, false), (1, 8, false)]).unwrap(),
            (12 << 20) + 512
        );
        // bf16 conversion: 5 MiB fp32 then 2.5 MiB bf16 carved from the same 20 MiB
        // segment; the fp32 block freed
        assert_eq!(
            construction_bytes(&[((5 << 20) / 4, 2, true)]).unwrap(),
            (5 << 20) / 2
        );
        assert!(construction_bytes(&[(u64::MAX, 4, false)]).is_err());
    }
}
