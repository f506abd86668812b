//! `nn.Conv1d/2d/3d` and `nn.ConvTranspose1d/2d/3d` (cuDNN), over 1–3 spatial dims.
//!
//! Weights: W (out×in/groups×k…, transposed in×out/groups×k…), b (out). Output:
//! batch×out×o… with, per spatial dim, o = (i + 2·pad − dil·(k−1) − 1) / stride + 1, or
//! for a transposed convolution o = (i−1)·stride − 2·pad + dil·(k−1) + out_pad + 1.
//! Saves: the input and W (the bfloat16 copies under autocast). cuDNN's workspaces:
//! see [`ConvWorkspace`].
//! FLOPs as flop_counter's conv_flop_count: 2·batch·(in·out/groups)·Πk·Πo forward, with
//! Πo the output's spatial size, or the input's for a transposed convolution (it runs
//! the forward convolution's input gradient); backward the same again for dx (when the
//! input requires grad), and `groups` times it for dW (conv_backward_flop counts the
//! weight gradient as a convolution over all in×out channel pairs, grouped or not).
use super::{keep_input_for_weight_grad, prod, AmpCast, Cost, Ctx, Out, Param};
use crate::memory::graph::DType;
use crate::memory::Result;

/// The workspace cuDNN's heuristically chosen convolution algorithms ask for, in bytes
/// per output element (`cudnn.benchmark` off: the first engine of
/// `CUDNN_HEUR_MODE_INSTANT` that runs, Conv_v8.cpp's `try_configs`; its
/// `plan.getWorkspaceSize()` is allocated per call). cuDNN is closed source and
/// publishes no engine's workspace, so which engine the heuristic picks, and its size,
/// cannot be known offline: this is calibrated on the H100 oracle, and
/// tests/memory_leave_one_out.rs checks that it is the calibration of all the CNN steps
/// and how well a calibration without any one grid slice, or any one step, predicts it.
/// Backward runs the data and the filter gradients one after the other
/// (`convolution_backward`), each on a workspace its own heuristic sizes: charged the
/// forward's size, or in fp32 the non-fused Winograd buffers ([`winograd_bytes`]) where
/// they are larger and the heuristic takes Winograd: for short, narrow transformed GEMMs
/// (batch × 4×4 tiles and output channels up to the two calibrated bounds). Four
/// steps of the oracle come out exact to the KiB with those buffers (cnn-307, 331, 355,
/// 373: batch 32, 16×16 layers), which is what says the algorithm is Winograd; where the
/// heuristic switches is what is calibrated. The fp32 steps at batch 128 and filters 32
/// take far more at 4×4 (up to 247 MiB, an engine no documented algorithm sizes to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvWorkspace {
    /// fp32 (TF32) convolutions: quarter-bytes per output element.
    pub f32_quarter_bytes: u64,
    /// bf16 (and autocast) convolutions: quarter-bytes per output element.
    pub bf16_quarter_bytes: u64,
    /// fp32 3×3 backward: the Winograd workspace is charged up to this many rows of its
    /// transformed GEMMs (batch × 4×4 output tiles), past which the heuristic picks
    /// another engine (0: never)...
    pub f32_winograd_max_rows: u64,
    /// ...and up to this many output channels (the GEMMs' width).
    pub f32_winograd_max_out_channels: u64,
}

impl ConvWorkspace {
    /// Calibrated on the 99 CNN steps of the H100 oracle (tests/data/gpu_memory_dev.json,
    /// 32→32 … 512→512 3×3 convolutions): 8 B per output element in fp32 and 4 B in bf16,
    /// two outputs' worth in either dtype; the fp32 backward's Winograd buffers up to 512
    /// rows (batch 32 at 16×16, batch 128 at 8×8) and 256 output channels.
    pub const H100: ConvWorkspace = ConvWorkspace {
        f32_quarter_bytes: 32,
        bf16_quarter_bytes: 16,
        f32_winograd_max_rows: 512,
        f32_winograd_max_out_channels: 256,
    };
}

/// The global-memory buffers of cuDNN's non-fused Winograd algorithm
/// (`CUDNN_CONVOLUTION_BWD_{DATA,FILTER}_ALGO_WINOGRAD_NONFUSED`, which cuDNN documents
/// for 3×3 stride-1 filters and as keeping its intermediate results in the workspace),
/// as Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2016) lay out
/// F(4×4, 3×3): each 4×4 output tile and its 6×6 input tile transformed into 36 fp32
/// planes, for the input (`rows` × C), the output gradient (`rows` × K) and the filter
/// (C × K), `rows` being batch × tiles; none where the heuristic takes another engine
/// (past `w`'s bounds) or the algorithm does not apply (it takes 2-D, ungrouped 3×3
/// stride-1 convolutions).
fn winograd_bytes(conv: &Conv, w: ConvWorkspace) -> Result<u64> {
    let square3 = conv.dims.len() == 2
        && conv
            .dims
            .iter()
            .all(|d| d.kernel == 3 && d.stride == 1 && d.dilation == 1);
    let (c, k) = (conv.in_channels, conv.out_channels);
    if !square3 || conv.groups > 1 || conv.transposed || k > w.f32_winograd_max_out_channels {
        return Ok(0);
    }
    let tiles = conv
        .out_size()?
        .iter()
        .try_fold(1u64, |a, &o| crate::memory::mul(a, o.div_ceil(4)))?;
    let rows = crate::memory::mul(conv.batch, tiles)?;
    if rows > w.f32_winograd_max_rows {
        return Ok(0);
    }
    let planes = crate::memory::add(
        crate::memory::mul(rows, crate::memory::add(c, k)?)?,
        crate::memory::mul(c, k)?,
    )?;
    prod(&[36, 4, planes])
}

/// Input channels from which a workspace is charged: a 3-channel stem needs none on the
/// oracle's steps (the grid has no width between 3 and 32 to place it more finely).
pub const CONV_WORKSPACE_MIN_IN: u64 = 16;

thread_local! {
    /// The constants [`Conv::lower`] charges: [`ConvWorkspace::H100`] but inside
    /// [`with_workspace`].
    static WORKSPACE: std::cell::Cell<ConvWorkspace> =
        const { std::cell::Cell::new(ConvWorkspace::H100) };
}

/// Runs `f` with convolutions charged `ws` instead of [`ConvWorkspace::H100`], on this
/// thread: how the leave-one-slice-out test calibrates without any one slice, since
/// convolutions are built in too many places to carry the constants as a field.
pub fn with_workspace<R>(ws: ConvWorkspace, f: impl FnOnce() -> R) -> R {
    let before = WORKSPACE.with(|w| w.replace(ws));
    let r = f();
    WORKSPACE.with(|w| w.set(before));
    r
}

/// One spatial dimension of a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvDim {
    pub size: u64,
    pub kernel: u64,
    pub stride: u64,
    /// Zeros added on each side.
    pub padding: u64,
    pub dilation: u64,
    /// Transposed convolutions only: extra rows on one side of the output.
    pub output_padding: u64,
}

impl ConvDim {
    /// No dilation, no output padding.
    pub fn new(size: u64, kernel: u64, stride: u64, padding: u64) -> Self {
        ConvDim {
            size,
            kernel,
            stride,
            padding,
            dilation: 1,
            output_padding: 0,
        }
    }

    pub(crate) fn out(&self, transposed: bool) -> Result<u64> {
        let span = self
            .dilation
            .checked_mul(self.kernel.saturating_sub(1))
            .ok_or_else(crate::memory::overflow)?;
        let bad = |msg: String| Err(crate::Error::shape("convolution or pooling window", msg));
        if self.kernel == 0 || self.stride == 0 || self.size == 0 {
            return bad("kernel, stride and input size must be positive".into());
        }
        if transposed {
            let grown = (self.size - 1)
                .checked_mul(self.stride)
                .and_then(|x| x.checked_add(span + self.output_padding + 1))
                .ok_or_else(crate::memory::overflow)?;
            return match grown.checked_sub(2u64.saturating_mul(self.padding)) {
                Some(o) if o > 0 => Ok(o),
                _ => bad(format!("padding {} leaves no output", self.padding)),
            };
        }
        let padded = self
            .size
            .checked_add(2u64.saturating_mul(self.padding))
            .ok_or_else(crate::memory::overflow)?;
        if padded <= span {
            return bad(format!(
                "kernel {} larger than padded input {padded}",
                span + 1
            ));
        }
        Ok((padded - span - 1) / self.stride + 1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv {
    pub batch: u64,
    pub in_channels: u64,
    pub out_channels: u64,
    /// The spatial dims (1 to 3).
    pub dims: Vec<ConvDim>,
    pub groups: u64,
    pub bias: bool,
    pub transposed: bool,
    /// The weights of an earlier Conv, applied again (a ConvLSTM's convolutions at
    /// each time step): not declared again; their gradients accumulate into `.grad`.
    pub shared_weights: bool,
}

impl Conv {
    /// Output spatial sizes.
    pub fn out_size(&self) -> Result<Vec<u64>> {
        self.dims.iter().map(|d| d.out(self.transposed)).collect()
    }

    pub fn out_numel(&self) -> Result<u64> {
        prod(&[self.batch, self.out_channels, prod(&self.out_size()?)?])
    }

    pub fn lower(&self, cx: &Ctx) -> Result<Cost> {
        let dt = cx.mm_dtype();
        let groups = self.groups.max(1);
        let dx = cx.grad(0);
        let kernel = prod(&self.dims.iter().map(|d| d.kernel).collect::<Vec<_>>())?;
        let mut c = Cost::default();
        // in·out/groups·Πk either way round (transposed: in × out/groups × k…)
        let w = prod(&[self.in_channels / groups, self.out_channels, kernel])?;
        c.params.push(Param::new(w, AmpCast::Cast { saved: dx }));
        if self.bias {
            c.params.push(Param::new(
                self.out_channels,
                AmpCast::Cast { saved: false },
            ));
        }
        for p in &mut c.params {
            p.shared = self.shared_weights;
        }
        keep_input_for_weight_grad(&mut c, cx)?;
        let out = self.out_numel()?;
        c.out = Some(Out::New {
            numel: out,
            dtype: dt,
        });
        if self.in_channels >= CONV_WORKSPACE_MIN_IN {
            let w = WORKSPACE.with(|w| w.get());
            let quarter_bytes = if dt == DType::F32 {
                w.f32_quarter_bytes
            } else {
                w.bf16_quarter_bytes
            };
            let ws = crate::memory::mul(out, quarter_bytes)? / 4;
            c.fwd_temp.push(ws);
            if cx.record {
                let winograd = match dt {
                    DType::F32 => winograd_bytes(self, w)?,
                    _ => 0,
                };
                c.bwd_temp.push(ws.max(winograd));
            }
        }
        let positions = if self.transposed {
            prod(&self.dims.iter().map(|d| d.size).collect::<Vec<_>>())?
        } else {
            prod(&self.out_size()?)?
        };
        let f = prod(&[2, self.batch, w, positions])?;
        c.flops_fwd = f;
        let dw = crate::memory::mul(f, groups)?;
        c.flops_bwd = crate::memory::add(
            crate::memory::mul(f, dx as u64)?,
            crate::memory::mul(dw, cx.wgrad() as u64)?,
        )?;
        Ok(c)
    }
}
