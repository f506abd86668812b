//! The state-space and hybrid types (mamba, mamba2, jamba, falcon_h1) against transformers 5.24
//! (`tests/data/hf_ssm.json`, made by `tests/data/make_hf_ssm.py`): `memory` lowers every
//! config in train, infer and generate modes with the parameters `summary` counts; tiny
//! configs' FLOPs are within 1% of `torch.utils.flop_counter`'s; the cache `generate`
//! leaves holds the bytes of transformers' own conv and recurrent states. (Counts and
//! rows per module: `hf_known.rs`.)
mod hf_flops;
mod hf_lowering;

use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{self, AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

fn data() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/hf_ssm.json");
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
    let gaps = hf_lowering::generate_cache_gaps(data()["cache"].as_array().unwrap(), "cache_bytes");
    assert!(gaps.is_empty(), "{gaps:#?}");
}

/// The states do not grow with the tokens generated: a long generation holds the
/// cache of a short one, and bf16 halves only the conv states.
#[test]
fn ssm_cache_is_fixed_in_size() {
    let config = serde_json::json!({"model_type": "mamba", "hidden_size": 256,
        "num_hidden_layers": 4, "vocab_size": 1000});
    let arch = hf::arch(&config, None, "cfg").unwrap();
    let bytes = |new_tokens: u64, precision: Precision| {
        let run = RunSettings {
            mode: Mode::Generate,
            batch: 3,
            seq: 64,
            new_tokens,
            precision,
            ..Default::default()
        };
        let g = memory::hf::graph(&arch, &memory::hf::Dropouts::default(), &run).unwrap();
        memory::generate_cache_bytes(&g, &run).unwrap()
    };
    let fp32 = bytes(8, Precision::Fp32);
    assert_eq!(fp32, bytes(4096, Precision::Fp32));
    // per layer: conv 3 × 512 × 4, recurrent 3 × 512 × 16 (fp32 in every precision)
    assert_eq!(fp32, 4 * (3 * 512 * 4 * 4 + 3 * 512 * 16 * 4));
    assert_eq!(
        bytes(8, Precision::Bf16),
        4 * (3 * 512 * 4 * 2 + 3 * 512 * 16 * 4)
    );
}

#[test]
fn bad_ssm_configs_name_the_key() {
    let message = |config: Value| {
        let e = hf::summarize(&config, None, "cfg.json").expect_err("must fail");
        e.to_string()
    };
    let m = message(
        serde_json::json!({"model_type": "mamba2", "hidden_size": 64,
        "num_heads": 3, "head_dim": 16}),
    );
    assert!(
        m.starts_with("cfg.json: ") && m.contains("num_heads × head_dim"),
        "{m}"
    );
    let m = message(
        serde_json::json!({"model_type": "mamba2", "hidden_size": 64,
        "num_heads": 8, "head_dim": 16, "n_groups": 3}),
    );
    assert!(m.contains("n_groups"), "{m}");
    let m = message(serde_json::json!({"model_type": "mamba", "time_step_rank": "wide"}));
    assert!(m.contains("time_step_rank"), "{m}");
    let m = message(serde_json::json!({"model_type": "mamba", "state_size": 0}));
    assert!(m.contains("state_size"), "{m}");
}

/// The sweep's counting (no rows) gives the totals and active parameters of the rows.
#[test]
fn counting_equals_the_rows() {
    for row in data()["rows"].as_array().unwrap() {
        let name = row["name"].as_str().unwrap();
        for head in [None, Some(hf::Head::Base)] {
            let (counted, _) = hf::count(&row["config"], head, name).unwrap();
            let s = hf::summarize(&row["config"], head, name).unwrap();
            assert_eq!(
                (counted.total_params, counted.active_params),
                (s.total_params, s.active_params),
                "{name} {head:?}"
            );
        }
    }
}

/// LoRA: peft refuses out_proj of mamba, mamba2 and falcon_h1 (so its all-linear fails
/// there); on jamba all-linear wraps every linear, dt_proj included (peft 0.21 on the
/// tiny config below: 27,520 trainable parameters).
#[test]
fn lora_as_peft_applies_it() {
    let run = |config: Value| {
        let text = serde_json::to_vec(&config).unwrap();
        let run = RunSettings {
            lora: Some(memory::lora::Lora::new(8, Some("all-linear"), 0.0).unwrap()),
            batch: 1,
            ..Default::default()
        };
        formats::memory(&text, "cfg.json", None, &run, Some(16))
    };
    let e = run(
        serde_json::json!({"model_type": "mamba2", "hidden_size": 64, "num_heads": 8,
        "head_dim": 16, "n_groups": 1, "num_hidden_layers": 1}),
    )
    .expect_err("peft refuses");
    assert!(e.to_string().contains("out_proj"), "{e}");
    let jamba = serde_json::json!({"model_type": "jamba", "vocab_size": 300, "hidden_size": 64,
        "intermediate_size": 96, "num_hidden_layers": 4, "num_attention_heads": 4,
        "num_key_value_heads": 2, "attn_layer_period": 2, "attn_layer_offset": 1,
        "expert_layer_period": 2, "expert_layer_offset": 1, "num_experts": 4,
        "num_experts_per_tok": 2, "mamba_d_state": 8});
    assert_eq!(run(jamba).unwrap().trainable_params, 27520);
}
