//! The scratch a CUDA sum over the rows of a matrix takes from the caching allocator.
//!
//! A bias gradient is `grad.sum(0)` over a rows × n gradient (autograd's `sum_to` in
//! `validate_outputs`). ATen's TensorIterator reduction (aten/src/ATen/native/cuda/
//! Reduce.cuh, `setReduceConfig`) splits a long reduction across thread blocks
//! ("global reduce") and then allocates, through the caching allocator, a staging buffer
//! for the blocks' partial sums (`ReduceConfig::global_memory_size`) and one int per
//! output block column (`semaphore_size`). Both live while the kernel runs; with 4096
//! rows they come to 8 bytes per gradient element (16 MiB for 512 outputs), which is the
//! whole gap the measured large-batch MLP steps showed. This replays that configuration
//! for a reduction over the outer (strided) dimension of a contiguous matrix.
//!
//! The block grid targets the device: [`SMS`] and [`THREADS_PER_SM`] are the H100 SXM's
//! (`multiProcessorCount`, `maxThreadsPerMultiProcessor`), the GPU of SPEC.md's protocol.
use super::{mul, Result};

/// Streaming multiprocessors of an H100 SXM (80 GB HBM3).
pub const SMS: u64 = 132;
/// `maxThreadsPerMultiProcessor` of compute capability 9.0.
pub const THREADS_PER_SM: u64 = 2048;
const MAX_NUM_THREADS: u64 = 512; // mnt_wrapper<T>::MAX_NUM_THREADS for real types
const WARP: u64 = 32;
const MIN_VALUES_PER_THREAD: u64 = 16;
const MAX_VALUES_PER_THREAD: u64 = 256;
/// sizeof(arg_t): sums accumulate in fp32 for fp32, bf16 and fp16 inputs alike.
const ACC_BYTES: u64 = 4;

/// (staging buffer, semaphores) in bytes for summing `rows` rows of a contiguous
/// rows × `outputs` matrix into `outputs` values; (0, 0) when one block per output
/// column suffices.
pub fn outer_sum_scratch(rows: u64, outputs: u64) -> Result<(u64, u64)> {
    if rows == 0 || outputs == 0 {
        return Ok((0, 0));
    }
    // "vectorize along output": the widest of 4, 2, 1 dividing the row length
    let vec = [4u64, 2, 1]
        .into_iter()
        .find(|v| outputs % v == 0)
        .unwrap_or(1);
    let (dim0, dim1) = (outputs / vec, rows);
    // set_block_dimension
    let max_threads = MAX_NUM_THREADS / vec;
    let pow2 = |d: u64| {
        if d < max_threads {
            last_pow2(d)
        } else {
            max_threads
        }
    };
    let (d0, d1) = (pow2(dim0), pow2(dim1));
    let mut block_width = d0.min(WARP);
    let block_height = d1.min(max_threads / block_width);
    block_width = d0.min(max_threads / block_height);
    let num_threads = block_width * block_height;
    // lanes split the outputs; warps split the rows when each keeps ≥ 16 values
    let step_output = block_width;
    let mut step_input = 1u64;
    let warp_split_threshold = (block_height * 16).min(MAX_VALUES_PER_THREAD);
    let split_warps = rows.div_ceil(step_input) >= warp_split_threshold;
    if split_warps {
        step_input *= block_height;
    }
    let grid_x = dim0.div_ceil(step_output);
    let target_grid = SMS * (THREADS_PER_SM / num_threads);
    let values_per_thread = rows.div_ceil(step_input);
    if !split_warps || values_per_thread < MAX_VALUES_PER_THREAD || grid_x > target_grid {
        return Ok((0, 0));
    }
    let ctas = target_grid
        .div_ceil(grid_x)
        .min(values_per_thread.div_ceil(MIN_VALUES_PER_THREAD))
        .max(values_per_thread.div_ceil(MAX_VALUES_PER_THREAD));
    if ctas <= 1 {
        return Ok((0, 0));
    }
    // no block-x reduction here, so each lane keeps its own partials
    let staging = mul(mul(mul(ACC_BYTES, outputs)?, ctas)?, block_width * vec)?;
    Ok((staging, mul(4, grid_x)?))
}

/// floor(log2(n)) as a power of two (at least 1), as Reduce.cuh's `last_pow2`.
fn last_pow2(n: u64) -> u64 {
    if n <= 1 {
        1
    } else {
        1 << (63 - n.leading_zeros())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_batch_bias_gradients_stage_eight_bytes_per_element() {
        // the measured gaps of the oracle's batch-4096 MLP steps: 16, 64 and 132 MiB
        assert_eq!(outer_sum_scratch(4096, 512).unwrap(), (16 << 20, 16));
        assert_eq!(outer_sum_scratch(4096, 2048).unwrap(), (64 << 20, 64));
        assert_eq!(outer_sum_scratch(4096, 8192).unwrap().0, 132 << 20);
    }

    #[test]
    fn short_reductions_need_no_staging() {
        assert_eq!(outer_sum_scratch(256, 8192).unwrap(), (0, 0));
        assert_eq!(outer_sum_scratch(4096, 10).unwrap(), (0, 0));
        assert_eq!(outer_sum_scratch(0, 10).unwrap(), (0, 0));
    }
}
