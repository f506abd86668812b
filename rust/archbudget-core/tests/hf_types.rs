//! The declarative decoder types against transformers 5.24 (`tests/data/hf_types.json`,
//! made by `tests/data/make_hf_types.py`): `memory` lowers every config in train, infer
//! and generate modes with the parameters `summary` counts; tiny configs' FLOPs equal
//! `torch.utils.flop_counter`'s; the cache `generate` leaves holds the bytes
//! transformers' own cache tensors hold, per layer kind (full, sliding, t5's self- and
//! cross-attention). (Counts: `hf_known.rs`.)
use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{self, AttnImpl, Mode, RunSettings};
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
    let data = data();
    let rows = data["rows"].as_array().unwrap();
    for row in rows {
        let name = row["name"].as_str().unwrap();
        let text = serde_json::to_vec(&row["config"]).unwrap();
        for head in [None, Some(hf::Head::Base)] {
            let counted = formats::summary(&text, name, head).unwrap();
            for mode in [Mode::Train, Mode::Infer, Mode::Generate] {
                let run = RunSettings {
                    mode,
                    batch: 2,
                    new_tokens: 4,
                    ..Default::default()
                };
                let m = formats::memory(&text, name, head, &run, Some(16))
                    .unwrap_or_else(|e| panic!("{name} {head:?} {mode:?}: {e}"));
                assert_eq!(m.params, counted.total_params, "{name} {head:?} {mode:?}");
                assert!(m.peak_bytes > m.breakdown.weights, "{name} {mode:?}");
            }
        }
    }
}

#[test]
fn flops_match_the_flop_counter() {
    let data = data();
    for case in data["flops"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let text = serde_json::to_vec(&case["config"]).unwrap();
        let head = match case["head"].as_str().unwrap() {
            "base" => hf::Head::Base,
            _ => hf::Head::CausalLm,
        };
        let seq = case["seq"].as_u64().unwrap();
        let run = RunSettings {
            batch: case["batch"].as_u64().unwrap(),
            seq,
            attn: AttnImpl::parse(case["attn"].as_str().unwrap()).unwrap(),
            ..Default::default()
        };
        let m = formats::memory(&text, name, Some(head), &run, Some(seq)).unwrap();
        assert_eq!(m.params, case["params"].as_u64().unwrap(), "{name}");
        for (ours, key) in [
            (m.flops_fwd, "flops_fwd"),
            (m.flops_fwd_bwd, "flops_fwd_bwd"),
        ] {
            let want = case[key].as_u64().unwrap() as f64;
            let rel = ours as f64 / want - 1.0;
            println!(
                "{name} {key}: ours {ours} counter {want} ({:+.4}%)",
                100.0 * rel
            );
            assert!(
                rel.abs() < 0.01,
                "{name} {key}: ours {ours}, flop_counter {want}"
            );
        }
    }
}

#[test]
fn generate_cache_holds_what_transformers_cache_holds() {
    let data = data();
    for case in data["cache"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let config = &case["config"];
        let arch = hf::arch(config, Some(hf::Head::CausalLm), name).unwrap();
        let run = RunSettings {
            mode: Mode::Generate,
            batch: case["batch"].as_u64().unwrap(),
            seq: case["prompt"].as_u64().unwrap(),
            new_tokens: case["new_tokens"].as_u64().unwrap(),
            ..Default::default()
        };
        let g = memory::hf::graph(&arch, &memory::hf::Dropouts::from_config(config), &run).unwrap();
        let ours = memory::generate_cache_bytes(&g, &run).unwrap();
        assert_eq!(ours, case["cache_bytes"].as_u64().unwrap(), "{name}");
    }
}
