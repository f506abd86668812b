//! The dispatch from a Keras layer class to its PyTorch ops, and the layers that are
//! one op each (activations, dropout and noise, pooling, reshapes, merges).
use serde_json::Value;

use super::super::graph::{Graph, ValueId};
use super::super::ops::*;
use super::super::{mul, Result};
use super::site::{activation_op, wrapped, Site};
use super::{attention, conv_rnn, dense_conv, norm, Lowering};
use crate::error::Error;
use crate::shape::Shape;

/// Layers whose output is their input in the PyTorch equivalent: Identity; Masking
/// (PyTorch carries no mask); ActivityRegularization (its penalty is a scalar added to
/// the loss); Keras's image augmentation layers, which PyTorch runs in the input
/// pipeline (torchvision transforms), not in the model's step.
const IDENTITY: &[&str] = &[
    "Identity",
    "Masking",
    "ActivityRegularization",
    "AutoContrast",
    "Equalization",
    "Solarization",
    "RandomBrightness",
    "RandomColorDegeneration",
    "RandomColorJitter",
    "RandomContrast",
    "RandomErasing",
    "RandomFlip",
    "RandomGaussianBlur",
    "RandomGrayscale",
    "RandomHue",
    "RandomInvert",
    "RandomPerspective",
    "RandomPosterization",
    "RandomRotation",
    "RandomSaturation",
    "RandomSharpness",
    "RandomShear",
    "RandomTranslation",
    "RandomZoom",
];

impl Lowering<'_> {
    /// The PyTorch ops of one Keras layer call; returns the value of its output.
    pub(super) fn lower_layer(
        &mut self,
        g: &mut Graph,
        s: &Site,
        inputs: &[ValueId],
    ) -> Result<ValueId> {
        let b = s.batch;
        let in_shape = s.input(0)?;
        let class = s.class;
        let act = |g: &mut Graph, kind| g.push(Op::Act(Act { kind }), inputs);
        let noise = |g: &mut Graph, kind, rate| g.push(Op::Noise(Noise { kind, rate }), inputs);
        Ok(match class {
            "Dense" | "EinsumDense" => dense_conv::dense(g, s, inputs)?,
            "Conv1D" | "Conv2D" | "Conv3D" | "Conv1DTranspose" | "Conv2DTranspose"
            | "Conv3DTranspose" | "DepthwiseConv1D" | "DepthwiseConv2D" | "SeparableConv1D"
            | "SeparableConv2D" => dense_conv::conv(g, s, inputs)?,
            "BatchNormalization" | "LayerNormalization" | "GroupNormalization"
            | "RMSNormalization" | "UnitNormalization" => norm::norm(g, s, inputs)?,
            "ReLU" => {
                // A clipped or leaky ReLU (relu6, leaky_relu) saves its input.
                let plain = s.cfg.get("max_value").is_none_or(Value::is_null)
                    && s.f64_of("negative_slope", 0.0) == 0.0;
                act(g, if plain { ActKind::Relu } else { ActKind::Silu })
            }
            "LeakyReLU" | "ELU" => act(g, ActKind::Silu),
            "Softmax" => act(g, ActKind::Tanh),
            "PReLU" => {
                let shared: Vec<u64> = match s.cfg.get("shared_axes") {
                    Some(Value::Array(a)) => a.iter().filter_map(Value::as_u64).collect(),
                    Some(x) => x.as_u64().into_iter().collect(),
                    None => vec![],
                };
                let mut alpha = 1u64;
                for (i, &d) in in_shape.iter().enumerate().skip(1) {
                    if !shared.contains(&(i as u64)) {
                        alpha = mul(alpha, s.dim(d)?)?;
                    }
                }
                g.push(Op::Prelu(Prelu { alpha }), inputs)
            }
            "Activation" => match activation_op(s.str_of("activation"), s.here)? {
                Some(kind) => act(g, kind),
                None => inputs[0],
            },
            "Dropout" => g.push(
                Op::Dropout(Dropout {
                    p: s.f64_of("rate", 0.5),
                }),
                inputs,
            ),
            "SpatialDropout1D" | "SpatialDropout2D" | "SpatialDropout3D" => {
                let (_, c) = s.spatial(in_shape)?;
                let kind = NoiseKind::Feature { mask: mul(b, c)? };
                noise(g, kind, s.f64_of("rate", 0.5))
            }
            // torchvision's StochasticDepth(mode="row"): one Bernoulli draw per sample.
            "StochasticDepth" => noise(
                g,
                NoiseKind::Feature { mask: b },
                s.f64_of("drop_path_rate", 0.0),
            ),
            "GaussianNoise" => noise(g, NoiseKind::Additive, s.f64_of("stddev", 0.0)),
            "GaussianDropout" => noise(g, NoiseKind::Multiplicative, s.f64_of("rate", 0.0)),
            "AlphaDropout" => noise(g, NoiseKind::Alpha, s.f64_of("rate", 0.0)),
            "MaxPooling1D" | "MaxPooling2D" | "MaxPooling3D" => {
                dense_conv::pool(g, s, PoolKind::Max, inputs)?
            }
            "AveragePooling1D" | "AveragePooling2D" | "AveragePooling3D" => {
                dense_conv::pool(g, s, PoolKind::Avg, inputs)?
            }
            "GlobalAveragePooling1D" | "GlobalAveragePooling2D" | "GlobalAveragePooling3D" => {
                let (batch, channels) = (b, s.spatial(in_shape)?.1);
                let v = g.push(Op::GlobalAvgPool(GlobalAvgPool { batch, channels }), inputs);
                g.push(Op::View(View), &[v])
            }
            "GlobalMaxPooling1D" | "GlobalMaxPooling2D" | "GlobalMaxPooling3D" => {
                // `nn.AdaptiveMaxPool{1,2,3}d(1)`: a max pool whose window is the whole input
                let (sizes, channels) = s.spatial(in_shape)?;
                let dims = sizes.iter().map(|&d| ConvDim::new(d, d, d, 0)).collect();
                let pool = Pool {
                    kind: PoolKind::Max,
                    batch: b,
                    channels,
                    dims,
                };
                let v = g.push(Op::Pool(pool), inputs);
                g.push(Op::View(View), &[v])
            }
            "Flatten" | "Reshape" | "Permute" => g.push(Op::View(View), inputs),
            // Elementwise arithmetic on the input: a new tensor, nothing to train.
            "Rescaling" | "Normalization" => g.push(Op::Mul(Mul), inputs),
            "ZeroPadding1D" | "ZeroPadding2D" | "ZeroPadding3D" | "UpSampling1D"
            | "UpSampling2D" | "UpSampling3D" | "Resizing" | "RepeatVector" | "Concatenate" => g
                .push(
                    Op::Copy(Copy {
                        numel: Some(s.numel(s.out)?),
                    }),
                    inputs,
                ),
            "Cropping1D" | "Cropping2D" | "Cropping3D" => g.push(
                Op::SelectLast(SelectLast {
                    out_numel: s.numel(s.out)?,
                }),
                inputs,
            ),
            "Embedding" => g.push(
                Op::Embedding(Embedding {
                    tokens: s.numel(in_shape)?,
                    vocab: s.cfg.get("input_dim").and_then(Value::as_u64).unwrap_or(0),
                    dim: s.last(s.out)?,
                    tied: false,
                }),
                inputs,
            ),
            "LSTM" | "GRU" | "SimpleRNN" => self.lower_rnn(g, s, false, inputs)?,
            "ConvLSTM1D" | "ConvLSTM2D" | "ConvLSTM3D" => conv_rnn::conv_lstm(g, s, inputs)?,
            "Dot" => dot(g, s, inputs)?,
            "Bidirectional" => self.bidirectional(g, s, inputs)?,
            "TimeDistributed" => {
                // The time axis folds into the batch: (B, T, …) → (B·T, …).
                let (class, cfg) = wrapped(s)?;
                let steps = s.dim(in_shape.get(1).copied().flatten())?;
                let fold = |sh: &Shape| -> Shape {
                    sh.first()
                        .into_iter()
                        .chain(sh.iter().skip(2))
                        .copied()
                        .collect()
                };
                let ins: Vec<Shape> = s.ins.iter().map(fold).collect();
                let out = fold(s.out);
                let inner = Site {
                    class,
                    cfg,
                    ins: &ins,
                    out: &out,
                    batch: mul(b, steps)?,
                    here: s.here,
                    key: None,
                };
                self.lower_layer(g, &inner, inputs)?
            }
            "MultiHeadAttention" => attention::multi_head_attention(g, s, inputs)?,
            "Attention" => attention::dot_attention(g, s, inputs)?,
            "Add" | "Subtract" => g.push(Op::Add(Add), inputs),
            "Multiply" | "Maximum" | "Minimum" => g.push(Op::Mul(Mul), inputs),
            "Average" => average(g, inputs),
            // keras.applications' ConvNeXt LayerScale: `x * gamma`, gamma per channel.
            "LayerScale" => g.push(
                Op::Scale(Scale {
                    numel: s.u64_of("projection_dim")?,
                }),
                inputs,
            ),
            // KerasHub HGNetV2's `scale * x + bias`, two learned scalars.
            "HGNetV2LearnableAffineBlock" => {
                let scaled = g.push(Op::Scale(Scale { numel: 1 }), inputs);
                g.push(Op::BiasAdd(BiasAdd { numel: 1 }), &[scaled])
            }
            // keras.applications' InceptionResNetV2 `inputs[0] + inputs[1] * scale`: the
            // scaled copy (saves nothing), then the sum.
            "CustomScaleLayer" => {
                let [x, r] = inputs else {
                    return Err(s.unsupported("with other than two inputs"));
                };
                let scaled = g.push(Op::Add(Add), &[*r]);
                g.push(Op::Add(Add), &[*x, scaled])
            }
            c if IDENTITY.contains(&c) => inputs[0],
            other => {
                return Err(Error::invalid(
                    s.here,
                    format!("memory: layer class {other} has no PyTorch lowering yet"),
                ))
            }
        })
    }
}

/// (a + b + …) / n: the sum, then its scaled copy.
pub(super) fn average(g: &mut Graph, inputs: &[ValueId]) -> ValueId {
    let sum = g.push(Op::Add(Add), inputs);
    g.push(Op::Add(Add), &[sum])
}

/// Dot (Keras's `batch_dot`): per sample, x's `axes[0]` contracted with y's `axes[1]`,
/// the other axes of each kept: a batched `torch.matmul` (transposes are views);
/// `normalize` L2-normalizes both first.
fn dot(g: &mut Graph, s: &Site, inputs: &[ValueId]) -> Result<ValueId> {
    let (x, y) = (s.input(0)?, s.input(1)?);
    let bad = || Error::invalid(s.here, "'axes' must be an integer or a list of two");
    let (ax, ay) = match s.cfg.get("axes") {
        Some(Value::Array(a)) if a.len() == 2 => (
            a[0].as_i64().ok_or_else(bad)?,
            a[1].as_i64().ok_or_else(bad)?,
        ),
        Some(v) => {
            let a = v.as_i64().ok_or_else(bad)?;
            (a, a)
        }
        None => return Err(bad()),
    };
    let axis = |a: i64, shape: &Shape| -> Result<usize> {
        let rank = shape.len() as i64;
        let i = if a < 0 { a + rank } else { a };
        if i < 1 || i >= rank {
            return Err(Error::shape(s.here, format!("axis {a} out of range")));
        }
        Ok(i as usize)
    };
    let (ax, ay) = (axis(ax, x)?, axis(ay, y)?);
    let k = s.dim(x[ax])?;
    let free = |shape: &Shape, contracted: usize| -> Result<u64> {
        shape
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(i, _)| *i != contracted)
            .try_fold(1, |acc, (_, &d)| mul(acc, s.dim(d)?))
    };
    let (m, n) = (free(x, ax)?, free(y, ay)?);
    let (mut a, mut b) = (inputs[0], inputs[1]);
    if s.bool_of("normalize", false) {
        let rows = |shape: &Shape, d: Option<u64>| -> Result<u64> {
            Ok(s.numel(shape)? / s.dim(d)?.max(1))
        };
        a = g.push(
            Op::Normalize(Normalize {
                rows: rows(x, x[ax])?,
            }),
            &[a],
        );
        b = g.push(
            Op::Normalize(Normalize {
                rows: rows(y, y[ay])?,
            }),
            &[b],
        );
    }
    Ok(g.push(
        Op::Matmul(Matmul {
            batch: s.batch,
            m,
            k,
            n,
        }),
        &[a, b],
    ))
}
