//! keras-hub's Gemma4Backbone and Gemma4CausalLM (`tests/data/keras_hub_gemma4.json.gz` and
//! the held-out variants `keras_hub_mutants_gemma4.json.gz`) lowered as their transformers
//! twin `gemma4_text` (`tests/data/hf_gemma4.json`'s `keras_hub_twins`, counted by
//! transformers 5.24): the twin config the reader makes is the generator's, its count is
//! transformers' and keras-hub's less the per-layer `layer_scalar` (a buffer in PyTorch),
//! the keras-hub model's memory report equals the twin's where they run the same ops, and
//! every text-only fixture and variant gets a figure whose parameters are keras-hub's
//! count less those scalars; what memory does not cover (a backbone with a vision or audio
//! encoder) is refused in one line. The vision encoder alone: hf_gemma4_vision.rs.
mod common;
mod hf_rows;

use archbudget_core::formats::{self, hf, keras_hub};
use archbudget_core::memory::{AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn models(fixture: &str) -> Vec<Value> {
    common::fixture(fixture)["models"]
        .as_array()
        .unwrap()
        .clone()
}

fn all_models() -> Vec<Value> {
    let mut all = models("keras_hub_gemma4.json.gz");
    all.extend(models("keras_hub_mutants_gemma4.json.gz"));
    all
}

fn keras_model(name: &str) -> Value {
    all_models()
        .into_iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

fn twins() -> Vec<Value> {
    hf_rows::fixture_section("hf_gemma4.json", "keras_hub_twins")
}

/// The backbone's constructor arguments (a task's are under `backbone`).
fn backbone_config(m: &Value) -> &Value {
    let config = &m["model_json"]["config"];
    match config.get("backbone") {
        Some(b) => &b["config"],
        None => config,
    }
}

fn runs() -> Vec<RunSettings> {
    let mut runs = Vec::new();
    for mode in [Mode::Train, Mode::Infer, Mode::Generate] {
        for precision in [Precision::Fp32, Precision::AmpBf16, Precision::Bf16] {
            for (attn, grad_ckpt) in [(AttnImpl::Sdpa, false), (AttnImpl::Eager, true)] {
                runs.push(RunSettings {
                    mode,
                    batch: 2,
                    seq: 12,
                    precision,
                    attn,
                    grad_ckpt,
                    new_tokens: if mode == Mode::Generate { 3 } else { 0 },
                    ..Default::default()
                });
            }
        }
    }
    runs
}

#[test]
fn the_twin_config_is_the_generators_and_transformers_counts_it() {
    let twins = twins();
    assert!(twins.len() >= 12, "{} twins", twins.len());
    for twin in &twins {
        let name = twin["name"].as_str().unwrap();
        let model = keras_hub::read(&keras_model(name)["model_json"], name)
            .unwrap()
            .unwrap();
        let ours = model.hf_config.as_ref().unwrap();
        let want = &twin["config"];
        for (key, value) in want.as_object().unwrap() {
            let mine = &ours[key];
            let same = match (mine.as_f64(), value.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => mine == value,
            };
            assert!(same, "{name} {key}: {mine} != {value}");
        }
        let counted = hf::summarize(ours, Some(hf::Head::Base), name).unwrap();
        let params = twin["params"].as_u64().unwrap();
        assert_eq!(counted.total_params, params, "{name}");
        let layers = want["num_hidden_layers"].as_u64().unwrap();
        assert_eq!(
            twin["keras_params"].as_u64().unwrap(),
            params + layers,
            "{name}"
        );
    }
}

/// keras-hub runs the ops its twin runs: dense experts, layers that never slide and
/// soft-capped attention (not among the twins) differ.
fn runs_as_its_twin(twin: &Value) -> bool {
    let name = twin["name"].as_str().unwrap();
    let config = backbone_config(&keras_model(name)).clone();
    twin["config"]["enable_moe_block"] != true
        && config.get("use_sliding_window_attention") != Some(&Value::Bool(false))
}

#[test]
fn memory_of_the_keras_hub_model_equals_its_twins() {
    let mut compared = 0;
    for twin in twins().iter().filter(|t| runs_as_its_twin(t)) {
        let name = twin["name"].as_str().unwrap();
        let twin_text = serde_json::to_vec(&twin["config"]).unwrap();
        let mut pairs = vec![(name.to_string(), hf::Head::Base)];
        let lm = format!("{name}CausalLM");
        if all_models().iter().any(|m| m["name"] == lm.as_str()) {
            pairs.push((lm, hf::Head::CausalLm));
        }
        for (keras, head) in pairs {
            let text = serde_json::to_vec(&keras_model(&keras)["model_json"]).unwrap();
            for run in runs() {
                let ours = formats::memory(&text, &keras, None, &run, Some(run.seq)).unwrap();
                let theirs =
                    formats::memory(&twin_text, "twin", Some(head), &run, Some(run.seq)).unwrap();
                assert_eq!(ours.peak_bytes, theirs.peak_bytes, "{keras} {run:?}");
                assert_eq!(ours.breakdown, theirs.breakdown, "{keras} {run:?}");
                assert_eq!(
                    (
                        ours.flops_fwd,
                        ours.flops_fwd_bwd,
                        ours.params,
                        ours.buffers
                    ),
                    (
                        theirs.flops_fwd,
                        theirs.flops_fwd_bwd,
                        theirs.params,
                        theirs.buffers
                    ),
                    "{keras} {run:?}"
                );
            }
            compared += 1;
        }
    }
    assert!(compared >= 13, "{compared} models compared");
}

/// What memory does not cover: a backbone with a vision or audio encoder (the vision
/// encoder alone is lowered as its twin tower: hf_gemma4_vision.rs).
fn outside_memory(m: &Value) -> bool {
    let c = backbone_config(m);
    let set = |key: &str| {
        !matches!(
            c.get(key),
            None | Some(Value::Null) | Some(Value::Bool(false))
        )
    };
    set("vision_encoder") || set("audio_encoder")
}

/// Every layer borrows k and v from outside the model (the assistant's case).
fn all_kv_shared(m: &Value) -> bool {
    let c = backbone_config(m);
    c["num_kv_shared_layers"].as_u64().unwrap_or(0) == c["num_layers"].as_u64().unwrap()
}

#[test]
fn every_text_model_gets_a_figure_with_keras_hubs_count() {
    let run = RunSettings {
        mode: Mode::Train,
        batch: 2,
        seq: 16,
        ..Default::default()
    };
    let (mut figures, mut refused) = (0, Vec::new());
    let encoder = |m: &Value| m["model_json"]["registered_name"] == "keras_hub>Gemma4VisionEncoder";
    for m in all_models().into_iter().filter(|m| !encoder(m)) {
        let name = m["name"].as_str().unwrap();
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let got = formats::memory(&text, name, None, &run, Some(16));
        if outside_memory(&m) {
            refused.push(m);
            continue;
        }
        if all_kv_shared(&m) {
            let err = got.unwrap_err().to_string();
            assert!(
                err.contains("num_kv_shared_layers") && err.contains("assistant"),
                "{name}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{name}: {e}"));
        let layers = backbone_config(&m)["num_layers"].as_u64().unwrap();
        assert_eq!(
            got.params + layers,
            m["total_params"].as_u64().unwrap(),
            "{name}"
        );
        // fp32 weights, each tensor in whole allocator blocks
        assert!(got.breakdown.weights >= 4 * got.params, "{name}");
        assert!(got.peak_bytes > got.breakdown.weights, "{name}");
        figures += 1;
    }
    common::assert_memory_refused_naming_coverage(&refused);
    println!(
        "figures {figures}, refused (vision and audio encoders) {}",
        refused.len()
    );
    assert!(figures >= 40, "{figures} figures");
}

/// keras-hub's soft-capped attention is unfused whatever `--attn` says: SDPA and eager
/// runs give one report.
#[test]
fn soft_capped_attention_runs_unfused() {
    let m = keras_model("Gemma4_moe");
    assert!(backbone_config(&m)["attention_logit_soft_cap"].is_number());
    let text = serde_json::to_vec(&m["model_json"]).unwrap();
    let report = |attn| {
        let run = RunSettings {
            attn,
            batch: 2,
            seq: 12,
            ..Default::default()
        };
        formats::memory(&text, "Gemma4_moe", None, &run, Some(12)).unwrap()
    };
    let (sdpa, eager) = (report(AttnImpl::Sdpa), report(AttnImpl::Eager));
    assert_eq!(sdpa.peak_bytes, eager.peak_bytes);
    assert_eq!(sdpa.breakdown, eager.breakdown);
}
