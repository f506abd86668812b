//! `memory` of KerasHub Flux (tests/data/keras_hub_flux.json.gz, built by keras-hub 0.32
//! with tests/data/make_keras_hub_flux.py): configs of the widths, head counts, depths,
//! MLP ratios, sizes and flags the generator varies, each read exact (totals and rows of
//! `model.summary()`), its step's parameters the backbone's; its FLOPs jax's matmul
//! FLOPs of keras-hub's own forward and gradient, and torch's counter's of diffusers'
//! `FluxTransformer2DModel` of the same sizes (tests/data/diffusers_flux.json.gz, made by
//! tests/data/make_diffusers_flux.py).
mod common;

use archbudget_core::formats;
use archbudget_core::memory::ops::AttnImpl;
use archbudget_core::memory::{Mode, RunSettings};
use serde_json::Value;

fn models() -> Vec<Value> {
    let data = common::fixture("keras_hub_flux.json.gz");
    data["models"].as_array().unwrap().clone()
}

fn text(m: &Value) -> Vec<u8> {
    serde_json::to_vec(&m["model_json"]).unwrap()
}

#[test]
fn every_flux_config_reads_exact() {
    let mut failures = Vec::new();
    for m in models() {
        let name = m["name"].as_str().unwrap();
        let outcome = common::compare_summary(&m, formats::summary(&text(&m), name, None), name);
        failures.extend(outcome.failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn at_jaxs_batch(m: &Value) -> RunSettings {
    RunSettings {
        batch: m["jax_flops"]["batch"].as_u64().unwrap(),
        ..RunSettings::default()
    }
}

#[test]
fn flops_equal_jaxs_matmul_flops_of_the_forward_and_the_gradient() {
    // XLA's cost_analysis counts each elementwise op too (norms, modulation, rotary,
    // softmax, gelu); archbudget counts matmuls, as the StableHLO of keras-hub's forward
    // and of its value-and-gradient give them. jax's gradient of the attention is 4
    // products, as eager attention's backward (SDPA's fused kernels recompute the scores:
    // the next test)
    let models = models();
    for m in &models {
        let name = m["name"].as_str().unwrap();
        let jax = &m["jax_flops"];
        let run = RunSettings {
            attn: AttnImpl::Eager,
            ..at_jaxs_batch(m)
        };
        let train = formats::memory(&text(m), name, None, &run, None).unwrap();
        assert_eq!(
            (train.flops_fwd, train.flops_fwd_bwd),
            (
                jax["matmul_flops_fwd"].as_u64().unwrap(),
                jax["matmul_flops_fwd_bwd"].as_u64().unwrap()
            ),
            "{name}"
        );
        assert!(
            jax["xla_flops_fwd"].as_u64().unwrap() > train.flops_fwd,
            "{name}"
        );
    }
    assert_eq!(models.len(), 5);
}

#[test]
fn sdpa_flops_equal_torchs_count_of_diffusers_flux() {
    let torch = common::fixture("diffusers_flux.json.gz");
    let records = torch["models"].as_array().unwrap();
    let models = models();
    for r in records {
        let name = r["name"].as_str().unwrap();
        let m = models.iter().find(|m| m["name"] == name).unwrap();
        assert_eq!(r["batch"], m["jax_flops"]["batch"], "{name}");
        let train = formats::memory(&text(m), name, None, &at_jaxs_batch(m), None).unwrap();
        assert_eq!(
            (train.flops_fwd, train.flops_fwd_bwd),
            (
                r["flops_fwd"].as_u64().unwrap(),
                r["flops_fwd_bwd"].as_u64().unwrap()
            ),
            "{name}"
        );
    }
    assert_eq!(records.len(), 2);
}

#[test]
fn the_step_trains_the_whole_backbone() {
    for m in models() {
        let name = m["name"].as_str().unwrap();
        let run = at_jaxs_batch(&m);
        let train = formats::memory(&text(&m), name, None, &run, None).unwrap();
        assert_eq!(train.params, m["total_params"].as_u64().unwrap(), "{name}");
        assert_eq!(train.trainable_params, train.params, "{name}");
        let infer = RunSettings {
            mode: Mode::Infer,
            ..run
        };
        let infer = formats::memory(&text(&m), name, None, &infer, None).unwrap();
        assert_eq!(
            (infer.flops_fwd, infer.params),
            (train.flops_fwd, train.params),
            "{name}"
        );
        assert!(infer.peak_bytes < train.peak_bytes, "{name}");
    }
}

#[test]
fn seq_sets_the_text_tokens() {
    let m = &models()[0];
    let run = RunSettings::default();
    let given = m["jax_flops"]["text_tokens"].as_u64();
    let default = formats::memory(&text(m), "flux", None, &run, None).unwrap();
    assert_eq!(
        default,
        formats::memory(&text(m), "flux", None, &run, given).unwrap()
    );
    let longer = formats::memory(&text(m), "flux", None, &run, given.map(|t| t + 8)).unwrap();
    assert!(longer.flops_fwd > default.flops_fwd);
}
