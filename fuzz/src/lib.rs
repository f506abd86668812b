//! The bodies of the fuzz targets, kept free of libFuzzer so that
//! `rust/archbudget-core/tests/errors.rs` replays the seed corpus and `regressions/`
//! through the very same code under plain `cargo test`.
//!
//! Contract checked: any input gives `Ok` or a core `Error` (never `Error::Internal`):
//! never a panic, never a hang.
use archbudget_core::formats::{self, hf::Head};
use archbudget_core::gpu::fit::{fit, Vary};
use archbudget_core::memory::{Mode, Precision, RunSettings};
use archbudget_core::space::{self, Space, SweepOptions};
use archbudget_core::{Error, Result};

/// Candidates one fuzz input may sweep: enough to reach every family's metrics, few
/// enough that libFuzzer's per-input time stays in milliseconds.
pub const SWEEP_CAP: u64 = 300;

/// A small Keras model for the keras family's `template`, whatever path a space names.
const TEMPLATE: &[u8] = include_bytes!("../../examples/mlp_keras.json");

fn check<T>(result: Result<T>) {
    if let Err(e) = result {
        assert!(!matches!(e, Error::Internal(_)), "internal error: {e}");
        let message = e.to_string();
        assert!(!message.is_empty());
    }
}

/// Model bytes (Keras JSON, `.keras` archive, config.json): summary under each head,
/// memory of a training and an inference step, and the largest batch under 64 MiB.
pub fn model(data: &[u8]) {
    for head in [None, Some(Head::Base), Some(Head::CausalLm)] {
        check(formats::summary(data, "fuzz.json", head));
    }
    let train = RunSettings {
        batch: 2,
        ..RunSettings::default()
    };
    check(formats::memory(data, "fuzz.json", None, &train, Some(16)));
    let infer = RunSettings {
        mode: Mode::Infer,
        batch: 3,
        precision: Precision::AmpBf16,
        ..RunSettings::default()
    };
    check(formats::memory(data, "fuzz.json", None, &infer, None));
    // fit searches the same memory model; a small budget keeps the probes few
    if let Ok(prepared) = formats::Prepared::read(data, "fuzz.json", None) {
        check(fit(
            &prepared,
            &train,
            Some(16),
            Vary::Batch,
            64 << 20,
            "fuzz.json",
        ));
    }
}

/// Space TOML: parse, count, and sweep at most `SWEEP_CAP` candidates plainly and ranked.
pub fn space(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loader = |_: &str| Ok(TEMPLATE.to_vec());
    let parsed = Space::from_toml(text, "fuzz.toml", &loader);
    check(parsed.as_ref().map(|_| ()).map_err(Clone::clone));
    let Ok(space) = parsed else { return };
    let range = Some((0, space.size.min(SWEEP_CAP)));
    check(space::count(&space, range));
    check(space::sweep(
        &space,
        &SweepOptions {
            range,
            ..SweepOptions::default()
        },
    ));
    let ranked = SweepOptions {
        max_params: Some(1 << 40),
        sort: Some("params".into()),
        descending: true,
        top: Some(3),
        range,
        ..SweepOptions::default()
    };
    check(space::sweep(&space, &ranked));
    check(space::sweep(
        &space,
        &SweepOptions {
            pareto: true,
            max_memory: Some(1 << 50),
            range,
            ..SweepOptions::default()
        },
    ));
}
