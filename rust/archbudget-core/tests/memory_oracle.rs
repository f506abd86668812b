//! The memory model against the oracle: 305 training / inference steps measured on an
//! H100 (torch 2.11), `tests/data/gpu_memory_dev.json`. Params and buffers must match
//! exactly; peak bytes and FLOPs must meet the accuracy targets overall and per
//! family × mode. Writes every case's figures to `target/memory_oracle.json` for
//! `benches/memory_accuracy.py`.
mod oracle_case;

use archbudget_core::memory::families::{LstmNet, Mlp};
use archbudget_core::memory::{self, MemoryReport, Mode, Optimizer, Precision, RunSettings};
use oracle_case::{cnn_of, lstm_of, measured_cases, run_of, u};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const OUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../target/memory_oracle.json"
);

pub fn estimate_case(c: &Value) -> archbudget_core::Result<MemoryReport> {
    let run = run_of(c);
    match c["family"].as_str().unwrap() {
        "mlp" => Mlp {
            input_dim: u(c, "input_dim"),
            depth: u(c, "depth"),
            width: u(c, "width"),
            classes: u(c, "classes"),
        }
        .estimate(&run),
        "cnn" => cnn_of(c).estimate(&run),
        "lstm" => lstm_of(c).estimate(&run),
        "hf" => {
            memory::hf::estimate_hf_case(&c["hf"], c["head"].as_str().unwrap_or("causal_lm"), &run)
        }
        f => panic!("family {f}"),
    }
}

struct Row {
    group: String,
    id: String,
    measured: Value,
    est: MemoryReport,
}

fn rows() -> Vec<Row> {
    let mut out = Vec::new();
    for case in measured_cases() {
        let c = &case["case"];
        let m = &case["measured"];
        let est = estimate_case(c).unwrap_or_else(|e| panic!("{}: {e}", c["id"]));
        out.push(Row {
            group: format!(
                "{}/{}",
                c["family"].as_str().unwrap(),
                c["mode"].as_str().unwrap()
            ),
            id: c["id"].as_str().unwrap().to_string(),
            measured: m.clone(),
            est,
        });
    }
    out
}

fn rel(est: u64, meas: u64) -> f64 {
    (est as f64 - meas as f64) / meas as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return 0.0;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Cases whose FLOPs figures are a reference: all but LSTM training, where torch's
/// counter missed the fused cuDNN kernel (SPEC.md).
fn flops_reference(r: &Row) -> bool {
    r.group != "lstm/train"
}

struct Stats {
    n: usize,
    within10: f64,
    median: f64,
    flops_n: usize,
    flops_ok: f64,
}

fn stats(rs: &[&Row]) -> Stats {
    let errs: Vec<f64> = rs
        .iter()
        .map(|r| rel(r.est.peak_bytes, r.measured["peak_bytes"].as_u64().unwrap()).abs())
        .collect();
    let within = errs.iter().filter(|e| **e <= 0.10).count() as f64 / errs.len().max(1) as f64;
    let (mut fn_, mut fok) = (0usize, 0usize);
    for r in rs.iter().filter(|r| flops_reference(r)) {
        for (k, est) in [
            ("flops_fwd", r.est.flops_fwd),
            ("flops_fwd_bwd", r.est.flops_fwd_bwd),
        ] {
            if let Some(m) = r.measured.get(k).and_then(|v| v.as_u64()) {
                if m > 0 {
                    fn_ += 1;
                    if rel(est, m).abs() <= 0.01 {
                        fok += 1;
                    }
                }
            }
        }
    }
    Stats {
        n: rs.len(),
        within10: within,
        median: median(errs),
        flops_n: fn_,
        flops_ok: fok as f64 / fn_.max(1) as f64,
    }
}

fn table(rows: &[Row]) -> Vec<(String, Stats)> {
    let mut groups: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        groups.entry(r.group.clone()).or_default().push(r);
    }
    let mut t: Vec<(String, Stats)> = groups
        .iter()
        .map(|(g, rs)| (g.clone(), stats(rs)))
        .collect();
    t.push(("all".into(), stats(&rows.iter().collect::<Vec<_>>())));
    t
}

fn write_json(rows: &[Row]) {
    let cases: Vec<Value> = rows
        .iter()
        .map(|r| {
            let b: serde_json::Map<String, Value> = r.est.breakdown.entries().iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            json!({"id": r.id, "group": r.group, "measured": r.measured,
                   "estimate": {"peak_bytes": r.est.peak_bytes, "params": r.est.params, "buffers": r.est.buffers,
                                "flops_fwd": r.est.flops_fwd, "flops_fwd_bwd": r.est.flops_fwd_bwd, "breakdown": b}})
        })
        .collect();
    let _ = std::fs::create_dir_all(std::path::Path::new(OUT).parent().unwrap());
    std::fs::write(
        OUT,
        serde_json::to_string(&json!({"cases": cases})).unwrap(),
    )
    .unwrap();
}

#[test]
fn params_and_buffers_exact() {
    let mut bad = Vec::new();
    for r in rows() {
        let (p, b) = (
            r.measured["params"].as_u64().unwrap(),
            r.measured["buffers"].as_u64().unwrap(),
        );
        if r.est.params != p || r.est.buffers != b {
            bad.push(format!(
                "{}: params {} vs {p}, buffers {} vs {b}",
                r.id, r.est.params, r.est.buffers
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} cases differ:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn accuracy_report() {
    let rows = rows();
    write_json(&rows);
    println!(
        "{:<12} {:>4} {:>10} {:>10} {:>8}",
        "family/mode", "n", "within10%", "median|e|", "flops1%"
    );
    for (g, s) in table(&rows) {
        println!(
            "{:<12} {:>4} {:>9.1}% {:>9.2}% {:>7.1}% (of {})",
            g,
            s.n,
            100.0 * s.within10,
            100.0 * s.median,
            100.0 * s.flops_ok,
            s.flops_n
        );
    }
}

/// The acceptance targets on the dev oracle: ≥90% of cases within 10% of the measured
/// peak and a median |error| ≤ 5% for every family × mode, and overall ≥95% within 10%
/// and a median ≤ 2% (issue 17's bars for all cases); FLOPs within 1% for ≥95% of the
/// reference figures. What still misses: cnn-367, 349, 379
/// and 287 (fp32 training at 32×32, batch 128, filters 32: an engine at 4×4 that takes
/// up to 247 MiB of workspace, see `ConvWorkspace`), cnn-209 and mlp-001 (whose extra
/// 32 MiB is the first backward thread's cuBLAS workspace of the oracle's process,
/// allocated during that case: a one-off of the run order).
#[test]
fn accuracy_targets() {
    let rows = rows();
    let mut failures = Vec::new();
    for (g, s) in table(&rows) {
        if s.within10 < 0.90 || s.median > 0.05 {
            failures.push(format!(
                "{g}: {:.1}% within 10%, median {:.2}%",
                100.0 * s.within10,
                100.0 * s.median
            ));
        }
        if g == "all" && (s.within10 < 0.95 || s.median > 0.02) {
            failures.push(format!(
                "all: {:.1}% within 10%, median {:.2}%",
                100.0 * s.within10,
                100.0 * s.median
            ));
        }
        if g == "all" && s.flops_ok < 0.95 {
            failures.push(format!("FLOPs: {:.1}% within 1%", 100.0 * s.flops_ok));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn mlp_run(batch: u64, optimizer: Optimizer, mode: Mode) -> u64 {
    let run = RunSettings {
        batch,
        optimizer,
        mode,
        ..RunSettings::default()
    };
    Mlp {
        input_dim: 784,
        depth: 4,
        width: 2048,
        classes: 10,
    }
    .estimate(&run)
    .unwrap()
    .peak_bytes
}

#[test]
fn peak_grows_with_batch() {
    let mut last = 0;
    for b in [1, 16, 256, 4096] {
        let p = mlp_run(b, Optimizer::AdamW, Mode::Train);
        assert!(p > last, "batch {b}: {p} <= {last}");
        last = p;
    }
}

#[test]
fn optimizer_order_and_inference_below_training() {
    let sgd = mlp_run(64, Optimizer::Sgd, Mode::Train);
    let mom = mlp_run(64, Optimizer::SgdMomentum, Mode::Train);
    let adam = mlp_run(64, Optimizer::Adam, Mode::Train);
    assert!(sgd <= mom && mom <= adam, "{sgd} {mom} {adam}");
    assert_eq!(adam, mlp_run(64, Optimizer::AdamW, Mode::Train));
    assert!(mlp_run(64, Optimizer::Sgd, Mode::Infer) < sgd);
}

#[test]
fn grad_ckpt_lowers_activations() {
    let cfg = json!({"model_type": "llama", "vocab_size": 32000, "hidden_size": 1024, "intermediate_size": 2816,
                     "num_hidden_layers": 8, "num_attention_heads": 16, "num_key_value_heads": 4});
    let run = RunSettings {
        batch: 4,
        seq: 1024,
        precision: Precision::Bf16,
        ..RunSettings::default()
    };
    let plain = memory::hf::estimate_hf_case(&cfg, "causal_lm", &run).unwrap();
    let ckpt = memory::hf::estimate_hf_case(
        &cfg,
        "causal_lm",
        &RunSettings {
            grad_ckpt: true,
            ..run
        },
    )
    .unwrap();
    assert!(
        ckpt.peak_bytes < plain.peak_bytes,
        "{} vs {}",
        ckpt.peak_bytes,
        plain.peak_bytes
    );
    assert!(
        ckpt.flops_fwd_bwd > plain.flops_fwd_bwd,
        "recomputation is counted"
    );
    assert_eq!(ckpt.params, plain.params);
}

#[test]
fn overflow_is_an_error() {
    let run = RunSettings {
        batch: u64::MAX / 2,
        ..RunSettings::default()
    };
    let e = Mlp {
        input_dim: 1 << 20,
        depth: 2,
        width: 1 << 20,
        classes: 10,
    }
    .estimate(&run)
    .unwrap_err();
    assert_eq!(e.kind(), "OverflowError");
    let e = LstmNet {
        vocab: u64::MAX,
        embed: u64::MAX,
        hidden: 8,
        layers: 1,
        seq: 8,
        classes: 2,
    }
    .estimate(&RunSettings::default())
    .unwrap_err();
    assert_eq!(e.kind(), "OverflowError");
}

fn llama_small() -> Value {
    json!({"model_type": "llama", "vocab_size": 32000, "hidden_size": 512, "intermediate_size": 1408,
           "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 2})
}

#[test]
fn generate_peak_grows_linearly_in_new_tokens() {
    let run = RunSettings {
        mode: Mode::Generate,
        batch: 2,
        seq: 128,
        precision: Precision::Bf16,
        ..RunSettings::default()
    };
    let peak = |n: u64| {
        memory::hf::estimate_hf_case(
            &llama_small(),
            "causal_lm",
            &RunSettings {
                new_tokens: n,
                ..run
            },
        )
        .unwrap()
        .peak_bytes
    };
    let infer = memory::hf::estimate_hf_case(
        &llama_small(),
        "causal_lm",
        &RunSettings {
            mode: Mode::Infer,
            ..run
        },
    )
    .unwrap();
    assert_eq!(peak(0), infer.peak_bytes, "no new tokens: the prefill");
    let p: Vec<u64> = [8192, 16384, 24576, 32768]
        .iter()
        .map(|&n| peak(n))
        .collect();
    let d: Vec<f64> = p.windows(2).map(|w| w[1] as f64 - w[0] as f64).collect();
    assert!(d[0] > 0.0);
    for x in &d[1..] {
        assert!((x - d[0]).abs() <= 0.01 * d[0], "not linear: {p:?}");
    }
    // one new token's kv: 2 (k, v) × layers × batch × kv heads × head dim × 2 bytes, plus
    // its share of the layer tensor `torch.cat` copies, plus its int64 id per sequence
    let kv = 2 * 4 * 2 * 2 * 64 * 2;
    let per_token = (kv + kv / 8 + 2 * 8) as f64;
    assert!(
        (d[0] / 8192.0 - per_token).abs() <= 0.02 * per_token,
        "{} B/token",
        d[0] / 8192.0
    );
}

#[test]
fn frozen_params_get_no_gradients_or_optimizer_state() {
    let mlp = Mlp {
        input_dim: 784,
        depth: 3,
        width: 1024,
        classes: 10,
    };
    let run = RunSettings {
        batch: 64,
        ..RunSettings::default()
    };
    let full = memory::estimate(&mlp.graph(64).unwrap(), &run).unwrap();
    assert_eq!(full.trainable_params, full.params);
    // everything frozen: no gradients, no optimizer state, no backward work
    let mut g = mlp.graph(64).unwrap();
    g.freeze(0..g.nodes.len());
    let r = memory::estimate(&g, &run).unwrap();
    assert_eq!(
        (
            r.trainable_params,
            r.breakdown.gradients,
            r.breakdown.optimizer
        ),
        (0, 0, 0)
    );
    assert_eq!(r.params, full.params);
    assert_eq!(r.flops_fwd_bwd, r.flops_fwd);
    assert!(r.peak_bytes < full.peak_bytes);
    // the first layer frozen: its weights leave the optimizer state (AdamW: 2 copies)
    // its dW and the second layer's dx (its input no longer requires grad) leave the
    // backward FLOPs
    let mut g = mlp.graph(64).unwrap();
    g.freeze(0..1);
    let r = memory::estimate(&g, &run).unwrap();
    let first = 784 * 1024 + 1024;
    assert_eq!(r.trainable_params, full.params - first);
    let opt_of = |rep: &MemoryReport| rep.breakdown.optimizer;
    assert_eq!(opt_of(&full) - opt_of(&r), 2 * (4 * 784 * 1024 + 4096));
    assert_eq!(
        full.flops_fwd_bwd - r.flops_fwd_bwd,
        2 * 64 * 784 * 1024 + 2 * 64 * 1024 * 1024
    );
    assert!(r.peak_bytes < full.peak_bytes);
}

#[test]
fn zero_stages_shard_per_gpu_bytes() {
    let base = RunSettings {
        batch: 4,
        seq: 256,
        precision: Precision::AmpBf16,
        ..RunSettings::default()
    };
    type Case = Box<dyn Fn(&RunSettings) -> MemoryReport>;
    let cases: Vec<Case> = vec![
        Box::new(|r| memory::hf::estimate_hf_case(&llama_small(), "causal_lm", r).unwrap()),
        Box::new(|r| {
            Mlp {
                input_dim: 784,
                depth: 4,
                width: 2048,
                classes: 10,
            }
            .estimate(&RunSettings { batch: 256, ..*r })
            .unwrap()
        }),
    ];
    for est in &cases {
        for optimizer in [Optimizer::Sgd, Optimizer::AdamW] {
            let unsharded = est(&RunSettings { optimizer, ..base }).peak_bytes;
            for gpus in [1, 2, 8, 64] {
                let mut last = u64::MAX;
                for zero_stage in 0..=3 {
                    let p = est(&RunSettings {
                        optimizer,
                        gpus,
                        zero_stage,
                        ..base
                    })
                    .peak_bytes;
                    if gpus == 1 {
                        assert_eq!(p, unsharded, "stage {zero_stage} on one GPU");
                    }
                    assert!(
                        p <= last,
                        "gpus {gpus}: stage {zero_stage} {p} > stage {} {last}",
                        zero_stage - 1
                    );
                    last = p;
                }
                if gpus > 1 {
                    assert!(last < unsharded);
                }
            }
        }
    }
    let bad = RunSettings {
        zero_stage: 4,
        ..base
    };
    assert!(Mlp {
        input_dim: 8,
        depth: 1,
        width: 8,
        classes: 2
    }
    .estimate(&bad)
    .is_err());
}
