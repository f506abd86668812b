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
use crate::formats::keras::{Call, Layer, Model, TensorRef};
use crate::shape::{format_shape, Shape};

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

/// A custom layer or Lambda: its weights (as counted from the archive), its output
/// (of the [`stand_in_output`] shape where nothing recorded it).
pub fn opaque(
    g: &mut Graph,
    layer: &Layer,
    call: &Call,
    batch: u64,
    inputs: &[ValueId],
    here: &str,
) -> Result<ValueId> {
    let out = output_shape(layer, call, here)?;
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

/// The output shape memory gives `call` of `layer`: the recorded one, or for a custom
/// layer whose output nothing consumed (a model output) its [`stand_in_output`].
pub fn output_shape<'a>(layer: &Layer, call: &'a Call, here: &str) -> Result<&'a Shape> {
    if layer.shape_known {
        return Ok(&call.outputs[0]);
    }
    stand_in_output(call).map(|(_, shape)| shape).ok_or_else(|| {
        Error::shape(
            here,
            format!(
                "memory: the output shape of custom layer {} is unknown (no layer consumes it, and none of its inputs has every non-batch dimension known: give --seq for an unknown time axis, or declare its output_shape with --custom-layers)",
                layer.class_name
            ),
        )
    })
}

/// The shape memory assumes for a custom layer's output that no layer consumes: Keras
/// knows it only by tracing the layer's `call`, which a JSON does not hold. The
/// weightless layers written this way return as many elements as their largest input (a
/// pixel shuffle, a CTC or VAE loss layer returning its prediction, a sampling layer
/// returning a tensor like its mean), so that input's shape stands in; `stand_in_notes`
/// says so. The input is the one with the most elements among those of known shape.
pub fn stand_in_output(call: &Call) -> Option<(TensorRef, &Shape)> {
    let known = |shape: &Shape| -> Option<u64> {
        shape[1.min(shape.len())..]
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul((*d)?))
    };
    let mut best: Option<(u64, TensorRef, &Shape)> = None;
    for (t, shape) in &call.inputs {
        if let Some(n) = known(shape) {
            if best.is_none_or(|(m, ..)| n > m) {
                best = Some((n, *t, shape));
            }
        }
    }
    best.map(|(_, t, shape)| (t, shape))
}

/// One line per custom layer of `model` (nested models included) whose output shape
/// memory assumed ([`stand_in_output`]), naming the input whose shape stands in.
pub fn stand_in_notes(model: &Model) -> Vec<String> {
    let mut notes = Vec::new();
    for layer in &model.layers {
        if let Some(nested) = &layer.nested {
            notes.extend(stand_in_notes(nested));
        }
        if layer.shape_known || layer.op {
            continue;
        }
        for call in &layer.calls {
            if let Some((t, shape)) = stand_in_output(call) {
                notes.push(format!(
                    "custom layer '{}' ({}): no layer consumes its output, so memory assumes it has the shape of its input '{}', {}; declare its output_shape with --custom-layers to set it",
                    layer.name,
                    layer.class_name,
                    model.layers[t.layer].name,
                    format_shape(shape)
                ));
            }
        }
    }
    notes
}

/// `keras.ops` Operations by what the torch op a PyTorch user writes for them costs.
/// Views: no new tensor.
const VIEWS: &[&str] = &[
    "ExpandDims",
    "Squeeze",
    "Reshape",
    "Transpose",
    "Ravel",
    "Moveaxis",
    "Swapaxes",
    "View",
    "BroadcastTo",
    "StopGradient",
    "Diagonal",
    "Real",
    "Imag",
];
/// Indexing views whose backward makes a zero gradient of the whole input.
const SELECTS: &[&str] = &[
    "GetItem",
    "Slice",
    "Unstack",
    "Split",
    "ArraySplit",
    "Hsplit",
    "Vsplit",
    "Dsplit",
];
/// A new tensor, nothing saved for backward: layout copies, sums and means (backward
/// needs only shapes), comparisons, rounding and integer results (no gradient).
const COPIES: &[&str] = &[
    "Concatenate",
    "Stack",
    "Hstack",
    "Vstack",
    "Dstack",
    "Append",
    "Cast",
    "SaturateCast",
    "Copy",
    "ConvertToTensor",
    "Tile",
    "Repeat",
    "Pad",
    "PadImages",
    "CropImages",
    "Flip",
    "Fliplr",
    "Flipud",
    "Roll",
    "Rot90",
    "Tril",
    "Triu",
    "Diag",
    "Diagflat",
    "Trace",
    "Mean",
    "Sum",
    "Nansum",
    "Nanmean",
    "Average",
    "Cumsum",
    "Nancumsum",
    "Resize",
    "ExtractPatches",
    "DepthToSpace",
    "SpaceToDepth",
    "Unfold",
    "Fold",
    "OnesLike",
    "ZerosLike",
    "FullLike",
    "EmptyLike",
    "OneHot",
    "MultiHot",
    "Round",
    "Floor",
    "Ceil",
    "Trunc",
    "Sign",
    "Signbit",
    "Equal",
    "NotEqual",
    "Greater",
    "GreaterEqual",
    "Less",
    "LessEqual",
    "LogicalAnd",
    "LogicalOr",
    "LogicalNot",
    "LogicalXor",
    "Isnan",
    "Isinf",
    "Isfinite",
    "Isneginf",
    "Isposinf",
    "Isclose",
    "IsIn",
    "Argmax",
    "Argmin",
    "Argsort",
    "Nanargmax",
    "Nanargmin",
    "CountNonzero",
    "Take",
    "TakeAlongAxis",
    "Where",
    "Select",
    "NanToNum",
    "Deg2rad",
    "Rad2deg",
    "Conjugate",
];
/// Reductions whose backward needs their input (the max's position, the product, the
/// deviation): a new tensor, the input saved.
const REDUCTIONS: &[&str] = &[
    "Max",
    "Min",
    "Amax",
    "Amin",
    "Prod",
    "Nanprod",
    "Std",
    "Var",
    "Nanstd",
    "Nanvar",
    "Nanmax",
    "Nanmin",
    "Logsumexp",
    "Norm",
    "Ptp",
    "Cumprod",
    "Nancumprod",
    "Median",
    "Nanmedian",
    "Any",
    "All",
    "Clip",
    "Moments",
    "TopK",
    "Sort",
];
/// Elementwise functions whose backward needs their output.
const SAVE_OUTPUT: &[&str] = &[
    "Softmax",
    "LogSoftmax",
    "Tanh",
    "Sigmoid",
    "Exp",
    "Exp2",
    "Expm1",
    "Sqrt",
    "Rsqrt",
    "Reciprocal",
    "Sparsemax",
];
/// Elementwise functions whose backward needs their input.
const SAVE_INPUT: &[&str] = &[
    "Silu",
    "Relu6",
    "HardSigmoid",
    "HardSilu",
    "HardSwish",
    "LeakyRelu",
    "Elu",
    "Selu",
    "Celu",
    "Softplus",
    "Softsign",
    "LogSigmoid",
    "Squareplus",
    "SparsePlus",
    "SparseSigmoid",
    "SoftShrink",
    "HardShrink",
    "TanhShrink",
    "HardTanh",
    "Threshold",
    "Glu",
    "Abs",
    "Absolute",
    "Fabs",
    "Square",
    "Log",
    "Log1p",
    "Log2",
    "Log10",
    "Sin",
    "Cos",
    "Tan",
    "Sinh",
    "Cosh",
    "Arcsin",
    "Arccos",
    "Arctan",
    "Arcsinh",
    "Arccosh",
    "Arctanh",
    "Cbrt",
    "Sinc",
    "Erf",
    "Erfc",
    "Erfinv",
    "I0",
    "Normalize",
];
/// Elementwise arithmetic of two tensors whose backward needs both; with one tensor
/// operand (a Python scalar, `x / 127.5`) nothing is saved.
const PRODUCTS: &[&str] = &[
    "Multiply",
    "Divide",
    "TrueDivide",
    "DivideNoNan",
    "FloorDivide",
    "Maximum",
    "Minimum",
    "Fmax",
    "Fmin",
    "Power",
    "Hypot",
    "Arctan2",
    "Logaddexp",
    "Logaddexp2",
    "Mod",
    "Fmod",
    "Heaviside",
];
/// Sums and differences: a new tensor, nothing saved.
const SUMS: &[&str] = &["Add", "Subtract", "Negative"];

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
    let c = class;
    Ok(if VIEWS.contains(&c) {
        g.push(Op::View(View), inputs)
    } else if SELECTS.contains(&c) {
        let op = Op::SelectLast(SelectLast {
            out_numel: out_numel()?,
        });
        g.push(op, inputs)
    } else if COPIES.contains(&c) {
        let op = Op::Copy(Copy {
            numel: Some(out_numel()?),
        });
        g.push(op, inputs)
    } else if REDUCTIONS.contains(&c) {
        let op = Op::Opaque(Opaque {
            params: vec![],
            out_numel: out_numel()?,
        });
        g.push(op, inputs)
    } else if SUMS.contains(&c) || (PRODUCTS.contains(&c) && inputs.len() == 1) {
        g.push(Op::Add(Add), inputs)
    } else if PRODUCTS.contains(&c) {
        g.push(Op::Mul(Mul), inputs)
    } else if c == "Relu" {
        act(g, ActKind::Relu)
    } else if c == "Gelu" {
        act(g, ActKind::Gelu)
    } else if SAVE_OUTPUT.contains(&c) {
        act(g, ActKind::Tanh)
    } else if SAVE_INPUT.contains(&c) {
        act(g, ActKind::Silu)
    } else if c == "Matmul" {
        matmul(g, ins, out_numel()?, inputs, here)?
    } else {
        return Err(Error::invalid(
            here,
            format!("memory: keras.ops node {c} has no PyTorch lowering yet"),
        ));
    })
}

/// `torch.matmul` of `(…, m, k) @ (…, k, n)`; a rank-1 operand is a vector.
fn matmul(
    g: &mut Graph,
    ins: &[Shape],
    out_numel: u64,
    inputs: &[ValueId],
    here: &str,
) -> Result<ValueId> {
    let dim = |s: &Shape, from_end: usize| {
        s.len()
            .checked_sub(from_end)
            .and_then(|i| s[i])
            .ok_or_else(|| Error::shape(here, "memory: Matmul needs known inner sizes"))
    };
    let [a, b] = ins else {
        return Err(Error::shape(here, "memory: Matmul takes two tensors"));
    };
    let m = if a.len() > 1 { dim(a, 2)? } else { 1 };
    let k = dim(a, 1)?;
    let n = if b.len() > 1 { dim(b, 1)? } else { 1 };
    let batch = out_numel / mul(m, n)?.max(1);
    Ok(g.push(Op::Matmul(Matmul { batch, m, k, n }), inputs))
}
