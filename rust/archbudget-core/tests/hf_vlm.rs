//! The multimodal wrappers (gemma3, llava, mistral3, qwen2_5_vl, llama4) against
//! transformers 5.24 (`tests/data/hf_vlm.json`, made by `tests/data/make_hf_vlm.py`):
//! every count exact for both heads; on a text-only prompt `memory` holds the vision
//! tower's weights and buffers and lowers nothing else of it (gradients, optimizer state
//! and activations are the text model's alone); tiny configs' FLOPs equal
//! `torch.utils.flop_counter`'s.
mod hf_flops;

use archbudget_core::formats::hf;
use archbudget_core::memory::{self, Mode, RunSettings};
use serde_json::Value;

fn data() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/hf_vlm.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn counts_equal_transformers() {
    let data = data();
    for row in data["rows"].as_array().unwrap() {
        let name = row["name"].as_str().unwrap();
        for (head, key, class) in [
            (hf::Head::Base, "base_params", "base_class"),
            (hf::Head::CausalLm, "causal_lm_params", "causal_lm_class"),
        ] {
            let s = hf::summarize(&row["config"], Some(head), name).unwrap();
            assert_eq!(
                s.total_params,
                row[key].as_u64().unwrap(),
                "{name} {head:?}"
            );
            assert_eq!(s.name, row[class].as_str().unwrap(), "{name} {head:?}");
            let (counted, _) = hf::count(&row["config"], Some(head), name).unwrap();
            assert_eq!(counted.total_params, s.total_params, "{name} {head:?}");
        }
    }
}

#[test]
fn a_text_prompt_holds_the_tower_and_lowers_only_the_text_model() {
    let data = data();
    for row in data["rows"].as_array().unwrap() {
        let name = row["name"].as_str().unwrap();
        let config = &row["config"];
        let wrapper = hf::arch(config, Some(hf::Head::CausalLm), name).unwrap();
        let mut text = wrapper.clone();
        text.details.vision_language = None;
        let drop = memory::hf::Dropouts::from_config(config);
        for mode in [Mode::Train, Mode::Infer, Mode::Generate] {
            let run = RunSettings {
                mode,
                batch: 2,
                seq: 16,
                new_tokens: 4,
                ..Default::default()
            };
            let estimate = |a| memory::estimate(&memory::hf::graph(a, &drop, &run).unwrap(), &run);
            let (w, t) = (estimate(&wrapper).unwrap(), estimate(&text).unwrap());
            assert_eq!(
                w.params,
                row["causal_lm_params"].as_u64().unwrap(),
                "{name}"
            );
            let tower = w.params - t.params;
            assert!(tower > 0, "{name}");
            assert_eq!(
                w.buffers - t.buffers,
                row["vision_buffers"].as_u64().unwrap(),
                "{name}"
            );
            let (wb, tb) = (w.breakdown, t.breakdown);
            assert_eq!(
                (wb.gradients, wb.optimizer, wb.activations, w.flops_fwd_bwd),
                (tb.gradients, tb.optimizer, tb.activations, t.flops_fwd_bwd),
                "{name} {mode:?}"
            );
            // fp32 weights: 4 bytes per tower parameter (allocator blocks round up)
            assert!(wb.weights - tb.weights >= 4 * tower, "{name} {mode:?}");
            assert!(w.peak_bytes > t.peak_bytes, "{name} {mode:?}");
        }
    }
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
