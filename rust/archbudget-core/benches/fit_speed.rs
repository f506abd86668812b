//! Time of one `fit` of a transformers config (the llama-3-8b example on an H200, each
//! `--vary`; goal: under 50 ms), beside its baseline: one `memory` call at the answer,
//! so that the last column is the search's cost in memory calls.
//! `cargo bench -p archbudget-core --bench fit_speed`
use archbudget_core::formats::{self, Prepared};
use archbudget_core::gpu::fit::{fit, Vary};
use archbudget_core::gpu::{self, DEFAULT_HEADROOM};
use archbudget_core::memory::{Mode, Precision, RunSettings};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/llama-3-8b.json"
    );
    let bytes = std::fs::read(path).unwrap();
    let budget = gpu::budget_bytes(gpu::lookup("h200").unwrap(), DEFAULT_HEADROOM).unwrap();
    let train = RunSettings {
        mode: Mode::Train,
        precision: Precision::Bf16,
        grad_ckpt: true,
        batch: 1,
        ..RunSettings::default()
    };
    let generate = RunSettings {
        mode: Mode::Generate,
        precision: Precision::Bf16,
        new_tokens: 512,
        ..RunSettings::default()
    };
    let cases = [
        ("batch (train)", train, Some(4096), Vary::Batch),
        ("seq (train)", train, None, Vary::Seq),
        ("batch (generate)", generate, Some(1024), Vary::Batch),
        ("new-tokens", generate, Some(1024), Vary::NewTokens),
        (
            "gpus (ZeRO-3)",
            RunSettings {
                zero_stage: 3,
                batch: 16,
                ..train
            },
            Some(4096),
            Vary::Gpus,
        ),
    ];
    println!("goal: a fit under 50 ms");
    println!(
        "{:<18} {:>10} {:>10} {:>16} {:>14}",
        "fit --vary", "value", "fit ms", "one memory ms", "fit/memory"
    );
    for (name, run, seq, vary) in cases {
        let mut value = 0;
        let fit_ms = median_ms(|| {
            let model = Prepared::read(&bytes, "llama", None).unwrap();
            value = black_box(fit(&model, &run, seq, vary, budget, "llama").unwrap()).value;
        });
        // Baseline: one `memory` call at the answer, as the CLI makes it (reading the
        // config); the search costs about this many of them.
        let (mut r, mut s) = (run, seq);
        match vary {
            Vary::Batch => r.batch = value,
            Vary::Seq => s = Some(value),
            Vary::NewTokens => r.new_tokens = value,
            Vary::Gpus => r.gpus = value,
        }
        let memory_ms = median_ms(|| {
            black_box(formats::memory(&bytes, "llama", None, &r, s).unwrap());
        });
        println!(
            "{name:<18} {value:>10} {fit_ms:>10.2} {memory_ms:>16.3} {:>14.1}",
            fit_ms / memory_ms
        );
    }
}

/// Median wall time of `f` over 0.5 s of runs (at least 5), in ms.
fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut times = Vec::new();
    let start = Instant::now();
    while start.elapsed().as_millis() < 500 || times.len() < 5 {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
