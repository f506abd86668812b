//! The declarative decoder types against transformers 5.24 (`tests/data/hf_types.json`,
//! made by `tests/data/make_hf_types.py`): `memory` lowers every config in train, infer
//! and generate modes with the parameters `summary` counts; tiny configs' FLOPs equal
//! `torch.utils.flop_counter`'s; the cache `generate` leaves holds the bytes
//! transformers' own cache tensors hold, per layer kind (full, sliding, t5's self- and
//! cross-attention). (Counts: `hf_known.rs`.)
mod hf_flops;
mod hf_lowering;

use archbudget_core::formats::hf;
use archbudget_core::memory::{AttnImpl, Mode, Precision};
use serde_json::Value;

fn data() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/hf_types.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn memory_lowers_every_config_with_the_summary_params() {
    let runs = hf_lowering::run_grid(
        &[Mode::Train, Mode::Infer, Mode::Generate],
        &[Precision::Fp32],
        &[AttnImpl::Sdpa],
        2,
    );
    let gaps = hf_lowering::every_run_gaps(data()["rows"].as_array().unwrap(), &runs, 16);
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
fn bad_layer_descriptions_name_the_key() {
    let message = |config: Value| {
        let e = hf::summarize(&config, None, "cfg.json").expect_err("must fail");
        assert!(
            matches!(e, archbudget_core::Error::InvalidValue { .. }),
            "{e:?}"
        );
        e.to_string()
    };
    let m = message(
        serde_json::json!({"model_type": "gemma3_text", "num_hidden_layers": 2,
        "layer_types": ["full_attention", "chunked_attention"]}),
    );
    assert!(
        m.starts_with("cfg.json: ") && m.contains("chunked_attention"),
        "{m}"
    );
    let m = message(
        serde_json::json!({"model_type": "olmo3", "num_hidden_layers": 3,
        "layer_types": ["full_attention"]}),
    );
    assert!(
        m.contains("key 'layer_types' has 1 entries but the model has 3 layers"),
        "{m}"
    );
    let m = message(
        serde_json::json!({"model_type": "starcoder2", "num_hidden_layers": 1,
        "layer_types": ["sliding_attention"]}),
    );
    assert!(m.contains("sliding_window"), "{m}");
    let m = message(serde_json::json!({"model_type": "phi", "partial_rotary_factor": 1.5}));
    assert!(m.contains("partial_rotary_factor"), "{m}");
    let m = message(
        serde_json::json!({"model_type": "smollm3", "num_hidden_layers": 2,
        "no_rope_layers": [1]}),
    );
    assert!(m.contains("no_rope_layers"), "{m}");
    let m = message(serde_json::json!({"model_type": "gptj", "n_embd": 100, "n_head": 3}));
    assert!(m.contains("n_embd") && m.contains("n_head"), "{m}");
    let m = message(
        serde_json::json!({"model_type": "phi", "hidden_size": 2, "num_attention_heads": 4,
        "head_dim": 8, "qk_layernorm": true}),
    );
    assert!(m.contains("q/k norms"), "{m}");
    let m = message(serde_json::json!({"model_type": "gpt_bigcode", "add_cross_attention": true}));
    assert!(m.contains("add_cross_attention"), "{m}");
}
