//! The sweep's lower bound on the peak (`memory::bound`, through `Evaluator::peak_bound`)
//! against the simulator, its reference: over every transformers config of the fixtures
//! (each made with the real transformers) and random candidates of every family, under
//! every kind of run setting, the bound never exceeds the simulated peak, so a candidate
//! a `--max-memory` sweep skips by its bound is one the simulator rejects too.
use archbudget_core::formats::hf;
use archbudget_core::memory::families::{Cnn, LstmNet, Mlp};
use archbudget_core::memory::{self, Mode, RunSettings};
use archbudget_core::space::candidate::{run_table, space_of};
use archbudget_core::space::family::Evaluator;
use proptest::prelude::*;
use serde_json::{json, Value};

fn no_files(path: &str) -> archbudget_core::Result<Vec<u8>> {
    panic!("no template file expected, asked for {path}")
}

/// The bound and the run settings of `candidate` under `run`, as a sweep takes them.
fn bound_of(candidate: Value, run: &Value) -> Option<(u64, RunSettings)> {
    let run = run_table(run, "test").unwrap();
    let space = space_of(candidate, &run, "test", &no_files).ok()?;
    let eval = Evaluator::new(&space);
    Some((eval.peak_bound(&[]).ok()?, eval.run(&[]).ok()?))
}

/// The simulator's peak of a transformers config (the graph `memory` builds).
fn hf_peak(config: &Value, head: hf::Head, run: &RunSettings) -> Option<u64> {
    let arch = hf::arch(config, Some(head), "test").ok()?;
    let run = memory::hf::run_for_config(config, run).ok()?;
    let graph = memory::hf::graph(&arch, &memory::hf::Dropouts::from_config(config), &run).ok()?;
    memory::estimate(&graph, &run).ok().map(|r| r.peak_bytes)
}

/// Run settings of every kind, the `i`-th of a cycle through them.
fn run_setting(i: usize) -> Value {
    let modes = ["train", "train", "infer", "generate"];
    let precisions = ["fp32", "bf16", "amp_bf16"];
    let optimizers = ["adamw", "sgd", "sgd_momentum", "adam"];
    let shards = [(1, 0), (4, 1), (4, 2), (4, 3), (3, 3)];
    let (gpus, zero_stage) = shards[i % shards.len()];
    let seq = [16u64, 128, 1][i % 3];
    json!({
        "mode": modes[i % modes.len()],
        "precision": precisions[(i / 2) % precisions.len()],
        "optimizer": optimizers[(i / 3) % optimizers.len()],
        "gpus": gpus,
        "zero_stage": zero_stage,
        "grad_ckpt": i % 7 < 3,
        "batch": 1 + (i % 3) as u64,
        "seq": seq,
        "new_tokens": 4,
    })
}

fn fixture_configs() -> Vec<(String, Value)> {
    let mut configs = Vec::new();
    for name in [
        "hf_types",
        "hf_moe",
        "hf_vlm",
        "hf_ssm",
        "hf_next",
        "hf_extra",
        "hf_whisper",
    ] {
        let path = format!(
            "{}/../../tests/data/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let fixture: Value = serde_json::from_str(&text).unwrap();
        for row in fixture["rows"].as_array().unwrap() {
            configs.push((
                row["name"].as_str().unwrap().to_string(),
                row["config"].clone(),
            ));
        }
    }
    configs
}

#[test]
fn bound_is_below_the_simulated_peak_for_every_fixture_config() {
    let (mut checked, mut bounded) = (0, 0);
    for (i, (name, config)) in fixture_configs().into_iter().enumerate() {
        for (j, (head, head_name)) in [(hf::Head::Base, "base"), (hf::Head::CausalLm, "causal_lm")]
            .into_iter()
            .enumerate()
        {
            for k in 0..8 {
                let mut run = run_setting(i * 16 + j * 8 + k);
                run["head"] = json!(head_name);
                let Some((bound, settings)) = bound_of(config.clone(), &run) else {
                    continue;
                };
                let Some(peak) = hf_peak(&config, head, &settings) else {
                    continue;
                };
                assert!(
                    bound <= peak,
                    "{name} {head_name} {run}: bound {bound} > peak {peak}"
                );
                checked += 1;
                bounded += usize::from(bound > 0);
            }
        }
    }
    // most configs build and get a bound (no LoRA or quantization here)
    assert!(
        checked > 3000 && bounded * 10 > checked * 9,
        "{checked} checked, {bounded} bounded"
    );
}

fn family_run() -> impl Strategy<Value = Value> {
    (0usize..1000, 1u64..64).prop_map(|(i, batch)| {
        let mut run = run_setting(i);
        run["batch"] = json!(batch);
        run
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn transformers_bound_is_below_the_peak(
        kind in 0usize..5,
        layers in 1u64..12,
        width in prop_oneof![Just(16u64), Just(32), Just(64)],
        heads in 1u64..5,
        vocab in 10u64..5000,
        tie in any::<bool>(),
        seq in 1u64..300,
        run in family_run(),
        adapters in prop_oneof![Just(None), Just(Some(json!({"lora_rank": 8}))), Just(Some(json!({"quantize": "nf4"})))],
        base in any::<bool>(),
    ) {
        let hidden = width * heads;
        let config = match kind {
            0 => json!({"model_type": "llama", "hidden_size": hidden, "intermediate_size": 3 * hidden,
                        "num_hidden_layers": layers, "num_attention_heads": heads,
                        "num_key_value_heads": 1, "vocab_size": vocab, "tie_word_embeddings": tie}),
            1 => json!({"model_type": "gpt2", "n_embd": hidden, "n_layer": layers, "n_head": heads,
                        "vocab_size": vocab, "n_positions": 512}),
            2 => json!({"model_type": "bert", "hidden_size": hidden, "intermediate_size": 4 * hidden,
                        "num_hidden_layers": layers, "num_attention_heads": heads, "vocab_size": vocab}),
            3 => json!({"model_type": "mixtral", "hidden_size": hidden, "intermediate_size": hidden,
                        "num_hidden_layers": layers, "num_attention_heads": heads,
                        "num_key_value_heads": 1, "vocab_size": vocab, "num_local_experts": 4,
                        "num_experts_per_tok": 2}),
            _ => json!({"model_type": "t5", "d_model": hidden, "d_ff": 2 * hidden, "d_kv": width,
                        "num_layers": layers, "num_decoder_layers": layers, "num_heads": heads,
                        "vocab_size": vocab}),
        };
        let mut run = run;
        run["seq"] = json!(seq);
        run["head"] = json!(if base { "base" } else { "causal_lm" });
        if let Some(Value::Object(extra)) = adapters {
            run.as_object_mut().unwrap().extend(extra);
        }
        let head = if base { hf::Head::Base } else { hf::Head::CausalLm };
        if let Some((bound, settings)) = bound_of(config.clone(), &run) {
            if let Some(peak) = hf_peak(&config, head, &settings) {
                prop_assert!(bound <= peak, "{config} {run}: bound {bound} > peak {peak}");
            }
        }
    }

    #[test]
    fn mlp_bound_is_below_the_peak(
        input_dim in 1u64..3000,
        depth in 0u64..40,
        width in 1u64..4096,
        classes in 1u64..100,
        run in family_run(),
    ) {
        let mlp = Mlp { input_dim, depth, width, classes };
        let candidate = json!({"family": "mlp", "input_dim": input_dim, "depth": depth,
                               "width": width, "classes": classes});
        let (bound, settings) = bound_of(candidate, &run).unwrap();
        let peak = mlp.estimate(&settings).unwrap().peak_bytes;
        prop_assert!(bound <= peak, "{mlp:?} {run}: bound {bound} > peak {peak}");
        if settings.mode == Mode::Train {
            prop_assert!(bound > 0);
        }
    }

    #[test]
    fn cnn_and_lstm_bounds_are_below_the_peak(
        image in 8u64..64,
        stages in 0u64..3,
        filters in 1u64..32,
        hidden in 1u64..300,
        layers in 1u64..4,
        run in family_run(),
    ) {
        let cnn = json!({"family": "cnn", "image": image, "channels": 3, "stages": stages,
                         "convs": 2, "filters": filters, "batchnorm": true, "classes": 10});
        let (bound, settings) = bound_of(cnn, &run).unwrap();
        let model = Cnn { image, channels: 3, stages, convs: 2, filters, batchnorm: true, classes: 10 };
        if let Ok(report) = model.estimate(&settings) {
            prop_assert!(bound <= report.peak_bytes);
        }
        let lstm = json!({"family": "lstm", "vocab": 1000, "embed": 32, "hidden": hidden,
                          "layers": layers, "seq": 20, "classes": 5});
        let (bound, settings) = bound_of(lstm, &run).unwrap();
        let model = LstmNet { vocab: 1000, embed: 32, hidden, layers, seq: 20, classes: 5 };
        prop_assert!(bound <= model.estimate(&settings).unwrap().peak_bytes);
    }
}
