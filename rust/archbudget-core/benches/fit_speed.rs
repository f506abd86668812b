//! Time of one `fit` of a transformers config (the llama-3-8b example at seq 4096 on an
//! H200, each `--vary`), beside its baseline: the same number of `memory` calls that
//! each read the config again, as a loop over the CLI's `memory` would.
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
        "{:<18} {:>10} {:>8} {:>14} {:>14}",
        "fit --vary", "value", "probes", "fit ms", "baseline ms"
    );
    for (name, run, seq, vary) in cases {
        let (mut n, mut value) = (0u32, 0);
        let start = Instant::now();
        while start.elapsed().as_millis() < 1000 || n < 3 {
            let model = Prepared::read(&bytes, "llama", None).unwrap();
            value = black_box(fit(&model, &run, seq, vary, budget, "llama").unwrap()).value;
            n += 1;
        }
        let fit_ms = start.elapsed().as_secs_f64() * 1e3 / n as f64;
        // Baseline: the probes a doubling-then-bisecting search makes, each as a separate
        // `memory` call that parses the config again.
        let probes = 2 * (64 - value.leading_zeros()) + 1;
        let start = Instant::now();
        for _ in 0..probes {
            let (mut r, mut s) = (run, seq);
            match vary {
                Vary::Batch => r.batch = value,
                Vary::Seq => s = Some(value),
                Vary::NewTokens => r.new_tokens = value,
                Vary::Gpus => r.gpus = value,
            }
            black_box(formats::memory(&bytes, "llama", None, &r, s).unwrap());
        }
        let base_ms = start.elapsed().as_secs_f64() * 1e3;
        println!("{name:<18} {value:>10} {probes:>8} {fit_ms:>14.2} {base_ms:>14.2}");
    }
}
