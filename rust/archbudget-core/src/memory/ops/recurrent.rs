//! `nn.LSTM` / `nn.GRU` / `nn.RNN(input, hidden, num_layers, batch_first=True,
//! bidirectional)` on cuDNN, G gate blocks per cell: 4 (LSTM), 3 (GRU), 1 (tanh RNN).
//!
//! Weights per layer and direction: W_ih (G·H×in), W_hh (G·H×H), b_ih (G·H), b_hh (G·H)
//! — two bias vectors, as PyTorch declares them; `in` is the input size for the first
//! layer, D·H above it (D = 2 directions when bidirectional). Built on the GPU the module
//! flattens them into cuDNN's one weight buffer, so no copy is made per call. Output:
//! batch×seq×D·H (plus h_n, and c_n for an LSTM: layers·D×batch×H each, dropped by the
//! caller).
//! `_cudnn_rnn` first makes the batch-first input contiguous in seq-first order (a
//! copy); in training it returns cuDNN's reserve space, which backward keeps with the
//! input, the output and the weights; backward makes contiguous seq-first copies of the
//! input and of the output gradient, dx, and one flat zero-filled weight gradient, and
//! asks for the training workspace again ([`CudnnRnnSpaces`]).
//! Under autocast, `_cudnn_rnn`'s autocast kernel (aten/src/ATen/cudnn/AutocastRNN.cpp)
//! runs the RNN in float16 (not the autocast dtype) on a cast of the input and a new
//! flat float16 copy of the weights, both kept for backward; for a single layer
//! `get_algo` may then pick a persistent kernel ([`Rnn::persistent`]).
//! FLOPs (the matmuls of the gates): 2·B·S·G·H·(in + H) per layer and direction forward,
//! twice that backward (dx and dW; no dx into the first layer when its input needs no
//! gradient). cuDNN also computes the initial state's gradient, which autograd on a
//! decomposed RNN skips (h_0 is zeros), so torch's counter on the CPU kernels of GRU and
//! RNN sees 2·B·G·H·H less per layer and direction backward; it sees the fused LSTM
//! kernels not at all.
use super::{bytes, prod, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::graph::DType;
use crate::memory::Result;

/// cuDNN's temporary spaces for one RNN call, which `_cudnn_rnn` sizes by asking cuDNN
/// (`cudnnGetRNNTempSpaceSizes`, in `CUDNN_FWD_MODE_INFERENCE` or `_TRAINING` as the
/// module is in eval or train mode): a workspace, and in training a reserve space that
/// forward fills and backward reads (aten/src/ATen/native/cudnn/RNN.cpp). The training
/// workspace is one size for the three calls that ask for it (forward, backward data,
/// backward weights: the same query on the same descriptors). Their parts per token
/// and direction follow what the standard algorithm computes, all in the data type
/// (the GEMMs read their operands in it; tensor cores take float16 inputs):
/// - the reserve, per layer: the G gate activations and, beyond them, the cell and
///   hidden states (2 H) that backward reads;
/// - the training workspace, one layer at a time: the operands of backward's GEMMs, the
///   gate gradients (G·H) and the gradient on the layer's input side (its input size);
/// - the inference workspace, one layer at a time: what the reserve holds of a layer.
///
/// cuDNN is closed source and publishes none of these sizes: the rule above is read off
/// the oracle's steps, and what no offline model can know is calibrated (least squares
/// on the oracle, each checked slice by slice in tests/memory_leave_one_out.rs): a fixed
/// training workspace, a fixed inference workspace per layer plus a part proportional
/// to the weights (a repacked copy, as the inference steps suggest), and the persistent
/// kernel's extra workspace per token (`get_algo`, see [`Rnn::persistent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CudnnRnnSpaces {
    /// Reserve space beyond the G·H gate activations, per token, layer and direction.
    pub reserve_extra_quarter_h: u64,
    /// Training workspace bytes per direction, whatever the sizes.
    pub training_workspace_bytes: u64,
    /// Inference workspace bytes per layer and direction, whatever the sizes.
    pub inference_workspace_layer_bytes: u64,
    /// Inference workspace per byte of the flat weight buffer, in quarters.
    pub inference_weight_quarters: u64,
    /// Extra workspace per token of a persistent kernel (`CUDNN_RNN_ALGO_PERSIST_STATIC`).
    pub persistent_workspace_quarter_h: u64,
}

impl CudnnRnnSpaces {
    /// The reserve's 2 H of states, and the four constants calibrated on the 22 LSTM
    /// steps of the H100 oracle (tests/data/gpu_memory_dev.json, torch 2.11, CUDA 13) by
    /// `tests/memory_leave_one_out.rs`, which checks that these are its least-squares
    /// calibration and how well a calibration without any one grid slice predicts it.
    pub const H100: CudnnRnnSpaces = CudnnRnnSpaces {
        reserve_extra_quarter_h: 8,
        training_workspace_bytes: 9 << 20,
        inference_workspace_layer_bytes: 9 << 20,
        inference_weight_quarters: 3,
        persistent_workspace_quarter_h: 60,
    };
}

/// `numel · quarters / 4` elements of `dt`, in bytes.
fn quarters(numel: u64, quarters: u64, dt: DType) -> Result<u64> {
    bytes(crate::memory::mul(numel, quarters)? / 4, dt)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RnnKind {
    Lstm,
    Gru,
    /// `nn.RNN(nonlinearity='tanh')` (Keras SimpleRNN).
    Tanh,
}

impl RnnKind {
    pub fn gates(self) -> u64 {
        match self {
            RnnKind::Lstm => 4,
            RnnKind::Gru => 3,
            RnnKind::Tanh => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rnn {
    pub kind: RnnKind,
    pub batch: u64,
    pub seq: u64,
    pub input_size: u64,
    pub hidden: u64,
    pub layers: u64,
    pub bidirectional: bool,
    /// cuDNN's workspace and reserve sizes ([`CudnnRnnSpaces::H100`] unless calibrating).
    pub spaces: CudnnRnnSpaces,
}

impl Rnn {
    fn directions(&self) -> u64 {
        1 + self.bidirectional as u64
    }

    /// Input size of layer `l`.
    fn layer_input(&self, l: u64) -> Result<u64> {
        if l == 0 {
            Ok(self.input_size)
        } else {
            crate::memory::mul(self.directions(), self.hidden)
        }
    }

    /// Whether PyTorch's `get_algo` (aten/src/ATen/native/cudnn/RNN.cpp) picks
    /// `CUDNN_RNN_ALGO_PERSIST_STATIC`: float16 data, one unidirectional layer, hidden and
    /// input sizes multiples of 128 with H ≤ 1024, and on an sm80+ GPU with ≥ 98 SMs
    /// (the oracle's H100) a batch that is a multiple of 8 up to 128 (not for GRUs;
    /// for tanh RNNs not at batch ≥ 96 with H ≥ 896). The small-H persistent kernel it
    /// tries first (LSTM H ≤ 192 forward, 128 backward) is charged as the standard one.
    fn persistent(&self, data: DType) -> bool {
        let common = data == DType::BF16
            && self.layers == 1
            && !self.bidirectional
            && self.hidden <= 1024
            && self.hidden % 128 == 0
            && self.input_size % 128 == 0;
        let b = self.batch;
        let device = match self.kind {
            RnnKind::Gru => false,
            RnnKind::Lstm => b % 8 == 0 && b <= 128,
            RnnKind::Tanh => b % 8 == 0 && b <= 128 && (b < 96 || self.hidden < 896),
        };
        common && device
    }

    /// Parameter sizes, layer by layer, direction by direction.
    pub fn params(&self) -> Result<Vec<u64>> {
        let g = crate::memory::mul(self.kind.gates(), self.hidden)?;
        let mut v = Vec::new();
        for l in 0..self.layers {
            for _ in 0..self.directions() {
                v.push(crate::memory::mul(g, self.layer_input(l)?)?);
                v.push(crate::memory::mul(g, self.hidden)?);
                v.push(g);
                v.push(g);
            }
        }
        Ok(v)
    }

    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let dt = cx.in_dtype[0];
        // Autocast's `_cudnn_rnn` kernel (aten/src/ATen/cudnn/AutocastRNN.cpp) runs the
        // RNN in float16 whatever the autocast dtype: BF16 stands in for its 2 bytes.
        let fp16 = cx.amp() && dt == DType::F32;
        let data = if fp16 { DType::BF16 } else { dt };
        let dirs = self.directions();
        let tokens = crate::memory::mul(self.batch, self.seq)?;
        // per-direction outputs (one H per token), all directions, all layers
        let th = crate::memory::mul(tokens, self.hidden)?;
        let thd = crate::memory::mul(th, dirs)?;
        let thl = prod(&[th, dirs, self.layers])?;
        let layer_dirs = crate::memory::mul(self.layers, dirs)?;
        let mut c = Cost::default();
        let params = self.params()?;
        for &n in &params {
            c.params.push(Param::new(n, AmpCast::No));
        }
        let weight_numel = params
            .iter()
            .try_fold(0u64, |a, &n| crate::memory::add(a, n))?;
        let flat_weights = bytes(weight_numel, data)?;
        c.out = Some(Out::New {
            numel: thd,
            dtype: data,
        });
        // `input.contiguous()` of the batch-first input in seq-first order: a copy, made
        // by forward and again by each backward call
        let x_copy = bytes(cx.in_numel[0], data)?;
        let state = bytes(prod(&[self.layers, dirs, self.batch, self.hidden])?, data)?;
        c.fwd_temp = vec![x_copy, state];
        if self.kind == RnnKind::Lstm {
            c.fwd_temp.push(state); // c_n
        }
        if fp16 {
            // the input's float16 cast and a new flat float16 weight buffer, both
            // kept for backward
            c.saved.push(x_copy);
            c.saved.push(flat_weights);
        }
        let g = crate::memory::mul(self.kind.gates(), self.hidden)?;
        let mut f = 0u64;
        for l in 0..self.layers {
            let inp = crate::memory::add(self.layer_input(l)?, self.hidden)?;
            let per = prod(&[2, tokens, g, inp, dirs])?;
            f = crate::memory::add(f, per)?;
        }
        c.flops_fwd = f;
        let sp = self.spaces;
        let persistent = if self.persistent(data) {
            quarters(thd, sp.persistent_workspace_quarter_h, data)?
        } else {
            0
        };
        let reserve_q = crate::memory::add(
            crate::memory::mul(self.kind.gates(), 4)?,
            sp.reserve_extra_quarter_h,
        )?;
        let layer_reserve = quarters(thd, reserve_q, data)?;
        if !cx.record {
            let fixed = crate::memory::mul(layer_dirs, sp.inference_workspace_layer_bytes)?;
            let repacked = crate::memory::mul(flat_weights, sp.inference_weight_quarters)? / 4;
            let mut ws = 0u64;
            for part in [layer_reserve, fixed, persistent, repacked] {
                ws = crate::memory::add(ws, part)?;
            }
            c.fwd_temp.push(ws);
        }
        if cx.record {
            if !fp16 {
                c.save_inputs.push(0);
            }
            c.save_output = true;
            c.saved.push(quarters(thl, reserve_q, data)?);
            let widest_input = (0..self.layers).try_fold(0u64, |w, l| {
                Ok::<u64, crate::Error>(w.max(self.layer_input(l)?))
            })?;
            let per_token = crate::memory::add(crate::memory::mul(g, dirs)?, widest_input)?;
            let operands = bytes(crate::memory::mul(tokens, per_token)?, data)?;
            let fixed = crate::memory::mul(dirs, sp.training_workspace_bytes)?;
            let work = crate::memory::add(crate::memory::add(operands, fixed)?, persistent)?;
            c.fwd_temp.push(work);
            // the input's seq-first copy again, the output gradient's, the workspace;
            // under autocast also the flat float16 weight gradient the float32 ones
            // are cast from
            c.bwd_temp = vec![x_copy, bytes(thd, data)?, work];
            if fp16 && cx.wgrad() {
                c.bwd_temp.push(flat_weights);
            }
            let first_dx = prod(&[2, tokens, g, self.input_size, dirs])?;
            // dx through every layer, and dW unless frozen
            c.flops_bwd = crate::memory::mul(f, 1 + cx.wgrad() as u64)?;
            if !cx.grad(0) {
                c.flops_bwd -= first_dx;
            }
        }
        Ok(c)
    }
}
