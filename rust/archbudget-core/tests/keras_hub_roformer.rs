//! KerasHub RoformerV2 and XLNet, lowered from their own layers
//! (tests/data/keras_hub_roformer.json.gz, made by tests/data/make_keras_hub_roformer.py:
//! the real keras-hub models run on Keras's torch backend). Totals and every row of
//! `model.summary()` exact; `memory`'s parameters equal to Keras's and its FLOPs to what
//! `torch.utils.flop_counter` counts for the backbones and masked LMs; a TextClassifier
//! runs as its backbone; every mode and precision gives a figure; what it cannot run is
//! one clear line.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::{Mode, Precision, RunSettings};
use serde_json::Value;

fn data() -> Value {
    common::fixture("keras_hub_roformer.json.gz")
}

fn models() -> Vec<Value> {
    data()["models"].as_array().unwrap().clone()
}

fn text(m: &Value) -> Vec<u8> {
    serde_json::to_vec(&m["model_json"]).unwrap()
}

fn train(batch: u64, seq: u64) -> RunSettings {
    RunSettings {
        mode: Mode::Train,
        batch,
        seq,
        ..Default::default()
    }
}

#[test]
fn every_model_matches_keras() {
    let models = models();
    assert!(models.len() >= 10);
    let mut failures = Vec::new();
    for m in &models {
        let name = m["name"].as_str().unwrap();
        let outcome = common::compare_summary(m, formats::summary(&text(m), name, None), name);
        failures.extend(outcome.failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn params_and_flops_equal_keras_on_torch() {
    let d = data();
    let (batch, seq) = (d["batch"].as_u64().unwrap(), d["seq"].as_u64().unwrap());
    let mut checked = 0;
    for m in models().iter().filter(|m| m.get("flops_fwd").is_some()) {
        let name = m["name"].as_str().unwrap();
        let r = formats::memory(&text(m), name, None, &train(batch, seq), Some(seq))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.params, m["total_params"].as_u64().unwrap(), "{name}");
        assert_eq!(
            (r.flops_fwd, r.flops_fwd_bwd),
            (
                m["flops_fwd"].as_u64().unwrap(),
                m["flops_fwd_bwd"].as_u64().unwrap()
            ),
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 10);
}

#[test]
fn a_text_classifier_runs_as_its_backbone_in_every_mode() {
    let models = models();
    let by_name = |n: &str| models.iter().find(|m| m["name"] == n).unwrap();
    for name in ["RoformerV2", "RoformerV2_bias", "XLNet"] {
        let classifier = match name {
            // keras-hub has no XLNet task model: the backbone against itself, every mode
            "XLNet" => by_name(name),
            _ => by_name(&format!("{name}TextClassifier")),
        };
        for mode in [Mode::Train, Mode::Infer] {
            for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
                let run = RunSettings {
                    mode,
                    precision,
                    batch: 3,
                    seq: 24,
                    ..Default::default()
                };
                let ours = formats::memory(&text(classifier), name, None, &run, Some(24)).unwrap();
                let backbone =
                    formats::memory(&text(by_name(name)), name, None, &run, Some(24)).unwrap();
                assert_eq!(ours.peak_bytes, backbone.peak_bytes, "{name} {mode:?}");
                assert!(ours.peak_bytes > ours.breakdown.weights, "{name} {mode:?}");
            }
        }
    }
}

/// One line naming what is wrong, for `edit` of the first fixture model.
fn refusal(name: &str, edit: impl Fn(&mut Value), run: &RunSettings) -> String {
    let mut m = models().into_iter().find(|m| m["name"] == name).unwrap();
    edit(&mut m["model_json"]);
    let e = formats::memory(&text(&m), "m.json", None, run, Some(8))
        .unwrap_err()
        .to_string();
    assert_eq!(e.lines().count(), 1, "{e}");
    e
}

#[test]
fn what_memory_cannot_run_is_one_line() {
    let run = train(1, 8);
    let e = refusal(
        "RoformerV2MaskedLM",
        |j| j["config"]["backbone"]["config"]["activation"] = "softplus".into(),
        &run,
    );
    assert!(e.contains("'softplus'") && e.contains("relu"), "{e}");
    let e = refusal("RoformerV2", |j| j["config"]["head_size"] = 4.into(), &run);
    assert!(e.contains("head_size") && e.contains("hidden_dim"), "{e}");
    let generate = RunSettings {
        mode: Mode::Generate,
        ..run
    };
    for name in ["RoformerV2", "XLNet"] {
        let e = refusal(name, |_| {}, &generate);
        assert!(e.contains("does not generate"), "{e}");
    }
    let e = refusal(
        "XLNet",
        |j| j["config"]["activation"] = "softplus".into(),
        &run,
    );
    assert!(
        e.contains("'softplus'") && e.contains("XLNetBackbone"),
        "{e}"
    );
}
