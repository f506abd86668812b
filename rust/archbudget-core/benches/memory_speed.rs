//! ns per candidate of the sweep's memory estimate for the mlp, cnn and lstm families
//! (what `space::family` calls per candidate), over a grid of shapes and run settings.
//! `cargo bench -p archbudget-core --bench memory_speed`
use archbudget_core::memory::families::{Cnn, LstmNet, Mlp};
use archbudget_core::memory::{Mode, Optimizer, Precision, RunSettings};
use std::hint::black_box;
use std::time::Instant;

fn runs() -> Vec<RunSettings> {
    let mut v = Vec::new();
    for mode in [Mode::Train, Mode::Infer] {
        for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
            for optimizer in [Optimizer::Sgd, Optimizer::AdamW] {
                for batch in [32, 256, 4096] {
                    v.push(RunSettings {
                        mode,
                        precision,
                        optimizer,
                        batch,
                        ..RunSettings::default()
                    });
                }
            }
        }
    }
    v
}

/// `per`: estimates made by one call of `f`.
fn time<F: FnMut(&RunSettings) -> u64>(name: &str, per: u64, mut f: F) {
    let runs = runs();
    let (mut n, mut acc) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed().as_millis() < 1000 {
        for r in &runs {
            acc = acc.wrapping_add(f(black_box(r)));
            n += per;
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    println!("{name:<6} {ns:9.1} ns/candidate  ({n} candidates, checksum {acc})");
}

fn main() {
    time("mlp", 4, |r| {
        let mut s = 0;
        for depth in [2, 8] {
            for width in [512, 4096] {
                s += Mlp {
                    input_dim: 784,
                    depth,
                    width,
                    classes: 10,
                }
                .estimate(r)
                .unwrap()
                .peak_bytes;
            }
        }
        s
    });
    time("cnn", 1, |r| {
        Cnn {
            image: 64,
            channels: 3,
            stages: 3,
            convs: 2,
            filters: 32,
            batchnorm: true,
            classes: 100,
        }
        .estimate(r)
        .unwrap()
        .peak_bytes
    });
    time("lstm", 1, |r| {
        LstmNet {
            vocab: 20000,
            embed: 256,
            hidden: 512,
            layers: 2,
            seq: 128,
            classes: 5,
        }
        .estimate(r)
        .unwrap()
        .peak_bytes
    });
}
