//! The result of `summary`: per-layer (Keras) or per-module (transformers) rows and
//! totals, as SPEC.md fixes them.
use crate::shape::Shape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    Keras,
    Hf,
}

impl ModelFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelFormat::Keras => "keras",
            ModelFormat::Hf => "hf",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputShape {
    Single(Shape),
    Multi(Vec<Shape>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRow {
    pub name: String,
    pub class_name: String,
    pub output_shape: Option<OutputShape>,
    pub params: u64,
    pub trainable: u64,
    pub non_trainable: u64,
    /// The count as a formula, e.g. `Dense: 9 inputs × 64 units + 64 biases = 640`.
    pub explain: String,
    /// Keras's "Connected to" column: `dense[0][0]` per input tensor (functional models).
    pub connected_to: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub name: String,
    pub format: ModelFormat,
    pub total_params: u64,
    pub trainable_params: u64,
    pub non_trainable_params: u64,
    /// Parameters one token uses: all but the routed experts it is not sent to
    /// (mixture-of-experts models); `total_params` otherwise.
    pub active_params: u64,
    pub layers: Vec<LayerRow>,
    /// Whether Keras prints the "Connected to" column (functional models).
    pub functional: bool,
    /// What the reader could not know, shown under the totals (a KerasHub model counted
    /// from its archive's weights alone); empty for a model read whole.
    pub notes: Vec<String>,
}
