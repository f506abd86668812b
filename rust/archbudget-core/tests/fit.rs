//! `fit`'s answer is a crossing of the budget, `peak(v) <= budget < peak(v + 1)`
//! (`peak(v − 1)` for gpus), over random transformers and Keras models, run settings and
//! budgets; each peak is `memory`'s of the same settings, computed here independently.
use archbudget_core::formats::{self, Prepared};
use archbudget_core::gpu::fit::{fit, Vary};
use archbudget_core::gpu::{self, catalog::GPUS, Headroom};
use archbudget_core::memory::{Mode, Optimizer, Precision, RunSettings};
use archbudget_core::Error;
use proptest::prelude::*;
use serde_json::{json, Value};

fn llama(hidden: u64, layers: u64, heads: u64, kv: u64, vocab: u64) -> Value {
    json!({"model_type": "llama", "hidden_size": hidden * heads, "intermediate_size": hidden * heads * 3,
           "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
           "vocab_size": vocab, "max_position_embeddings": 4096})
}

fn gpt2(embd: u64, layers: u64, heads: u64, vocab: u64) -> Value {
    json!({"model_type": "gpt2", "n_embd": embd * heads, "n_layer": layers, "n_head": heads,
           "vocab_size": vocab, "n_positions": 1024})
}

fn keras_mlp(units: u64, depth: usize) -> Value {
    let mut layers = vec![
        json!({"class_name": "InputLayer", "config": {"name": "input", "batch_shape": [null, 64]}}),
    ];
    for i in 0..depth {
        layers.push(json!({"class_name": "Dense", "config": {"name": format!("dense_{i}"), "units": units, "activation": "relu"}}));
    }
    json!({"class_name": "Sequential", "config": {"name": "mlp", "layers": layers}})
}

fn models() -> impl Strategy<Value = Value> {
    prop_oneof![
        (1u64..5, 1u64..4, 1u64..3, 1u64..3, 64u64..2000).prop_map(|(h, l, heads, g, v)| llama(
            16 * h,
            l,
            heads * g,
            heads,
            v
        )),
        (1u64..5, 1u64..4, 1u64..4, 64u64..2000).prop_map(|(e, l, h, v)| gpt2(16 * e, l, h, v)),
        (1u64..512, 1usize..5).prop_map(|(u, d)| keras_mlp(u, d)),
    ]
}

fn runs() -> impl Strategy<Value = RunSettings> {
    (
        prop_oneof![Just(Mode::Train), Just(Mode::Infer)],
        prop_oneof![
            Just(Precision::Fp32),
            Just(Precision::Bf16),
            Just(Precision::AmpBf16)
        ],
        prop_oneof![Just(Optimizer::Sgd), Just(Optimizer::AdamW)],
        any::<bool>(),
        1u64..64,
        1u64..4,
    )
        .prop_map(
            |(mode, precision, optimizer, grad_ckpt, batch, zero)| RunSettings {
                mode,
                precision,
                optimizer,
                grad_ckpt,
                batch,
                zero_stage: zero as u8,
                ..RunSettings::default()
            },
        )
}

fn is_hf(model: &Value) -> bool {
    model.get("model_type").is_some()
}

/// `memory` as the CLI computes it, from the bytes.
fn peak(model: &Value, run: &RunSettings, seq: Option<u64>) -> Option<u64> {
    let bytes = serde_json::to_vec(model).unwrap();
    match formats::memory(&bytes, "model", None, run, seq) {
        Ok(r) => Some(r.peak_bytes),
        Err(Error::Overflow { .. }) => None,
        Err(e) => panic!("{e}"),
    }
}

/// Checks the crossing property of one fit; returns whether it found a value.
fn check(
    model: &Value,
    run: RunSettings,
    seq: Option<u64>,
    vary: Vary,
    scale: f64,
) -> Result<bool, TestCaseError> {
    let bytes = serde_json::to_vec(model).unwrap();
    let prepared = Prepared::read(&bytes, "model", None).unwrap();
    let at = |v: u64| -> (RunSettings, Option<u64>) {
        match vary {
            Vary::Batch => (RunSettings { batch: v, ..run }, seq),
            Vary::Seq => (run, Some(v)),
            Vary::NewTokens => (
                RunSettings {
                    new_tokens: v,
                    ..run
                },
                seq,
            ),
            Vary::Gpus => (RunSettings { gpus: v, ..run }, seq),
        }
    };
    // every axis starts at 1: the budget is a multiple of the smallest value's peak
    let (r, s) = at(1);
    let budget = (peak(model, &r, s).unwrap() as f64 * scale) as u64;
    match fit(&prepared, &run, seq, vary, budget, "model") {
        Ok(f) => {
            let (r, s) = at(f.value);
            prop_assert_eq!(Some(f.report.peak_bytes), peak(model, &r, s));
            prop_assert!(f.report.peak_bytes <= budget);
            let step = if vary == Vary::Gpus {
                f.value - 1
            } else {
                f.value + 1
            };
            match f.next_peak_bytes {
                Some(next) => {
                    let (r, s) = at(step);
                    prop_assert_eq!(Some(next), peak(model, &r, s));
                    prop_assert!(next > budget, "next {} <= budget {}", next, budget);
                }
                None => prop_assert!(vary == Vary::Gpus && f.value == 1 || vary != Vary::Gpus),
            }
            Ok(true)
        }
        Err(Error::DoesNotFit { .. }) => {
            prop_assert!(
                scale < 1.0 || vary == Vary::Gpus,
                "the smallest value fits a budget of its own peak"
            );
            Ok(false)
        }
        Err(e) => Err(TestCaseError::fail(e.to_string())),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn fit_batch_crosses_the_budget(model in models(), run in runs(), seq in 1u64..64, scale in 0.9f64..40.0) {
        let seq = is_hf(&model).then_some(seq);
        check(&model, run, seq, Vary::Batch, scale)?;
    }

    #[test]
    fn fit_seq_crosses_the_budget(l in 1u64..3, h in 1u64..4, run in runs(), scale in 0.9f64..20.0) {
        check(&llama(16 * h, l, 2, 1, 500), run, None, Vary::Seq, scale)?;
    }

    #[test]
    fn fit_new_tokens_crosses_the_budget(e in 1u64..4, l in 1u64..3, batch in 1u64..8, prompt in 1u64..64, scale in 1.0f64..1.5) {
        let run = RunSettings { mode: Mode::Generate, batch, new_tokens: 1, ..RunSettings::default() };
        check(&gpt2(16 * e, l, 2, 300), run, Some(prompt), Vary::NewTokens, scale)?;
    }

    #[test]
    fn fit_gpus_crosses_the_budget(model in models(), run in runs(), seq in 1u64..64, scale in 0.1f64..1.2) {
        let seq = is_hf(&model).then_some(seq);
        let run = RunSettings { mode: Mode::Train, zero_stage: 3, ..run };
        check(&model, run, seq, Vary::Gpus, scale)?;
    }
}

#[test]
fn a_llama_8b_on_an_h100_trains_at_some_batch_and_not_beyond() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/llama-3-8b.json"
    );
    let bytes = std::fs::read(path).unwrap();
    let model = Prepared::read(&bytes, "llama", None).unwrap();
    let budget = gpu::budget_bytes(gpu::lookup("h100").unwrap(), gpu::DEFAULT_HEADROOM).unwrap();
    let run = RunSettings {
        precision: Precision::Bf16,
        optimizer: Optimizer::Sgd,
        grad_ckpt: true,
        mode: Mode::Train,
        ..RunSettings::default()
    };
    let f = fit(&model, &run, Some(1024), Vary::Batch, budget, "llama").unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        Some(f.report.peak_bytes),
        peak(
            &value,
            &RunSettings {
                batch: f.value,
                ..run
            },
            Some(1024)
        )
    );
    assert_eq!(
        f.next_peak_bytes,
        peak(
            &value,
            &RunSettings {
                batch: f.value + 1,
                ..run
            },
            Some(1024)
        )
    );
    assert!(f.report.peak_bytes <= budget && f.next_peak_bytes.unwrap() > budget);
    // AdamW's fp32-sized state of 8B parameters is beyond one card at any batch
    let adam = RunSettings {
        optimizer: Optimizer::AdamW,
        precision: Precision::Fp32,
        ..run
    };
    let e = fit(&model, &adam, Some(1024), Vary::Batch, budget, "llama").unwrap_err();
    assert!(matches!(e, Error::DoesNotFit { .. }), "{e}");
    assert!(
        e.to_string().contains("does not fit even at batch 1"),
        "{e}"
    );
}

#[test]
fn fit_stops_at_the_models_positions() {
    let model = gpt2(16, 1, 2, 100);
    let bytes = serde_json::to_vec(&model).unwrap();
    let prepared = Prepared::read(&bytes, "gpt2", None).unwrap();
    let f = fit(
        &prepared,
        &RunSettings::default(),
        None,
        Vary::Seq,
        u64::MAX,
        "gpt2",
    )
    .unwrap();
    assert_eq!((f.value, f.next_peak_bytes), (1024, None));
}

#[test]
fn every_catalog_entry_has_a_source_and_its_figures() {
    for g in GPUS {
        assert!(g.source.len() > 40, "{}", g.name);
        assert!(
            g.memory_bytes > 8 << 30 && g.bandwidth_bytes_per_s > 1e11,
            "{}",
            g.name
        );
        assert!(
            g.fp32_tflops.is_some() && g.fp16_tflops.is_some(),
            "{}",
            g.name
        );
        assert!(gpu::budget_bytes(g, Headroom::Fraction(0.05)).unwrap() < g.memory_bytes);
    }
    assert!(GPUS.len() >= 21);
}
