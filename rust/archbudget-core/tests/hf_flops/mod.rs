//! The FLOPs check the transformers fixture tests share: one case of a fixture's `flops`
//! list (config, head, batch, seq, attn, with `torch.utils.flop_counter`'s figures from
//! the generator script) against `formats::memory`.
use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{AttnImpl, RunSettings};
use serde_json::Value;

/// How one case differs from the counter: parameters (and buffer elements, where the
/// generator recorded them) exact, forward and forward + backward FLOPs within 1%. Empty
/// when it agrees.
pub fn flop_counter_gaps(case: &Value) -> Vec<String> {
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
    let m = match formats::memory(&text, name, Some(head), &run, Some(seq)) {
        Ok(m) => m,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let mut gaps = Vec::new();
    if m.params != case["params"].as_u64().unwrap() {
        gaps.push(format!("{name} params: {} != {}", m.params, case["params"]));
    }
    if let Some(buffers) = case.get("buffers").and_then(Value::as_u64) {
        if m.buffers != buffers {
            gaps.push(format!("{name} buffers: {} != {buffers}", m.buffers));
        }
    }
    for (ours, key) in [
        (m.flops_fwd, "flops_fwd"),
        (m.flops_fwd_bwd, "flops_fwd_bwd"),
    ] {
        let want = case[key].as_u64().unwrap() as f64;
        let gap = 100.0 * (ours as f64 / want - 1.0);
        println!("{name} {key}: ours {ours} counter {want} ({gap:+.4}%)");
        if gap.abs() > 1.0 {
            gaps.push(format!("{name} {key}: {ours} vs {want} ({gap:+.3}%)"));
        }
    }
    gaps
}
