//! `Budget`: limits and run settings held once in the core; `check` evaluates one
//! candidate (given as bytes: JSON text or a `.keras` archive) without the GIL.
use std::path::PathBuf;

use archbudget_core::formats::keras;
use archbudget_core::space::candidate;
use archbudget_core::space::SweepOptions;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use serde_json::{Map, Value};

use crate::guarded;
use crate::sweep::load_template;

#[pyclass(module = "archbudget._core", frozen)]
pub struct Budget {
    run: Map<String, Value>,
    limits: SweepOptions,
    /// Where a template path is read from (the caller's working directory).
    base_dir: Option<PathBuf>,
}

#[pymethods]
impl Budget {
    /// `run_json`: the run settings as a JSON object (the keys of a space's `[run]`).
    #[new]
    #[pyo3(signature = (run_json, *, max_params=None, min_params=None, max_memory=None, max_flops=None, base_dir=None))]
    fn new(
        py: Python<'_>,
        run_json: String,
        max_params: Option<u64>,
        min_params: Option<u64>,
        max_memory: Option<u64>,
        max_flops: Option<u64>,
        base_dir: Option<PathBuf>,
    ) -> PyResult<Self> {
        let run = guarded(py, || {
            let value = keras::parse_json(run_json.as_bytes(), "Budget")?;
            candidate::run_table(&value, "Budget")
        })?;
        Ok(Budget {
            run,
            limits: SweepOptions {
                max_params,
                min_params,
                max_memory,
                max_flops,
                ..SweepOptions::default()
            },
            base_dir,
        })
    }

    /// (fits, params, trainable_params, peak_bytes, flops_fwd, flops_fwd_bwd) of one
    /// candidate; `location` names it in error messages.
    fn check(
        &self,
        py: Python<'_>,
        data: PyBackedBytes,
        location: String,
    ) -> PyResult<(bool, u64, u64, u64, u64, u64)> {
        let (fits, m) = guarded(py, || {
            let value = keras::parse_bytes(&data, &location)?;
            let loader = |path: &str| load_template(&self.base_dir, path);
            candidate::check(value, &self.run, &self.limits, &location, &loader)
        })?;
        Ok((
            fits,
            m.params,
            m.trainable_params,
            m.peak_bytes,
            m.flops_fwd,
            m.flops_fwd_bwd,
        ))
    }
}
