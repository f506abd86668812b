//! Declared weights. A layer rule declares each weight it creates (name, labelled
//! dimensions, trainable); counts, bytes and `--explain` formulas are all derived from
//! these declarations, as Keras's `count_params` derives them from `layer.weights`.
use crate::error::{mul, Result};
use std::fmt::Write;

/// One dimension of a weight, labelled for the explanation (`9 inputs`, `64 units`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dim {
    pub size: u64,
    pub label: &'static str,
}

pub fn dim(size: u64, label: &'static str) -> Dim {
    Dim { size, label }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weight {
    pub name: String,
    pub dims: Vec<Dim>,
    pub trainable: bool,
}

impl Weight {
    pub fn new(name: impl Into<String>, dims: Vec<Dim>) -> Self {
        Weight {
            name: name.into(),
            dims,
            trainable: true,
        }
    }

    pub fn frozen(mut self) -> Self {
        self.trainable = false;
        self
    }

    pub fn numel(&self, location: &str) -> Result<u64> {
        self.dims
            .iter()
            .try_fold(1u64, |acc, d| mul(acc, d.size, location, "parameter count"))
    }

    /// `3 kh × 3 kw × 16 in_channels × 32 filters`, `1 unit`, appended to `out` (a
    /// summary writes one per weight of every row, into the row's one string).
    fn write_formula(&self, out: &mut String) {
        for (i, d) in self.dims.iter().enumerate() {
            if i > 0 {
                out.push_str(" × ");
            }
            let _ = write!(out, "{} {}", d.size, d.counted_label());
        }
    }
}

impl Dim {
    /// The label in the singular for a size of 1 (`1 unit`, `1 bias`), where it is a
    /// plain plural word.
    fn counted_label(&self) -> &str {
        let word = self
            .label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b' ');
        if self.size != 1 || !word || !self.label.ends_with('s') || self.label.ends_with("ss") {
            return self.label;
        }
        let cut = if self.label.ends_with("ses") { 2 } else { 1 };
        &self.label[..self.label.len() - cut]
    }
}

/// Totals of a list of weights: (all, trainable, non-trainable).
pub fn totals<'w>(
    weights: impl IntoIterator<Item = &'w Weight>,
    location: &str,
) -> Result<(u64, u64, u64)> {
    let (mut trainable, mut frozen) = (0u64, 0u64);
    for w in weights {
        let n = w.numel(location)?;
        let slot = if w.trainable {
            &mut trainable
        } else {
            &mut frozen
        };
        *slot = slot
            .checked_add(n)
            .ok_or_else(|| crate::Error::overflow(location, "parameter count"))?;
    }
    let all = trainable
        .checked_add(frozen)
        .ok_or_else(|| crate::Error::overflow(location, "parameter count"))?;
    Ok((all, trainable, frozen))
}

/// `Dense: 9 inputs × 64 units + 64 biases = 640`
pub fn explain(class_name: &str, weights: &[Weight], location: &str) -> Result<String> {
    let (all, _, _) = totals(weights, location)?;
    if weights.is_empty() {
        return Ok(format!("{class_name}: no weights = 0"));
    }
    let mut out = format!("{class_name}: ");
    for (i, w) in weights.iter().enumerate() {
        if i > 0 {
            out.push_str(" + ");
        }
        // Sub-layer weights (`query/kernel`, `q_proj.weight`) are named; a plain kernel
        // or bias is clear from its labels alone.
        let named = w.name.contains(['/', '.']);
        if named {
            out.push_str(&w.name);
            out.push_str(" (");
        }
        w.write_formula(&mut out);
        if named {
            out.push(')');
        }
        if !w.trainable {
            out.push_str(" (non-trainable)");
        }
    }
    let _ = write!(out, " = {all}");
    Ok(out)
}
