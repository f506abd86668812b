//! The training step of KerasHub Stable Diffusion 3's denoiser against torch: forward and
//! forward + backward FLOPs of the small SD3 backbones equal `torch.utils.flop_counter`'s
//! of diffusers' `SD3Transformer2DModel` of the same sizes (tests/data/diffusers_sd3.json.gz,
//! made by tests/data/make_diffusers_sd3.py), which checks that the step's backward reaches
//! every weight the loss depends on.
mod common;

use archbudget_core::formats;
use archbudget_core::memory::RunSettings;

#[test]
fn train_flops_equal_torchs_count_of_diffusers_sd3() {
    let torch = common::fixture("diffusers_sd3.json.gz");
    let records = torch["models"].as_array().unwrap();
    let data = common::fixture("keras_hub_sd3.json.gz");
    let models = data["models"].as_array().unwrap();
    for r in records {
        let name = r["name"].as_str().unwrap();
        let m = models.iter().find(|m| m["name"] == name).unwrap();
        let run = RunSettings {
            batch: r["batch"].as_u64().unwrap(),
            ..RunSettings::default()
        };
        let text = serde_json::to_vec(&m["model_json"]).unwrap();
        let train = formats::memory(&text, name, None, &run, r["tokens"].as_u64()).unwrap();
        assert_eq!(
            (train.flops_fwd, train.flops_fwd_bwd),
            (
                r["flops_fwd"].as_u64().unwrap(),
                r["flops_fwd_bwd"].as_u64().unwrap()
            ),
            "{name}"
        );
    }
    assert_eq!(records.len(), 3);
}
