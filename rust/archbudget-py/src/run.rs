//! The run settings of `memory` and `fit`, as the Python API passes them: one dict
//! whose keys are the keyword arguments of `archbudget.memory` (SPEC.md), read here
//! once for both.
use archbudget_core::memory::lora::Lora;
use archbudget_core::memory::quant::Quant;
use archbudget_core::memory::{AttnImpl, Mode, Optimizer, Precision, RunSettings};
use archbudget_core::{Error, Result};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Run settings as the CLI and the API name them (strings checked by the core).
pub(crate) struct RunArgs {
    mode: String,
    batch: u64,
    precision: String,
    optimizer: String,
    attn: String,
    grad_ckpt: bool,
    new_tokens: u64,
    gpus: u64,
    zero_stage: u8,
    lora_rank: Option<u64>,
    lora_targets: Option<String>,
    lora_dropout: f64,
    quantize: Option<String>,
}

impl RunArgs {
    /// From the API's dict; a key the API does not know is a `TypeError`, as an
    /// unexpected keyword argument is.
    pub(crate) fn from_dict(run: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut args = RunArgs {
            mode: "train".into(),
            batch: 1,
            precision: "fp32".into(),
            optimizer: "adamw".into(),
            attn: "sdpa".into(),
            grad_ckpt: false,
            new_tokens: 0,
            gpus: 1,
            zero_stage: 0,
            lora_rank: None,
            lora_targets: None,
            lora_dropout: 0.0,
            quantize: None,
        };
        for (key, value) in run.iter() {
            let key: String = key.extract()?;
            match key.as_str() {
                "mode" => args.mode = value.extract()?,
                "batch" => args.batch = value.extract()?,
                "precision" => args.precision = value.extract()?,
                "optimizer" => args.optimizer = value.extract()?,
                "attn" => args.attn = value.extract()?,
                "grad_ckpt" => args.grad_ckpt = value.extract()?,
                "new_tokens" => args.new_tokens = value.extract()?,
                "gpus" => args.gpus = value.extract()?,
                "zero_stage" => args.zero_stage = value.extract()?,
                "lora_rank" => args.lora_rank = value.extract()?,
                "lora_targets" => args.lora_targets = value.extract()?,
                "lora_dropout" => args.lora_dropout = value.extract()?,
                "quantize" => args.quantize = value.extract()?,
                other => {
                    return Err(PyTypeError::new_err(format!(
                        "unexpected keyword argument '{other}'"
                    )))
                }
            }
        }
        Ok(args)
    }

    pub(crate) fn settings(&self) -> Result<RunSettings> {
        if self.batch == 0 {
            return Err(Error::invalid("--batch", "must be a positive integer"));
        }
        Ok(RunSettings {
            mode: Mode::parse(&self.mode)?,
            batch: self.batch,
            precision: Precision::parse(&self.precision)?,
            optimizer: Optimizer::parse(&self.optimizer)?,
            attn: AttnImpl::parse(&self.attn)?,
            grad_ckpt: self.grad_ckpt,
            new_tokens: self.new_tokens,
            gpus: self.gpus,
            zero_stage: self.zero_stage,
            lora: match self.lora_rank {
                Some(rank) => Some(Lora::new(
                    rank,
                    self.lora_targets.as_deref(),
                    self.lora_dropout,
                )?),
                None if self.lora_targets.is_some() || self.lora_dropout != 0.0 => {
                    return Err(Error::invalid(
                        "--lora-targets/--lora-dropout",
                        "need --lora-rank",
                    ))
                }
                None => None,
            },
            quantize: self.quantize.as_deref().map(Quant::parse).transpose()?,
            ..RunSettings::default()
        })
    }
}
