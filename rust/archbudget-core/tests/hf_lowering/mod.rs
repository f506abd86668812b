#![allow(dead_code)] // shared by several test binaries, each using a part
//! The lowering checks the transformers fixture tests share: `memory` of a fixture config
//! against the parameters `summary` counts, and the cache `generate` leaves against the
//! bytes of transformers' own cache tensors (both from the tests/data generators).
use archbudget_core::formats::{self, hf};
use archbudget_core::memory::{self, AttnImpl, Mode, Precision, RunSettings};
use serde_json::Value;

/// How `memory` of one fixture row under `run` differs from what it must be: the
/// parameters `summary` counts, a peak above the weights, and for quantized weights a
/// training step refused until LoRA adapters are declared. Empty when it agrees.
pub fn memory_gaps(
    row: &Value,
    head: Option<hf::Head>,
    run: &RunSettings,
    seq: u64,
) -> Vec<String> {
    gaps_at(row, head, run, Some(seq))
}

/// [`memory_gaps`] with the sequence length given or not (a vision model's image sets it).
fn gaps_at(
    row: &Value,
    head: Option<hf::Head>,
    run: &RunSettings,
    seq: Option<u64>,
) -> Vec<String> {
    let name = row["name"].as_str().unwrap();
    let text = serde_json::to_vec(&row["config"]).unwrap();
    let at = format!(
        "{name} {head:?} {:?} {:?} {:?}",
        run.mode, run.precision, run.attn
    );
    let counted = formats::summary(&text, name, head).unwrap();
    let result = formats::memory(&text, name, head, run, seq);
    if run.mode == Mode::Train && row["config"].get("quantization_config").is_some() {
        return match result {
            Err(e) if e.to_string().contains("--lora-rank") => Vec::new(),
            Err(e) => vec![format!("{at}: refused without naming --lora-rank: {e}")],
            Ok(_) => vec![format!("{at}: trains frozen quantized weights")],
        };
    }
    let m = match result {
        Ok(m) => m,
        Err(e) => return vec![format!("{at}: {e}")],
    };
    let mut gaps = Vec::new();
    if m.params != counted.total_params {
        gaps.push(format!(
            "{at}: memory params {} != summary {}",
            m.params, counted.total_params
        ));
    }
    if m.peak_bytes <= m.breakdown.weights {
        gaps.push(format!("{at}: peak {} not above the weights", m.peak_bytes));
    }
    gaps
}

/// Each case of a fixture's cache list (config, batch, prompt, new_tokens and the bytes
/// of transformers' cache tensors under `want_key`) against the cache `generate` leaves.
pub fn generate_cache_gaps(cases: &[Value], want_key: &str) -> Vec<String> {
    let mut gaps = Vec::new();
    for case in cases {
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
        let drop = memory::hf::Dropouts::from_config(config);
        let g = memory::hf::graph(&arch, &drop, &run).unwrap();
        let ours = memory::generate_cache_bytes(&g, &run).unwrap();
        let want = case[want_key].as_u64().unwrap();
        println!("{name}: ours {ours} transformers {want}");
        if ours != want {
            gaps.push(format!("{name}: {ours} != {want}"));
        }
    }
    gaps
}

/// Every combination of the modes, precisions and attention implementations at `batch`
/// (4 new tokens where the mode generates).
pub fn run_grid(
    modes: &[Mode],
    precisions: &[Precision],
    attns: &[AttnImpl],
    batch: u64,
) -> Vec<RunSettings> {
    let mut runs = Vec::new();
    for &mode in modes {
        for &precision in precisions {
            for &attn in attns {
                runs.push(RunSettings {
                    mode,
                    batch,
                    new_tokens: if mode == Mode::Generate { 4 } else { 0 },
                    precision,
                    attn,
                    ..Default::default()
                });
            }
        }
    }
    runs
}

/// [`memory_gaps`] of every row, as the default head and the bare model, under each run.
pub fn every_run_gaps(rows: &[Value], runs: &[RunSettings], seq: u64) -> Vec<String> {
    let mut gaps = Vec::new();
    for row in rows {
        for head in [None, Some(hf::Head::Base)] {
            for run in runs {
                gaps.extend(memory_gaps(row, head, run, seq));
            }
        }
    }
    gaps
}

/// [`memory_gaps`] of every row of a vision fixture (no sequence length: the image sets
/// it) at batch 2, in training and inference, at every precision and attention.
pub fn vision_gaps(rows: &[Value]) -> Vec<String> {
    let runs = run_grid(
        &[Mode::Train, Mode::Infer],
        &[Precision::Fp32, Precision::AmpBf16, Precision::Bf16],
        &[AttnImpl::Sdpa, AttnImpl::Eager],
        2,
    );
    let mut gaps = Vec::new();
    for row in rows {
        for run in &runs {
            gaps.extend(gaps_at(row, None, run, None));
        }
    }
    gaps
}
