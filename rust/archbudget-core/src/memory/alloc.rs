//! What `torch.cuda.max_memory_allocated()` charges for one tensor of `bytes` bytes.
//!
//! Mirrors c10/cuda/CUDACachingAllocator.cpp: every request is rounded up to a multiple
//! of `kMinBlockSize` (512 B). Requests up to `kSmallSize` (1 MiB) come from 2 MiB small
//! segments and are split exactly; requests below `kMinLargeAlloc` (10 MiB) are carved
//! from 20 MiB segments (`kLargeBuffer`) and split exactly; larger ones get a segment of
//! their size rounded up to `kRoundLarge` (2 MiB), and a large-pool block is only split
//! when more than `kSmallSize` would remain (`should_split`). So a 20.48 MB embedding
//! table is charged its whole 20 MiB + 0.47 MiB segment. The allocated-bytes statistic
//! counts the block, not the request.
pub const MIN_BLOCK: u64 = 512;
pub const SMALL_SIZE: u64 = 1 << 20;
pub const MIN_LARGE_ALLOC: u64 = 10 << 20;
pub const ROUND_LARGE: u64 = 2 << 20;

/// Bytes charged for one allocation of `bytes` bytes (0 for an empty tensor).
pub fn block(bytes: u64) -> u64 {
    if bytes == 0 {
        return 0;
    }
    let s = round_up(bytes, MIN_BLOCK);
    if s < MIN_LARGE_ALLOC {
        return s;
    }
    let seg = round_up(s, ROUND_LARGE);
    if seg - s <= SMALL_SIZE {
        seg
    } else {
        s
    }
}

/// Round up to a multiple of `m`, a power of two, without overflow (saturates: callers
/// check totals with checked arithmetic, and a tensor within 2 MiB of `u64::MAX`
/// overflows there).
fn round_up(x: u64, m: u64) -> u64 {
    debug_assert!(m.is_power_of_two());
    x.checked_add(m - 1).map_or(u64::MAX, |x| x & !(m - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn rounding() {
        assert_eq!(block(0), 0);
        assert_eq!(block(1), 512);
        assert_eq!(block(513), 1024);
        assert_eq!(block(1 << 20), 1 << 20);
        // nn.Embedding(20000, 256) in fp32: the measured 20_971_520
        assert_eq!(block(20_480_000), 20_971_520);
        assert_eq!(block(16 << 20), 16 << 20);
        // 11 MiB: the segment of 12 MiB would leave exactly 1 MiB, not split
        assert_eq!(block(11 << 20), 12 << 20);
        assert_eq!(block((10 << 20) + 512), (10 << 20) + 512);
    }
}
