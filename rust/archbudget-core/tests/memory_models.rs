//! `memory` of the oracle's model descriptions (Keras JSON for mlp/cnn/lstm, config.json
//! for transformers) equals the estimate of the architecture gpu_memory.py builds: the
//! Keras lowering produces the same PyTorch graph, so one set of rules serves both.
use archbudget_core::formats::{self, hf};
use archbudget_core::memory::families::{Cnn, LstmNet, Mlp};
use archbudget_core::memory::{AttnImpl, Mode, Optimizer, Precision, RunSettings};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/gpu_memory_dev.json");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    data["cases"].as_array().unwrap().clone()
}

fn run_of(c: &Value) -> RunSettings {
    let s = |k: &str, d: &str| c[k].as_str().unwrap_or(d).to_string();
    RunSettings {
        mode: Mode::parse(&s("mode", "train")).unwrap(),
        batch: c["batch"].as_u64().unwrap(),
        seq: c["seq"].as_u64().unwrap_or(1),
        precision: Precision::parse(&s("precision", "fp32")).unwrap(),
        optimizer: Optimizer::parse(&s("optimizer", "adamw")).unwrap(),
        attn: AttnImpl::parse(&s("attn", "sdpa")).unwrap(),
        grad_ckpt: c["grad_ckpt"].as_bool().unwrap_or(false),
        ..Default::default()
    }
}

#[test]
fn descriptions_estimate_as_their_architectures() {
    for case in cases() {
        let c = &case["case"];
        let run = run_of(c);
        let u = |k: &str| c[k].as_u64().unwrap();
        let expected = match c["family"].as_str().unwrap() {
            "mlp" => Mlp { input_dim: u("input_dim"), depth: u("depth"), width: u("width"), classes: u("classes") }.estimate(&run),
            "cnn" => Cnn {
                image: u("image"),
                channels: u("channels"),
                stages: u("stages"),
                convs: u("convs"),
                filters: u("filters"),
                batchnorm: c["batchnorm"].as_bool().unwrap(),
                classes: u("classes"),
            }
            .estimate(&run),
            "lstm" => LstmNet { vocab: u("vocab"), embed: u("embed"), hidden: u("hidden"), layers: u("layers"), seq: u("seq"), classes: u("classes") }.estimate(&run),
            _ => archbudget_core::memory::hf::estimate_hf_case(&c["hf"], c["head"].as_str().unwrap_or("causal_lm"), &run),
        }
        .unwrap();
        let model = &case["model"];
        let text = match model["format"].as_str().unwrap() {
            "keras_json" => serde_json::to_vec(&model["model_json"]).unwrap(),
            _ => serde_json::to_vec(&model["config"]).unwrap(),
        };
        let head = match c["head"].as_str() {
            Some("base") => Some(hf::Head::Base),
            Some(_) => Some(hf::Head::CausalLm),
            None => None,
        };
        let seq = c["seq"].as_u64().filter(|_| c["family"] == "hf");
        let got = formats::memory(&text, case["id"].as_str().unwrap(), head, &run, seq).unwrap();
        assert_eq!(got, expected, "{}", case["id"]);
        assert_eq!(got.params, case["measured"]["params"].as_u64().unwrap(), "{}", case["id"]);
    }
}
