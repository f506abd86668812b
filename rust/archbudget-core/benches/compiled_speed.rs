//! The compiled memory model beside the simulator, in one run: µs per estimate of the
//! same graph (built once) for transformers of 32 and 80 layers and a 64-layer mlp,
//! training and inference, and the share of a transformers candidate each step of its
//! evaluation takes (config → counts and architecture → graph → memory).
//! `cargo bench -p archbudget-core --bench compiled_speed`
use archbudget_core::formats::hf;
use archbudget_core::memory::families::Mlp;
use archbudget_core::memory::{self, compiled, Graph, Mode, Precision, RunSettings};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Best of 7 batches of the mean time per call.
fn best<F: FnMut()>(mut f: F) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..7 {
        let start = Instant::now();
        for _ in 0..20 {
            f();
        }
        best = best.min(start.elapsed() / 20);
    }
    best
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn side_by_side(name: &str, g: &Graph, run: &RunSettings) {
    assert_eq!(
        memory::estimate(g, run).unwrap(),
        compiled::estimate(g, run).unwrap()
    );
    let sim = best(|| {
        black_box(memory::estimate(g, run).unwrap());
    });
    let comp = best(|| {
        black_box(compiled::estimate(g, run).unwrap());
    });
    let folded = compiled::fold::find_repeat(g).map_or(0, |r| r.copies);
    println!(
        "{name:<34} {:>5} nodes {:>3} blocks  simulator {:>8.1} µs  compiled {:>8.1} µs  {:>5.2}x",
        g.nodes.len(),
        folded,
        us(sim),
        us(comp),
        sim.as_secs_f64() / comp.as_secs_f64()
    );
}

fn llama(layers: u64, hidden: u64) -> Value {
    json!({"model_type": "llama", "hidden_size": hidden, "intermediate_size": hidden * 7 / 2,
           "num_hidden_layers": layers, "num_attention_heads": hidden / 128,
           "num_key_value_heads": 8, "vocab_size": 128256})
}

fn main() {
    let runs = [
        (
            "train bf16",
            RunSettings {
                batch: 4,
                seq: 2048,
                precision: Precision::Bf16,
                ..RunSettings::default()
            },
        ),
        (
            "train amp ckpt",
            RunSettings {
                batch: 4,
                seq: 2048,
                precision: Precision::AmpBf16,
                grad_ckpt: true,
                ..RunSettings::default()
            },
        ),
        (
            "infer fp32",
            RunSettings {
                mode: Mode::Infer,
                batch: 4,
                seq: 2048,
                ..RunSettings::default()
            },
        ),
    ];
    for (layers, hidden) in [(32, 4096), (80, 8192)] {
        let cfg = llama(layers, hidden);
        for (label, run) in &runs {
            let arch = hf::arch(&cfg, None, "bench").unwrap();
            let g =
                memory::hf::graph(&arch, &memory::hf::Dropouts::from_config(&cfg), run).unwrap();
            side_by_side(&format!("llama {layers} layers, {label}"), &g, run);
        }
    }
    for (label, run) in &runs {
        let mlp = Mlp {
            input_dim: 784,
            depth: 64,
            width: 1024,
            classes: 10,
        };
        let run = RunSettings { batch: 256, ..*run };
        side_by_side(
            &format!("mlp 64 layers, {label}"),
            &mlp.graph(256).unwrap(),
            &run,
        );
    }
    // where a transformers candidate's time goes
    let cfg = llama(32, 4096);
    let run = runs[0].1;
    let count = best(|| {
        black_box(hf::count(&cfg, None, "bench").unwrap());
    });
    let arch = hf::arch(&cfg, None, "bench").unwrap();
    let drop = memory::hf::Dropouts::from_config(&cfg);
    let graph = best(|| {
        black_box(memory::hf::graph(&arch, &drop, &run).unwrap());
    });
    let g = memory::hf::graph(&arch, &drop, &run).unwrap();
    let mem = best(|| {
        black_box(compiled::estimate(&g, &run).unwrap());
    });
    println!(
        "llama 32 layers candidate: counts {:.1} µs, graph {:.1} µs, memory {:.1} µs",
        us(count),
        us(graph),
        us(mem)
    );
}
