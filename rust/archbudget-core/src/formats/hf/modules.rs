//! The rows of a transformers summary: one per module, each declaring its weights.
//! Counts, totals and `--explain` text all derive from those declarations.
use crate::arch::{NormKind, QkNorm, QkNormKind, TransformerArch};
use crate::error::{mul, Result};
use crate::summary::{LayerRow, ModelFormat, Summary};
use crate::weight::{dim, explain, totals, Dim, Weight};

pub struct Modules<'a> {
    location: &'a str,
    rows: Vec<LayerRow>,
    /// Every distinct parameter once, as `model.parameters()` yields them.
    weights: Vec<Weight>,
    /// Totals only (the sweep): no rows, no explanations.
    count_only: bool,
    /// (params, trainable, non-trainable) so far, kept when counting only.
    counted: (u64, u64, u64),
    /// Routed-expert parameters a token does not use (total − active).
    idle: u64,
    /// Prepended to every row's path (a wrapped text model's `model.language_model.`).
    prefix: String,
}

impl<'a> Modules<'a> {
    pub fn new(location: &'a str) -> Self {
        Modules {
            location,
            rows: Vec::new(),
            weights: Vec::new(),
            count_only: false,
            counted: (0, 0, 0),
            idle: 0,
            prefix: String::new(),
        }
    }

    /// The same declarations, summed without building rows.
    pub fn counting(location: &'a str) -> Self {
        Modules {
            count_only: true,
            ..Modules::new(location)
        }
    }

    pub fn location(&self) -> &'a str {
        self.location
    }

    /// Totals only (no rows): the sweep's counting.
    pub fn counting_only(&self) -> bool {
        self.count_only
    }

    /// Rows added from now on are named `prefix` + their path.
    pub fn set_prefix(&mut self, prefix: String) {
        self.prefix = prefix;
    }

    /// Adds routed-expert parameters a token does not use (total − active).
    pub fn add_idle(&mut self, idle: u64) -> Result<()> {
        self.idle = crate::error::add(self.idle, idle, self.location, "parameter count")?;
        Ok(())
    }

    /// Counting only: `weights` declared `times` times (identical blocks).
    pub fn count_repeated(&mut self, weights: &[Weight], times: u64) -> Result<()> {
        let (p, t, n) = totals(weights, self.location)?;
        let loc = self.location;
        let scaled = |x: u64| crate::error::mul(x, times, loc, "parameter count");
        let add = |a: u64, b: u64| crate::error::add(a, b, loc, "parameter count");
        self.counted = (
            add(self.counted.0, scaled(p)?)?,
            add(self.counted.1, scaled(t)?)?,
            add(self.counted.2, scaled(n)?)?,
        );
        Ok(())
    }

    /// A module owning `weights`.
    pub fn add(&mut self, name: String, class_name: &str, weights: Vec<Weight>) -> Result<()> {
        if self.count_only {
            return self.count(&weights);
        }
        let text = explain(class_name, &weights, self.location)?;
        self.push(name, class_name, weights, text)
    }

    /// A module whose main weight is the same tensor as `tied_to` (PyTorch dedups shared
    /// parameters); `own` are the parameters it adds of its own.
    pub fn add_tied(
        &mut self,
        name: String,
        class_name: &str,
        own: Vec<Weight>,
        tied_to: &str,
    ) -> Result<()> {
        if self.count_only {
            return self.count(&own);
        }
        let text = format!(
            "{} (weight tied to {tied_to}, counted there)",
            explain(class_name, &own, self.location)?
        );
        self.push(name, class_name, own, text)
    }

    fn push(
        &mut self,
        name: String,
        class_name: &str,
        weights: Vec<Weight>,
        explain: String,
    ) -> Result<()> {
        let (params, trainable, non_trainable) = totals(&weights, self.location)?;
        self.rows.push(LayerRow {
            name: format!("{}{name}", self.prefix),
            class_name: class_name.to_string(),
            output_shape: None,
            params,
            trainable,
            non_trainable,
            explain,
            connected_to: Vec::new(),
        });
        self.weights.extend(weights);
        Ok(())
    }

    /// `layers` identical blocks, block `i` at path `prefix(i)`, each holding `rows`
    /// (path suffix, class, weights). Counting only, the block is summed once and
    /// multiplied: no path is formatted and no weight cloned.
    pub fn add_blocks(
        &mut self,
        layers: u64,
        prefix: impl Fn(u64) -> String,
        rows: &[(String, &str, Vec<Weight>)],
    ) -> Result<()> {
        if self.count_only {
            let block: Vec<Weight> = rows.iter().flat_map(|r| r.2.iter().cloned()).collect();
            return self.count_repeated(&block, layers);
        }
        for i in 0..layers {
            let prefix = prefix(i);
            for (suffix, class, weights) in rows {
                self.add(format!("{prefix}{suffix}"), class, weights.clone())?;
            }
        }
        Ok(())
    }

    fn count(&mut self, weights: &[Weight]) -> Result<()> {
        let (p, t, n) = totals(weights, self.location)?;
        let add = |a: u64, b: u64| crate::error::add(a, b, self.location, "parameter count");
        self.counted = (
            add(self.counted.0, p)?,
            add(self.counted.1, t)?,
            add(self.counted.2, n)?,
        );
        Ok(())
    }

    pub fn finish(self, name: &str) -> Result<Summary> {
        let (total, trainable, non_trainable) = if self.count_only {
            self.counted
        } else {
            totals(&self.weights, self.location)?
        };
        Ok(Summary {
            name: name.to_string(),
            format: ModelFormat::Hf,
            total_params: total,
            trainable_params: trainable,
            non_trainable_params: non_trainable,
            active_params: total - self.idle,
            layers: self.rows,
            functional: false,
            notes: Vec::new(),
        })
    }
}

/// `nn.Linear(d_in, d_out, bias)`: weight `[d_out, d_in]`, bias `[d_out]`.
pub fn linear(w: &mut Vec<Weight>, name: &str, d_in: Dim, d_out: Dim, bias: bool) {
    let bias_dim = dim(d_out.size, d_out.label);
    w.push(Weight::new(format!("{name}weight"), vec![d_out, d_in]));
    if bias {
        w.push(Weight::new(format!("{name}bias"), vec![bias_dim]));
    }
}

/// The two-matrix MLP of GPT-NeoX and Falcon as one row: `dense_h_to_4h` (hidden →
/// inter) and `dense_4h_to_h` (inter → hidden).
pub fn h_to_4h_mlp(
    m: &mut Modules,
    row: String,
    class_name: &str,
    hidden: Dim,
    inter: Dim,
    bias: bool,
) -> Result<()> {
    let mut w = Vec::new();
    linear(
        &mut w,
        "dense_h_to_4h.",
        hidden.clone(),
        inter.clone(),
        bias,
    );
    linear(&mut w, "dense_4h_to_h.", inter, hidden, bias);
    m.add(row, class_name, w)
}

/// `nn.Embedding(rows, width)`.
pub fn embedding(w: &mut Vec<Weight>, name: &str, rows: Dim, width: Dim) {
    w.push(Weight::new(format!("{name}weight"), vec![rows, width]));
}

/// A norm layer over `width` features.
pub fn norm(w: &mut Vec<Weight>, name: &str, width: u64, kind: NormKind) {
    match kind {
        NormKind::LayerNorm { bias } => {
            w.push(Weight::new(
                format!("{name}weight"),
                vec![dim(width, "hidden")],
            ));
            if bias {
                w.push(Weight::new(
                    format!("{name}bias"),
                    vec![dim(width, "hidden")],
                ));
            }
        }
        NormKind::RmsNorm => w.push(Weight::new(
            format!("{name}weight"),
            vec![dim(width, "hidden")],
        )),
        NormKind::LayerNormNoAffine => {}
    }
}

/// The attention module's `q_norm` and `k_norm` weights (llama4's L2 norm has none).
pub fn qk_norm_weights(w: &mut Vec<Weight>, qk_norm: Option<QkNorm>) {
    if let Some(QkNorm {
        kind: QkNormKind::Learned(kind),
        q_width,
        k_width,
        ..
    }) = qk_norm
    {
        norm(w, "q_norm.", q_width, kind);
        norm(w, "k_norm.", k_width, kind);
    }
}

/// One norm module as a row.
pub fn norm_row(
    m: &mut Modules,
    name: String,
    class_name: &str,
    width: u64,
    kind: NormKind,
) -> Result<()> {
    let mut w = Vec::new();
    norm(&mut w, "", width, kind);
    m.add(name, class_name, w)
}

/// `heads × head_dim`, checked.
pub fn heads_dim(heads: u64, head_dim: u64, label: &'static str, location: &str) -> Result<Dim> {
    Ok(dim(
        mul(heads, head_dim, location, "attention width")?,
        label,
    ))
}

/// `factor × size` as one labelled dimension (fused projections), checked.
pub fn times(factor: u64, size: u64, label: &'static str, location: &str) -> Result<Dim> {
    Ok(dim(mul(factor, size, location, label)?, label))
}

/// `nn.Linear(embed_dim, vocab_size, bias=False)`: the LM head of the decoders, sharing
/// the token embedding (`embed_path`) when `tie_word_embeddings`.
pub fn lm_head(
    m: &mut Modules,
    name: &str,
    arch: &TransformerArch,
    embed_path: &str,
) -> Result<()> {
    // a tied head keeps its own bias (phi, gptj, phimoe `lm_head_bias`)
    let mut own = Vec::new();
    if arch.details.lm_head_bias {
        own.push(Weight::new("bias", vec![dim(arch.vocab_size, "vocab")]));
    }
    if arch.tie_word_embeddings {
        return m.add_tied(name.to_string(), "Linear", own, embed_path);
    }
    let mut w = Vec::new();
    linear(
        &mut w,
        "",
        dim(arch.embed_dim, "hidden"),
        dim(arch.vocab_size, "vocab"),
        false,
    );
    w.extend(own);
    m.add(name.to_string(), "Linear", w)
}

/// `nn.Embedding(rows, width)` as a row.
pub fn embedding_row(
    m: &mut Modules,
    name: String,
    class_name: &str,
    rows: Dim,
    width: u64,
) -> Result<()> {
    let mut w = Vec::new();
    embedding(&mut w, "", rows, dim(width, "hidden"));
    m.add(name, class_name, w)
}
