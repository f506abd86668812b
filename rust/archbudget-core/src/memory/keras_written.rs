//! The parts of Keras models as people write them that have no layer rule of their
//! own in the PyTorch lowering: `keras.ops` nodes of a functional graph, custom layers
//! and Lambdas, and the preprocessing layers.
//!
//! - A `keras.ops` node is the torch op a PyTorch user writes in `forward`: views for
//!   reshapes and indexing, `torch.cat`, `torch.matmul`, reductions, elementwise
//!   arithmetic (with a Python scalar it saves nothing) and activations.
//! - A custom layer or Lambda is costed as [`Opaque`]: its saved weights, a new output
//!   and its saved input; its computation and FLOPs are unknown.
//! - A preprocessing layer (StringLookup, TextVectorization, ...) runs in the input
//!   pipeline in PyTorch (a tokenizer, a dataset transform): its output reaches the model
//!   as a fresh tensor without gradient, like an input.
use super::graph::{DType, Graph, ValueId};
use super::ops::*;
use super::{mul, Result};
use crate::error::Error;
use crate::formats::keras::Layer;
use crate::shape::Shape;

pub const PREPROCESSING: &[&str] = &[
    "StringLookup",
    "IntegerLookup",
    "TextVectorization",
    "Hashing",
    "CategoryEncoding",
    "Discretization",
];

fn numel(batch: u64, shape: &Shape, here: &str) -> Result<u64> {
    shape[1.min(shape.len())..].iter().try_fold(batch, |acc, d| {
        let d = d.ok_or_else(|| {
            Error::shape(
                here,
                "memory needs every non-batch dimension known (give --seq for an unknown time axis)",
            )
        })?;
        mul(acc, d)
    })
}

/// A preprocessing layer's output, made by the input pipeline.
pub fn preprocessing(
    g: &mut Graph,
    layer: &Layer,
    out: &Shape,
    batch: u64,
    here: &str,
) -> Result<ValueId> {
    let int_output = matches!(
        layer.config.get("output_mode").and_then(|v| v.as_str()),
        None | Some("int")
    ) && layer.class_name != "CategoryEncoding";
    let dtype = if int_output { DType::I64 } else { DType::F32 };
    Ok(g.push(
        Op::Fill(Fill {
            numel: numel(batch, out, here)?,
            dtype: Some(dtype),
            buffer: None,
        }),
        &[],
    ))
}

/// A custom layer or Lambda: its weights (as counted from the archive), its output.
pub fn opaque(
    g: &mut Graph,
    layer: &Layer,
    out: &Shape,
    batch: u64,
    inputs: &[ValueId],
    here: &str,
) -> Result<ValueId> {
    if !layer.shape_known {
        return Err(Error::shape(
            here,
            format!(
                "memory: the output shape of custom layer {} is unknown (no layer consumes it)",
                layer.class_name
            ),
        ));
    }
    let params = layer
        .weights
        .iter()
        .map(|w| w.numel(here))
        .collect::<crate::error::Result<Vec<_>>>()?;
    Ok(g.push(
        Op::Opaque(Opaque {
            params,
            out_numel: numel(batch, out, here)?,
        }),
        inputs,
    ))
}

/// A `keras.ops` node.
pub fn op_node(
    g: &mut Graph,
    class: &str,
    ins: &[Shape],
    out: &Shape,
    batch: u64,
    inputs: &[ValueId],
    here: &str,
) -> Result<ValueId> {
    let out_numel = || numel(batch, out, here);
    let act = |g: &mut Graph, kind| g.push(Op::Act(Act { kind }), inputs);
    Ok(match class {
        "ExpandDims" | "Squeeze" | "Reshape" | "Transpose" => g.push(Op::View(View), inputs),
        "GetItem" => g.push(
            Op::SelectLast(SelectLast {
                out_numel: out_numel()?,
            }),
            inputs,
        ),
        // a new tensor whose backward needs no saved input (F.pad, torch.cat, .to())
        "Concatenate" | "Stack" | "Cast" | "Pad" => g.push(
            Op::Copy(Copy {
                numel: Some(out_numel()?),
            }),
            inputs,
        ),
        "Matmul" => {
            let dim = |s: &Shape, from_end: usize| {
                s.len()
                    .checked_sub(from_end)
                    .and_then(|i| s[i])
                    .ok_or_else(|| Error::shape(here, "memory: Matmul needs known inner sizes"))
            };
            let (a, b) = (&ins[0], &ins[1]);
            let m = if a.len() > 1 { dim(a, 2)? } else { 1 };
            let k = dim(a, 1)?;
            let n = if b.len() > 1 { dim(b, 1)? } else { 1 };
            let batch_count = out_numel()? / mul(m, n)?.max(1);
            g.push(
                Op::Matmul(Matmul {
                    batch: batch_count,
                    m,
                    k,
                    n,
                }),
                inputs,
            )
        }
        // Sums and means need only shapes for backward; the others their input.
        "Mean" | "Sum" => g.push(
            Op::Copy(Copy {
                numel: Some(out_numel()?),
            }),
            inputs,
        ),
        "Max" | "Min" | "Prod" | "Std" | "Var" | "Logsumexp" | "Any" | "All" | "Argmax"
        | "Argmin" | "Clip" => g.push(
            Op::Opaque(Opaque {
                params: vec![],
                out_numel: out_numel()?,
            }),
            inputs,
        ),
        // With a Python scalar operand (`x / 127.5`) nothing is saved.
        "Add" | "Subtract" | "Negative" => g.push(Op::Add(Add), inputs),
        "Multiply" | "Divide" | "TrueDivide" | "Maximum" | "Minimum" | "Power"
            if inputs.len() == 1 =>
        {
            g.push(Op::Add(Add), inputs)
        }
        "Multiply" | "Divide" | "TrueDivide" | "Maximum" | "Minimum" | "Power" => {
            g.push(Op::Mul(Mul), inputs)
        }
        "Relu" => act(g, ActKind::Relu),
        "Gelu" => act(g, ActKind::Gelu),
        // Their backward needs their output.
        "Softmax" | "LogSoftmax" | "Tanh" | "Sigmoid" | "Exp" | "Sqrt" => act(g, ActKind::Tanh),
        // Their backward needs their input.
        "Silu" | "Relu6" | "HardSigmoid" | "HardSwish" | "Abs" | "Square" | "Log" => {
            act(g, ActKind::Silu)
        }
        other => {
            return Err(Error::invalid(
                here,
                format!("memory: keras.ops node {other} has no PyTorch lowering yet"),
            ))
        }
    })
}
