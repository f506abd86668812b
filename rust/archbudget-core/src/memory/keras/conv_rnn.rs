//! ConvLSTM1D/2D/3D as a PyTorch user writes a ConvLSTM cell (PyTorch has no module):
//! per time step, the input's convolution and the hidden state's ('same', stride 1)
//! into 4·filters gate channels, summed; sigmoid input, forget and output gates and the
//! `activation` of the candidate; `c = f·c + i·g`, `h = o·activation(c)`. The two
//! convolutions' weights are declared once and reused at every step (Keras's kernel,
//! recurrent_kernel and bias); the state starts at zeros. return_sequences stacks the
//! steps' `h` (`torch.stack`).
use super::super::graph::{Graph, ValueId};
use super::super::ops::*;
use super::super::{mul, Result};
use super::dense_conv::same_padding;
use super::site::{activation_op, Site};
use crate::error::Error;
use crate::shape::Shape;

pub(super) fn conv_lstm(g: &mut Graph, s: &Site, inputs: &[ValueId]) -> Result<ValueId> {
    let x_shape = s.input(0)?;
    let steps = s.dim(x_shape.get(1).copied().flatten())?;
    // (B, T, …) → the shape of one step, (B, …)
    let one_step = |sh: &Shape| -> Shape {
        sh.first()
            .into_iter()
            .chain(sh.iter().skip(2))
            .copied()
            .collect()
    };
    let sequences = s.bool_of("return_sequences", false);
    let (size, channels) = s.spatial(&one_step(x_shape))?;
    let out_step = if sequences {
        one_step(s.out)
    } else {
        s.out.clone()
    };
    let (out_size, filters) = s.spatial(&out_step)?;
    let n = size.len();
    if out_size.len() != n {
        return Err(Error::shape(s.here, "input and output ranks differ"));
    }
    let kernel = s
        .ints("kernel_size", n)?
        .ok_or_else(|| Error::invalid(s.here, "missing 'kernel_size'"))?;
    let stride = s.ints("strides", n)?.unwrap_or(vec![1; n]);
    let dilation = s.ints("dilation_rate", n)?.unwrap_or(vec![1; n]);
    let mut input_dims = Vec::with_capacity(n);
    let mut state_dims = Vec::with_capacity(n);
    for i in 0..n {
        let (k, st, d) = (kernel[i], stride[i], dilation[i]);
        let mut dim = ConvDim::new(
            size[i],
            k,
            st,
            same_padding(size[i], out_size[i], k, st, d)?,
        );
        dim.dilation = d;
        input_dims.push(dim);
        let pad = same_padding(out_size[i], out_size[i], k, 1, 1)?;
        state_dims.push(ConvDim::new(out_size[i], k, 1, pad));
    }
    let gates = mul(4, filters)?;
    let step_numel = s.numel(&one_step(x_shape))?;
    let state_numel = s.numel(&out_step)?;
    let candidate = activation_op(s.str_of("activation"), s.here)?;
    let conv = |in_channels, dims: &Vec<ConvDim>, bias, shared_weights| {
        Op::Conv(Conv {
            batch: s.batch,
            in_channels,
            out_channels: gates,
            dims: dims.clone(),
            groups: 1,
            bias,
            transposed: false,
            shared_weights,
        })
    };
    let zeros = Op::Fill(Fill {
        numel: state_numel,
        dtype: None,
        buffer: None,
    });
    // go_backwards: the steps run on `x.flip(1)`, a copy
    let x = if s.bool_of("go_backwards", false) {
        g.push(Op::Copy(Copy::default()), &inputs[..1])
    } else {
        inputs[0]
    };
    let (mut h, mut c) = (g.push(zeros.clone(), &[]), g.push(zeros, &[]));
    let mut hs = Vec::with_capacity(steps as usize);
    let use_bias = s.bool_of("use_bias", true);
    for t in 0..steps {
        let x_t = g.push(
            Op::SelectLast(SelectLast {
                out_numel: step_numel,
            }),
            &[x],
        );
        let from_x = g.push(conv(channels, &input_dims, use_bias, t > 0), &[x_t]);
        let from_h = g.push(conv(filters, &state_dims, false, t > 0), &[h]);
        let z = g.push(Op::Add(Add), &[from_x, from_h]);
        let mut gate = |kind: Option<ActKind>| {
            let part = g.push(
                Op::SelectLast(SelectLast {
                    out_numel: state_numel,
                }),
                &[z],
            );
            match kind {
                Some(kind) => g.push(Op::Act(Act { kind }), &[part]),
                None => part,
            }
        };
        // sigmoid keeps its output for backward, as tanh does
        let (i, f, cand, o) = (
            gate(Some(ActKind::Tanh)),
            gate(Some(ActKind::Tanh)),
            gate(candidate),
            gate(Some(ActKind::Tanh)),
        );
        let kept = g.push(Op::Mul(Mul), &[f, c]);
        let new = g.push(Op::Mul(Mul), &[i, cand]);
        c = g.push(Op::Add(Add), &[kept, new]);
        let activated = match candidate {
            Some(kind) => g.push(Op::Act(Act { kind }), &[c]),
            None => c,
        };
        h = g.push(Op::Mul(Mul), &[o, activated]);
        hs.push(h);
    }
    Ok(if sequences {
        g.push(
            Op::Copy(Copy {
                numel: Some(mul(steps, state_numel)?),
            }),
            &hs,
        )
    } else {
        h
    })
}
