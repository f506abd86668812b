//! bart against transformers 5.24 (`tests/data/hf_seq2seq.json`, made by
//! `tests/data/make_hf_seq2seq.py`): `memory` lowers every config (both heads; train,
//! infer and generate) with the parameters `summary` counts, through the encoder-decoder
//! lowering t5 uses; tiny configs' FLOPs equal `torch.utils.flop_counter`'s; the cache
//! `generate` leaves holds the bytes transformers' own cache tensors hold. (Counts and
//! rows: `hf_known.rs`.)
mod hf_flops;
mod hf_lowering;

use archbudget_core::formats::hf;
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::{json, Value};

fn data() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/hf_seq2seq.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn memory_lowers_every_config_with_the_summary_params() {
    let mut gaps = Vec::new();
    for row in data()["rows"].as_array().unwrap() {
        for head in [hf::Head::Base, hf::Head::CausalLm] {
            for mode in [Mode::Train, Mode::Infer, Mode::Generate] {
                if mode == Mode::Generate && head == hf::Head::Base {
                    continue;
                }
                let run = RunSettings {
                    mode,
                    batch: 2,
                    new_tokens: 4,
                    ..Default::default()
                };
                gaps.extend(hf_lowering::memory_gaps(row, Some(head), &run, 16));
            }
        }
    }
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn flops_match_the_flop_counter() {
    let gaps: Vec<String> = data()["flops"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(hf_flops::flop_counter_gaps)
        .collect();
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn generate_cache_holds_what_transformers_cache_holds() {
    let data = data();
    let gaps = hf_lowering::generate_cache_gaps(data["cache"].as_array().unwrap(), "cache_bytes");
    assert!(gaps.is_empty(), "{gaps:#?}");
}

#[test]
fn bart_with_different_encoder_and_decoder_widths_is_refused_by_key() {
    let e = hf::summarize(
        &json!({"model_type": "bart", "decoder_ffn_dim": 1024}),
        None,
        "cfg.json",
    )
    .expect_err("must fail")
    .to_string();
    assert!(
        e.starts_with("cfg.json: ") && e.contains("'decoder_ffn_dim'"),
        "{e}"
    );
}
