//! Reading the oracle's measured cases (tests/data/gpu_memory_dev.json): a case's run
//! settings and model parameters, shared by memory_oracle.rs and memory_leave_one_out.rs.
use archbudget_core::memory::families::{Cnn, LstmNet};
use archbudget_core::memory::{AttnImpl, Mode, Optimizer, Precision, RunSettings};
use serde_json::Value;

pub const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/gpu_memory_dev.json"
);

/// Every measured case (`{"case": ..., "measured": ...}`) that has a peak.
pub fn measured_cases() -> Vec<Value> {
    let text = std::fs::read_to_string(DATA).expect("tests/data/gpu_memory_dev.json");
    let data: Value = serde_json::from_str(&text).unwrap();
    data["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["measured"].get("peak_bytes").is_some())
        .cloned()
        .collect()
}

pub fn u(c: &Value, k: &str) -> u64 {
    c[k].as_u64()
        .unwrap_or_else(|| panic!("case key {k}: {:?}", c[k]))
}

pub fn run_of(c: &Value) -> RunSettings {
    RunSettings {
        mode: Mode::parse(c["mode"].as_str().unwrap()).unwrap(),
        batch: u(c, "batch"),
        seq: c["seq"].as_u64().unwrap_or(1),
        precision: Precision::parse(c["precision"].as_str().unwrap()).unwrap(),
        optimizer: Optimizer::parse(c["optimizer"].as_str().unwrap()).unwrap(),
        attn: AttnImpl::parse(c["attn"].as_str().unwrap_or("sdpa")).unwrap(),
        grad_ckpt: c["grad_ckpt"].as_bool().unwrap_or(false),
        ..RunSettings::default()
    }
}

pub fn lstm_of(c: &Value) -> LstmNet {
    LstmNet {
        vocab: u(c, "vocab"),
        embed: u(c, "embed"),
        hidden: u(c, "hidden"),
        layers: u(c, "layers"),
        seq: u(c, "seq"),
        classes: u(c, "classes"),
    }
}

pub fn cnn_of(c: &Value) -> Cnn {
    Cnn {
        image: u(c, "image"),
        channels: u(c, "channels"),
        stages: u(c, "stages"),
        convs: u(c, "convs"),
        filters: u(c, "filters"),
        batchnorm: c["batchnorm"].as_bool().unwrap(),
        classes: u(c, "classes"),
    }
}
