//! One small file per op family. Each op declares, for the context it runs in (train or
//! inference, precision, its inputs' dtypes and whether they require grad), a [`Cost`]:
//! its parameters and buffers (as PyTorch counts them), its output, what autograd saves
//! for backward, its transient workspace, and its FLOPs as `torch.utils.flop_counter`
//! counts them (2 per multiply-add of mm / bmm / addmm / convolution / attention,
//! nothing for elementwise ops and reductions).
mod activation;
mod attention;
mod conv;
mod dense;
mod embedding;
mod lora;
mod loss;
mod moe;
mod norm;
mod pool;
mod quant;
mod recurrent;
mod relative;
mod solve;
mod ssm;
mod tensor;
mod wkv7;

pub use activation::{Act, ActKind, Dropout, Noise, NoiseKind, Prelu};
pub use attention::{Attention, AttnImpl};
pub use conv::{with_workspace, Conv, ConvDim, ConvWorkspace};
pub use dense::Linear;
pub use embedding::{ClsPositions, Embedding};
pub use lora::{ExpertsLora, LoraLinear};
pub use loss::{CrossEntropy, SquareMean};
pub use moe::{MoeExperts, Router};
pub use norm::{BatchNorm2d, FusedRmsNorm, GroupNorm, LayerNorm, Normalize, RmsNorm};
pub use pool::{GlobalAvgPool, Pool, PoolKind};
pub use quant::QuantLinear;
pub use recurrent::{CudnnRnnSpaces, Rnn, RnnKind};
pub use relative::{BiasAdd, HeadMatmul};
pub use solve::TriangularSolve;
pub use ssm::SelectiveScan;
pub use tensor::{
    Add, Cast, Copy, Fill, GridSample, Matmul, Mul, Opaque, Rotary, Scale, SelectLast, UnusedParam,
    View,
};
pub use wkv7::Wkv7;

use super::graph::DType;
use super::{Precision, Result};

/// An op with concrete shapes.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Linear(Linear),
    QuantLinear(QuantLinear),
    Conv(Conv),
    BatchNorm2d(BatchNorm2d),
    LayerNorm(LayerNorm),
    RmsNorm(RmsNorm),
    FusedRmsNorm(FusedRmsNorm),
    GroupNorm(GroupNorm),
    Normalize(Normalize),
    Act(Act),
    Dropout(Dropout),
    Noise(Noise),
    Prelu(Prelu),
    Pool(Pool),
    GlobalAvgPool(GlobalAvgPool),
    Embedding(Embedding),
    Rnn(Rnn),
    Attention(Attention),
    CrossEntropy(CrossEntropy),
    SquareMean(SquareMean),
    View(View),
    Copy(Copy),
    Cast(Cast),
    Add(Add),
    Mul(Mul),
    Scale(Scale),
    SelectLast(SelectLast),
    Fill(Fill),
    UnusedParam(UnusedParam),
    Rotary(Rotary),
    Router(Router),
    MoeExperts(MoeExperts),
    ExpertsLora(ExpertsLora),
    LoraLinear(LoraLinear),
    ClsPositions(ClsPositions),
    Matmul(Matmul),
    GridSample(GridSample),
    Opaque(Opaque),
    TriangularSolve(TriangularSolve),
    SelectiveScan(SelectiveScan),
    BiasAdd(BiasAdd),
    HeadMatmul(HeadMatmul),
    Wkv7(Wkv7),
    /// An op applied again to weights an earlier node declared (ALBERT's shared layers):
    /// its cost with every parameter marked shared, so it is counted, given a gradient
    /// and optimizer state once; its activations are its own.
    Reused(Box<Op>),
}

impl Op {
    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        match self {
            Op::Linear(o) => o.lower(cx),
            Op::QuantLinear(o) => o.lower(cx),
            Op::Conv(o) => o.lower(cx),
            Op::BatchNorm2d(o) => o.lower(cx),
            Op::LayerNorm(o) => o.lower(cx),
            Op::RmsNorm(o) => o.lower(cx),
            Op::FusedRmsNorm(o) => o.lower(cx),
            Op::GroupNorm(o) => o.lower(cx),
            Op::Normalize(o) => o.lower(cx),
            Op::Act(o) => o.lower(cx),
            Op::Dropout(o) => o.lower(cx),
            Op::Noise(o) => o.lower(cx),
            Op::Prelu(o) => o.lower(cx),
            Op::Pool(o) => o.lower(cx),
            Op::GlobalAvgPool(o) => o.lower(cx),
            Op::Embedding(o) => o.lower(cx),
            Op::Rnn(o) => o.lower(cx),
            Op::Attention(o) => o.lower(cx),
            Op::CrossEntropy(o) => o.lower(cx),
            Op::SquareMean(o) => o.lower(cx),
            Op::View(o) => o.lower(cx),
            Op::Copy(o) => o.lower(cx),
            Op::Cast(o) => o.lower(cx),
            Op::Add(o) => o.lower(cx),
            Op::Matmul(o) => o.lower(cx),
            Op::GridSample(o) => o.lower(cx),
            Op::Opaque(o) => o.lower(cx),
            Op::Mul(o) => o.lower(cx),
            Op::Scale(o) => o.lower(cx),
            Op::SelectLast(o) => o.lower(cx),
            Op::Fill(o) => o.lower(cx),
            Op::UnusedParam(o) => o.lower(cx),
            Op::Rotary(o) => o.lower(cx),
            Op::Router(o) => o.lower(cx),
            Op::MoeExperts(o) => o.lower(cx),
            Op::ExpertsLora(o) => o.lower(cx),
            Op::LoraLinear(o) => o.lower(cx),
            Op::ClsPositions(o) => o.lower(cx),
            Op::TriangularSolve(o) => o.lower(cx),
            Op::Reused(o) => {
                let mut c = o.lower(cx)?;
                for p in &mut c.params {
                    p.shared = true;
                }
                Ok(c)
            }
            Op::SelectiveScan(o) => o.lower(cx),
            Op::BiasAdd(o) => o.lower(cx),
            Op::HeadMatmul(o) => o.lower(cx),
            Op::Wkv7(o) => o.lower(cx),
        }
    }
}

/// What an op sees when it runs.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Autograd records this op (training step and some input or weight requires grad).
    pub record: bool,
    /// The module is in `train()` mode (dropout active, batch statistics).
    pub train_mode: bool,
    pub precision: Precision,
    pub attn: AttnImpl,
    pub in_dtype: &'a [DType],
    pub in_numel: &'a [u64],
    pub in_grad: &'a [bool],
    /// The op's parameters are frozen (no weight gradients).
    pub frozen: bool,
}

impl Ctx<'_> {
    /// dtype of parameters and of float activations outside autocast.
    pub fn param_dtype(&self) -> DType {
        if self.precision == Precision::Bf16 {
            DType::BF16
        } else {
            DType::F32
        }
    }
    /// dtype autocast-listed ops (matmuls, convolutions, SDPA) compute in.
    pub fn mm_dtype(&self) -> DType {
        match self.precision {
            Precision::Fp32 => DType::F32,
            _ => DType::BF16,
        }
    }
    pub fn amp(&self) -> bool {
        self.precision == Precision::AmpBf16
    }
    /// Whether input `i` receives a gradient (recorded op, input requires grad).
    pub fn grad(&self, i: usize) -> bool {
        self.record && self.in_grad.get(i).copied().unwrap_or(false)
    }
    /// Whether weights receive gradients here.
    pub fn wgrad(&self) -> bool {
        self.record && !self.frozen
    }
}

/// A parameter tensor (or a buffer) declared by an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub numel: u64,
    /// Under `torch.autocast` the op runs on a bfloat16 copy of this fp32 weight, which
    /// autocast caches for the whole forward (`cached_cast`: leaf tensors that require
    /// grad). `saved` = autograd keeps the copy for backward.
    pub amp_cast: AmpCast,
    /// A parameter already declared by another op (tied embeddings): not counted again;
    /// its second gradient is added in place into `.grad`.
    pub shared: bool,
    /// A quantized weight ([`crate::memory::quant`]): the bytes of each tensor stored for
    /// it (0: none) instead of `numel` elements of the run's dtype. Never trainable.
    pub stored: Option<[u64; 6]>,
    /// A dtype of its own (peft's fp32 adapters on a bf16 model); `None`: the run's.
    pub dtype: Option<DType>,
}

impl Param {
    pub fn new(numel: u64, amp_cast: AmpCast) -> Self {
        Param {
            numel,
            amp_cast,
            shared: false,
            stored: None,
            dtype: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmpCast {
    No,
    Cast { saved: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    /// A new tensor.
    New { numel: u64, dtype: DType },
    /// Shares the storage of input `i` (a view, or an op that returns its input).
    Alias(usize),
    /// A view of part of input `input` (`numel` elements); its backward makes a zero
    /// gradient of the whole input (`select_backward`, `slice_backward`).
    View { input: usize, numel: u64 },
}

/// What one op costs, in bytes of the tensors it creates (the simulator rounds each to
/// allocator blocks) and in FLOPs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cost {
    pub params: Vec<Param>,
    /// Buffers: (numel, dtype) (BatchNorm running statistics and its step counter).
    pub buffers: Vec<(u64, DType)>,
    pub out: Option<Out>,
    /// Inputs autograd keeps for backward (only when recorded).
    pub save_inputs: Vec<usize>,
    /// The output is kept for backward (only when recorded).
    pub save_output: bool,
    /// Other tensors made in forward and kept until this op's backward (bytes each). An
    /// op autograd does not record frees them as its forward ends: the simulator charges
    /// them as transients then, as it ignores `save_inputs`, so ops need not branch on
    /// `Ctx::record` for what they keep.
    pub saved: Vec<u64>,
    /// Tensors alive only while the op runs forward (bytes each).
    pub fwd_temp: Vec<u64>,
    /// Tensors alive only while the op's backward runs, besides the gradients it returns.
    pub bwd_temp: Vec<u64>,
    pub flops_fwd: u64,
    pub flops_bwd: u64,
}

/// What a matmul-like op (Linear, Conv) keeps of its input: the input, for its weight
/// gradient (a frozen weight needs none); under autocast the bf16 copy autocast makes of
/// an fp32 activation instead (not cached: not a leaf), which lives only through the
/// forward when no weight gradient needs it.
pub(crate) fn keep_input_for_weight_grad(c: &mut Cost, cx: &Ctx) -> Result<()> {
    if cx.amp() && cx.in_dtype[0] != DType::BF16 {
        let copy = bytes(cx.in_numel[0], DType::BF16)?;
        if cx.wgrad() {
            c.saved.push(copy);
        } else {
            c.fwd_temp.push(copy);
        }
    } else if cx.wgrad() {
        c.save_inputs.push(0);
    }
    Ok(())
}

pub(crate) fn prod(xs: &[u64]) -> Result<u64> {
    let mut acc = 1u64;
    for &x in xs {
        acc = super::mul(acc, x)?;
    }
    Ok(acc)
}

/// bytes of `numel` elements of `dt`.
pub(crate) fn bytes(numel: u64, dt: DType) -> Result<u64> {
    super::mul(numel, dt.bytes())
}

/// FLOPs of a matrix product of (m×k)·(k×n), as flop_counter counts mm: 2·m·k·n.
pub(crate) fn mm_flops(m: u64, k: u64, n: u64) -> Result<u64> {
    prod(&[2, m, k, n])
}
