//! whisper against transformers 5.24 (`tests/data/hf_whisper.json`, made by
//! `tests/data/make_hf_whisper.py`): totals, trainable totals (the frozen sinusoidal
//! encoder positions) and classes of `WhisperModel` and
//! `WhisperForConditionalGeneration` for the released sizes and small configs, every
//! row of the small ones against its module; `memory` lowers every config (both heads;
//! train, infer and generate) through the encoder-decoder lowering of t5 and bart;
//! tiny configs' FLOPs equal `torch.utils.flop_counter`'s; the cache `generate` leaves
//! holds the bytes of transformers' own cache tensors; bad input is refused by key.
mod hf_flops;
mod hf_rows;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{self, Mode, RunSettings};
use serde_json::{json, Value};

fn section(name: &str) -> Vec<Value> {
    hf_rows::fixture_section("hf_whisper.json", name)
}

const HEADS: [(&str, Option<hf::Head>); 3] = [
    ("base", Some(hf::Head::Base)),
    ("lm", Some(hf::Head::CausalLm)),
    // SPEC.md: no causal-LM class, so the default is the bare model
    ("base", None),
];

#[test]
fn totals_trainable_and_classes_equal_transformers() {
    let mut failures = Vec::new();
    let rows = section("rows");
    for row in &rows {
        let name = row["name"].as_str().unwrap();
        for (key, head) in HEADS {
            let s = hf::summarize(&row["config"], head, name).unwrap();
            let params = row[format!("{key}_params")].as_u64().unwrap();
            let trainable = row[format!("{key}_trainable")].as_u64().unwrap();
            let got = (s.total_params, s.trainable_params, s.non_trainable_params);
            if got != (params, trainable, params - trainable) {
                failures.push(format!(
                    "{name} {head:?}: {got:?} != {params} ({trainable} trainable)"
                ));
            }
            if s.name != row[format!("{key}_class")].as_str().unwrap() {
                failures.push(format!("{name} {head:?}: class {}", s.name));
            }
            assert_eq!(
                row[format!("{key}_buffers")],
                0,
                "{name}: whisper holds no buffers"
            );
        }
    }
    assert!(rows.iter().any(|r| r["name"] == "whisper-large-v3-turbo"));
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn rows_match_modules() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in section("rows") {
        let name = row["name"].as_str().unwrap();
        for (key, head) in [("base", hf::Head::Base), ("lm", hf::Head::CausalLm)] {
            let Some(modules) = row["modules"][key].as_object() else {
                continue;
            };
            let s = hf::summarize(&row["config"], Some(head), name).unwrap();
            checked += hf_rows::check_rows(name, key, &s, modules, &mut failures);
        }
    }
    assert!(checked > 300, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn memory_lowers_every_config_with_the_summary_params() {
    for row in section("rows") {
        let name = row["name"].as_str().unwrap();
        let text = serde_json::to_vec(&row["config"]).unwrap();
        for head in [hf::Head::Base, hf::Head::CausalLm] {
            let counted = formats::summary(&text, name, Some(head)).unwrap();
            for mode in [Mode::Train, Mode::Infer, Mode::Generate] {
                if mode == Mode::Generate && head == hf::Head::Base {
                    continue;
                }
                let run = RunSettings {
                    mode,
                    batch: 2,
                    seq: 8,
                    new_tokens: 4,
                    ..Default::default()
                };
                let m = formats::memory(&text, name, Some(head), &run, Some(8))
                    .unwrap_or_else(|e| panic!("{name} {head:?} {mode:?}: {e}"));
                assert_eq!(m.params, counted.total_params, "{name} {head:?} {mode:?}");
                assert!(m.peak_bytes > m.breakdown.weights, "{name} {mode:?}");
                if mode == Mode::Train {
                    // the frozen sinusoids get no gradient
                    assert_eq!(
                        m.trainable_params, counted.trainable_params,
                        "{name} {head:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn flops_match_the_flop_counter() {
    let gaps: Vec<String> = section("flops")
        .iter()
        .flat_map(hf_flops::flop_counter_gaps)
        .collect();
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn generate_cache_holds_what_transformers_cache_holds() {
    for case in section("cache") {
        let name = case["name"].as_str().unwrap();
        let config = &case["config"];
        let arch = hf::arch(config, Some(hf::Head::CausalLm), name).unwrap();
        // the decoder starts from its start token alone; `seq` is not read by generate
        assert_eq!(case["prompt"], 1, "{name}");
        let run = RunSettings {
            mode: Mode::Generate,
            batch: case["batch"].as_u64().unwrap(),
            seq: 1,
            new_tokens: case["new_tokens"].as_u64().unwrap(),
            ..Default::default()
        };
        let g = memory::hf::graph(&arch, &memory::hf::Dropouts::from_config(config), &run).unwrap();
        let ours = memory::generate_cache_bytes(&g, &run).unwrap();
        assert_eq!(ours, case["cache_bytes"].as_u64().unwrap(), "{name}");
    }
}

fn refusal(config: Value) -> String {
    hf::summarize(&config, None, "cfg.json")
        .expect_err("must fail")
        .to_string()
}

#[test]
fn different_encoder_and_decoder_widths_and_odd_widths_are_refused_by_key() {
    let e = refusal(json!({"model_type": "whisper", "decoder_attention_heads": 4}));
    assert!(
        e.starts_with("cfg.json: ") && e.contains("'decoder_attention_heads'"),
        "{e}"
    );
    let e = refusal(
        json!({"model_type": "whisper", "d_model": 9, "encoder_attention_heads": 3,
        "decoder_attention_heads": 3}),
    );
    assert!(
        e.starts_with("cfg.json: ") && e.contains("'d_model' (9)"),
        "{e}"
    );
}

#[test]
fn decoder_longer_than_its_position_table_is_refused_naming_the_option() {
    let text =
        serde_json::to_vec(&json!({"model_type": "whisper", "max_target_positions": 8})).unwrap();
    for (mode, seq, new_tokens, option) in [
        (Mode::Train, 9, 0, "--seq 9"),
        (Mode::Generate, 4, 8, "--new-tokens 8"),
    ] {
        let run = RunSettings {
            mode,
            batch: 1,
            seq,
            new_tokens,
            ..Default::default()
        };
        let e = formats::memory(&text, "cfg.json", Some(hf::Head::CausalLm), &run, Some(seq))
            .expect_err("must fail")
            .to_string();
        assert!(
            e.contains(option) && e.contains("holds 8 positions (max_target_positions"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

#[test]
fn generation_grows_the_token_ids_not_the_audio_features() {
    // whisper-large-v3-turbo: 128 mel bins × 3000 frames per sequence, 4 decoder layers
    let row = section("rows")
        .into_iter()
        .find(|r| r["name"] == "whisper-large-v3-turbo")
        .unwrap();
    let text = serde_json::to_vec(&row["config"]).unwrap();
    let inputs = |new_tokens: u64| {
        let run = RunSettings {
            mode: Mode::Generate,
            batch: 8,
            seq: 1,
            new_tokens,
            ..Default::default()
        };
        let m = formats::memory(&text, "turbo", Some(hf::Head::CausalLm), &run, Some(1)).unwrap();
        m.breakdown.inputs
    };
    let (short, long) = (inputs(20), inputs(400));
    let features = 8 * 128 * 3000 * 4;
    // held once, whatever the tokens (regrown per position they would be 400 times it)
    assert!(
        short >= features && long < 2 * features,
        "{short} -> {long}"
    );
}

#[test]
fn decoding_reads_the_cross_attention_cache_whole_and_the_self_attention_cache_per_position() {
    // what each decoding step reads (the time estimate's bytes): the cross-attention
    // cache, which does not grow, and the self-attention cache per cached position
    for case in section("cache") {
        let name = case["name"].as_str().unwrap();
        let text = serde_json::to_vec(&case["config"]).unwrap();
        let run = RunSettings {
            mode: Mode::Generate,
            batch: case["batch"].as_u64().unwrap(),
            seq: 1,
            new_tokens: case["new_tokens"].as_u64().unwrap(),
            ..Default::default()
        };
        let m = formats::memory(&text, name, Some(hf::Head::CausalLm), &run, Some(1)).unwrap();
        let decode = m.decode.expect("generation reports its reads");
        let layers = case["layers"].as_array().unwrap();
        // transformers lists the self-attention cache's layers, then the cross-attention's
        let (own, cross) = layers.split_at(layers.len() / 2);
        let bytes = |ls: &[Value]| {
            ls.iter()
                .map(|l| l["storage_bytes"].as_u64().unwrap())
                .sum::<u64>()
        };
        assert_eq!(decode.kv_fixed_bytes, bytes(cross), "{name}");
        let positions = own[0]["positions"].as_u64().unwrap();
        assert_eq!(
            decode.kv_bytes_per_position * positions,
            bytes(own),
            "{name}"
        );
    }
}
