//! The GPU catalog: one row per card, every figure beside its source.
//!
//! `memory_bytes` is the memory CUDA reports (`cudaMemGetInfo`'s total, the same as
//! `torch.cuda.get_device_properties(0).total_memory`), not the marketing GB: where a
//! published `deviceQuery` printout of the card was found, its byte count is used and
//! named; otherwise the source says which figure stands in: nvidia-smi's total (0.6-1.5%
//! above CUDA's where both are known: 81559 against 81079 MiB on the H100 SXM, 49140
//! against 48790 MiB on the RTX A6000, 40960 against 40339 MiB on the A100 40GB), or the
//! CUDA total of a card with the same memory. TFLOPs are dense
//! (the datasheets' "with sparsity" figures halved); `fp32` is the rate of PyTorch's
//! default fp32 matmul (no TF32): the vector FP32 figure on NVIDIA, the FP32 matrix
//! figure on AMD, whose rocBLAS runs fp32 GEMMs on the matrix cores. A figure the card
//! lacks (no bf16 on Turing and Volta, no fp8 before Ada and Hopper) is `None`.
use super::Gpu;

const TB: f64 = 1e12;
const GB: f64 = 1e9;
const MIB: u64 = 1 << 20;

/// The catalog, in the order `archbudget gpus` lists it.
pub const GPUS: &[Gpu] = &[
    Gpu {
        name: "H100 SXM",
        aliases: &["H100", "H100 80GB HBM3"],
        memory_bytes: 85_017_755_648,
        bf16_tflops: Some(989.4),
        fp16_tflops: Some(989.4),
        fp8_tflops: Some(1978.9),
        fp32_tflops: Some(66.9),
        bandwidth_bytes_per_s: 3.35 * TB,
        source: "NVIDIA H100 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/h100), \
                 SXM column: BF16/FP16 1,979, FP8 3,958 TFLOPS with sparsity, FP32 67 TFLOPS, \
                 3.35 TB/s; memory: deviceQuery of an 'NVIDIA H100 80GB HBM3', driver 13.0 \
                 (85017755648 bytes)",
    },
    Gpu {
        name: "H100 PCIe",
        aliases: &[],
        memory_bytes: 85_017_755_648,
        bf16_tflops: Some(756.5),
        fp16_tflops: Some(756.5),
        fp8_tflops: Some(1513.0),
        fp32_tflops: Some(51.2),
        bandwidth_bytes_per_s: 2.0 * TB,
        source: "NVIDIA H100 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/h100), \
                 PCIe column: BF16/FP16 1,513, FP8 3,026 TFLOPS with sparsity, FP32 51 TFLOPS, \
                 2 TB/s; memory: the H100 SXM's CUDA total (same 80 GB), not measured on a PCIe card",
    },
    Gpu {
        name: "H100 NVL",
        aliases: &[],
        memory_bytes: 95_830 * MIB,
        bf16_tflops: Some(835.5),
        fp16_tflops: Some(835.5),
        fp8_tflops: Some(1670.5),
        fp32_tflops: Some(60.0),
        bandwidth_bytes_per_s: 3.9 * TB,
        source: "NVIDIA H100 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/h100), \
                 H100 NVL column: BF16/FP16 1,671, FP8 3,341 TFLOPS with sparsity, FP32 60 TFLOPS, \
                 3.9 TB/s, 94 GB; memory: nvidia-smi total 95830 MiB (CUDA's total not found)",
    },
    Gpu {
        name: "H200",
        aliases: &["H200 SXM"],
        memory_bytes: 143_771 * MIB,
        bf16_tflops: Some(989.4),
        fp16_tflops: Some(989.4),
        fp8_tflops: Some(1978.9),
        fp32_tflops: Some(66.9),
        bandwidth_bytes_per_s: 4.8 * TB,
        source: "NVIDIA H200 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/h200), \
                 SXM column: BF16/FP16 1,979, FP8 3,958 TFLOPS with sparsity, FP32 67 TFLOPS, \
                 4.8 TB/s, 141 GB; memory: nvidia-smi total 143771 MiB (CUDA's total not found)",
    },
    Gpu {
        name: "B200",
        aliases: &["B200 SXM"],
        memory_bytes: 183_359 * MIB,
        bf16_tflops: Some(2250.0),
        fp16_tflops: Some(2250.0),
        fp8_tflops: Some(4500.0),
        fp32_tflops: Some(75.0),
        bandwidth_bytes_per_s: 8.0 * TB,
        source: "NVIDIA DGX B200 datasheet (nvidia.com/en-us/data-center/dgx-b200) per GPU of 8: \
                 FP8 72 PFLOPS and BF16 36 PFLOPS with sparsity per system, 600 TFLOPS FP32, \
                 64 TB/s, 1,440 GB; memory: nvidia-smi total 183359 MiB (CUDA's total not found)",
    },
    Gpu {
        name: "A100 80GB",
        aliases: &["A100", "A100 SXM", "A100 SXM4 80GB", "A100 80GB SXM"],
        memory_bytes: 84_987_740_160,
        bf16_tflops: Some(312.0),
        fp16_tflops: Some(312.0),
        fp8_tflops: None,
        fp32_tflops: Some(19.5),
        bandwidth_bytes_per_s: 2039.0 * GB,
        source: "NVIDIA A100 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/a100), \
                 80GB SXM column: BF16/FP16 312 TFLOPS dense, FP32 19.5 TFLOPS, 2,039 GB/s, \
                 no FP8; memory: deviceQuery of an 'NVIDIA A100-SXM4-80GB' (84987740160 bytes)",
    },
    Gpu {
        name: "A100 40GB",
        aliases: &["A100 SXM4 40GB", "A100 40GB SXM"],
        memory_bytes: 42_298_834_944,
        bf16_tflops: Some(312.0),
        fp16_tflops: Some(312.0),
        fp8_tflops: None,
        fp32_tflops: Some(19.5),
        bandwidth_bytes_per_s: 1555.0 * GB,
        source: "NVIDIA A100 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/a100), \
                 40GB SXM column: BF16/FP16 312 TFLOPS dense, FP32 19.5 TFLOPS, 1,555 GB/s, \
                 no FP8; memory: deviceQuery of an 'NVIDIA A100-SXM4-40GB' (42298834944 bytes)",
    },
    Gpu {
        name: "L4",
        aliases: &[],
        memory_bytes: 23_612_293_120,
        bf16_tflops: Some(121.0),
        fp16_tflops: Some(121.0),
        fp8_tflops: Some(242.5),
        fp32_tflops: Some(30.3),
        bandwidth_bytes_per_s: 300.0 * GB,
        source: "NVIDIA L4 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/l4): \
                 BF16/FP16 242, FP8 485 TFLOPS with sparsity, FP32 30.3 TFLOPS, 300 GB/s; \
                 memory: deviceQuery of an 'NVIDIA L4' (23612293120 bytes)",
    },
    Gpu {
        name: "L40S",
        aliases: &[],
        memory_bytes: 47_576_711_168,
        bf16_tflops: Some(362.05),
        fp16_tflops: Some(362.05),
        fp8_tflops: Some(733.0),
        fp32_tflops: Some(91.6),
        bandwidth_bytes_per_s: 864.0 * GB,
        source: "NVIDIA L40S GPU datasheet (nvidia.com/en-us/data-center/l40s): BF16/FP16 \
                 362.05, FP8 733 TFLOPS dense, FP32 91.6 TFLOPS, 864 GB/s; memory: deviceQuery \
                 of an 'NVIDIA L40S' (47576711168 bytes)",
    },
    Gpu {
        name: "A10G",
        aliases: &[],
        memory_bytes: 23_609_475_072,
        bf16_tflops: Some(70.0),
        fp16_tflops: Some(70.0),
        fp8_tflops: None,
        fp32_tflops: Some(35.0),
        bandwidth_bytes_per_s: 600.0 * GB,
        source: "NVIDIA publishes no A10G datasheet; Baseten's 'NVIDIA A10 vs A10G for ML model \
                 inference' (baseten.co/blog/nvidia-a10-vs-a10g-for-ml-model-inference): 24 GB, \
                 600 GB/s as the A10, BF16/FP16 tensor 70 TFLOPS dense, FP32 35 TFLOPS (more \
                 CUDA-core, less tensor rate than the A10); memory: the A10's CUDA total (same \
                 24 GB GDDR6), not measured on an A10G",
    },
    Gpu {
        name: "A10",
        aliases: &[],
        memory_bytes: 23_609_475_072,
        bf16_tflops: Some(125.0),
        fp16_tflops: Some(125.0),
        fp8_tflops: None,
        fp32_tflops: Some(31.2),
        bandwidth_bytes_per_s: 600.0 * GB,
        source: "NVIDIA A10 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/products/a10-gpu): \
                 BF16/FP16 125 TFLOPS dense, FP32 31.2 TFLOPS, 600 GB/s; memory: deviceQuery of \
                 an 'NVIDIA A10', driver 12.2 (23609475072 bytes)",
    },
    Gpu {
        name: "T4",
        aliases: &[],
        memory_bytes: 15_843_721_216,
        bf16_tflops: None,
        fp16_tflops: Some(65.0),
        fp8_tflops: None,
        fp32_tflops: Some(8.1),
        bandwidth_bytes_per_s: 320.0 * GB,
        source: "NVIDIA T4 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/tesla-t4): \
                 FP16 mixed precision 65 TFLOPS, FP32 8.1 TFLOPS, 320 GB/s, no BF16 or FP8 \
                 (Turing); memory: deviceQuery of a 'Tesla T4' (15843721216 bytes)",
    },
    Gpu {
        name: "V100 16GB",
        aliases: &["V100", "V100 SXM2 16GB"],
        memory_bytes: 16_945_512_448,
        bf16_tflops: None,
        fp16_tflops: Some(125.0),
        fp8_tflops: None,
        fp32_tflops: Some(15.7),
        bandwidth_bytes_per_s: 900.0 * GB,
        source: "NVIDIA V100 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/v100), \
                 SXM2 column: tensor 125 TFLOPS, FP32 15.7 TFLOPS, 900 GB/s, no BF16 or FP8 \
                 (Volta); memory: deviceQuery of a 'Tesla V100-SXM2-16GB' (16945512448 bytes)",
    },
    Gpu {
        name: "V100 32GB",
        aliases: &["V100 SXM2 32GB"],
        memory_bytes: 34_089_730_048,
        bf16_tflops: None,
        fp16_tflops: Some(125.0),
        fp8_tflops: None,
        fp32_tflops: Some(15.7),
        bandwidth_bytes_per_s: 900.0 * GB,
        source: "NVIDIA V100 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/v100), \
                 SXM2 column: tensor 125 TFLOPS, FP32 15.7 TFLOPS, 900 GB/s, no BF16 or FP8 \
                 (Volta); memory: deviceQuery of a 'Tesla V100-SXM2-32GB', driver 11.2 \
                 (34089730048 bytes)",
    },
    Gpu {
        name: "RTX 3090",
        aliases: &["GeForce RTX 3090"],
        memory_bytes: 25_447_170_048,
        bf16_tflops: Some(71.0),
        fp16_tflops: Some(71.0),
        fp8_tflops: None,
        fp32_tflops: Some(35.6),
        bandwidth_bytes_per_s: 936.0 * GB,
        source: "NVIDIA Ampere GA102 GPU architecture whitepaper, RTX 3090 column: FP16/BF16 \
                 tensor with FP32 accumulate 71 TFLOPS dense, FP32 35.6 TFLOPS, 936 GB/s; \
                 memory: deviceQuery of an 'NVIDIA GeForce RTX 3090', driver 11.8 (25447170048 bytes)",
    },
    Gpu {
        name: "RTX 4090",
        aliases: &["GeForce RTX 4090"],
        memory_bytes: 25_756_696_576,
        bf16_tflops: Some(165.2),
        fp16_tflops: Some(165.2),
        fp8_tflops: Some(330.3),
        fp32_tflops: Some(82.6),
        bandwidth_bytes_per_s: 1008.0 * GB,
        source: "NVIDIA Ada GPU architecture whitepaper, RTX 4090 column: FP16/BF16 tensor with \
                 FP32 accumulate 165.2, FP8 330.3 TFLOPS dense, FP32 82.6 TFLOPS, 1,008 GB/s; \
                 memory: deviceQuery of an 'NVIDIA GeForce RTX 4090', driver 12.1 (25756696576 bytes)",
    },
    Gpu {
        name: "RTX 5090",
        aliases: &["GeForce RTX 5090"],
        memory_bytes: 33_668_857_856,
        bf16_tflops: Some(209.5),
        fp16_tflops: Some(209.5),
        fp8_tflops: Some(419.0),
        fp32_tflops: Some(104.8),
        bandwidth_bytes_per_s: 1792.0 * GB,
        source: "NVIDIA RTX Blackwell GPU architecture whitepaper, RTX 5090 column: FP16/BF16 \
                 tensor with FP32 accumulate 209.5, FP8 419 TFLOPS dense, FP32 104.8 TFLOPS, \
                 1,792 GB/s; memory: deviceQuery of an 'NVIDIA GeForce RTX 5090', driver 13.0 \
                 (33668857856 bytes)",
    },
    Gpu {
        name: "RTX A6000",
        aliases: &["A6000"],
        memory_bytes: 51_160_023_040,
        bf16_tflops: Some(154.8),
        fp16_tflops: Some(154.8),
        fp8_tflops: None,
        fp32_tflops: Some(38.7),
        bandwidth_bytes_per_s: 768.0 * GB,
        source: "NVIDIA RTX A6000 datasheet (nvidia.com/en-us/design-visualization/rtx-a6000): \
                 tensor 309.7 TFLOPS with sparsity, FP32 38.7 TFLOPS, 768 GB/s; memory: \
                 deviceQuery of an 'NVIDIA RTX A6000', driver 12.7 (51160023040 bytes)",
    },
    Gpu {
        name: "RTX 6000 Ada",
        aliases: &["RTX 6000 Ada Generation"],
        memory_bytes: 49_140 * MIB,
        bf16_tflops: Some(364.25),
        fp16_tflops: Some(364.25),
        fp8_tflops: Some(728.5),
        fp32_tflops: Some(91.1),
        bandwidth_bytes_per_s: 960.0 * GB,
        source: "NVIDIA RTX 6000 Ada Generation datasheet (nvidia.com/en-us/design-visualization/rtx-6000): \
                 tensor (FP8) 1,457 TFLOPS with sparsity, FP32 91.1 TFLOPS, 960 GB/s; FP16/BF16 \
                 half the FP8 rate; memory: nvidia-smi total 49140 MiB (CUDA's total not found)",
    },
    Gpu {
        name: "MI300X",
        aliases: &["Instinct MI300X"],
        memory_bytes: 192 << 30,
        bf16_tflops: Some(1307.4),
        fp16_tflops: Some(1307.4),
        fp8_tflops: Some(2614.9),
        fp32_tflops: Some(163.4),
        bandwidth_bytes_per_s: 5.3 * TB,
        source: "AMD Instinct MI300X data sheet (amd.com/en/products/accelerators/instinct/mi300/mi300x.html): \
                 BF16/FP16 1,307.4, FP8 2,614.9 TFLOPS dense, FP32 matrix 163.4 TFLOPS, \
                 5.3 TB/s; memory: rocm-smi VRAM total, 192 GiB (206158430208 bytes)",
    },
    Gpu {
        name: "MI325X",
        aliases: &["Instinct MI325X"],
        memory_bytes: 256 << 30,
        bf16_tflops: Some(1307.4),
        fp16_tflops: Some(1307.4),
        fp8_tflops: Some(2614.9),
        fp32_tflops: Some(163.4),
        bandwidth_bytes_per_s: 6.0 * TB,
        source: "AMD Instinct MI325X data sheet (amd.com/en/products/accelerators/instinct/mi300/mi325x.html): \
                 BF16/FP16 1,307.4, FP8 2,614.9 TFLOPS dense, FP32 matrix 163.4 TFLOPS, \
                 6 TB/s, 256 GB; memory: 256 GiB, as ROCm reports the MI300X's 192 GB as 192 GiB",
    },
];
