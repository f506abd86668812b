//! KerasHub ViT, CLIP and SigLIP built by the real keras-hub
//! (tests/data/make_keras_hub_multimodal.py): every model read from its `model.to_json()`,
//! totals and every row of `model.summary()` exact; ViT's memory is transformers'
//! `ViTModel(add_pooling_layer=False)` (tests/data/hf_clip.json, made by make_hf_clip.py).
mod common;

use archbudget_core::formats;
use archbudget_core::memory::RunSettings;
use serde_json::Value;

fn model<'a>(data: &'a Value, name: &str) -> &'a Value {
    data["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name}"))
}

#[test]
fn every_model_matches_keras() {
    let data = common::fixture("keras_hub_multimodal.json.gz");
    let models = data["models"].as_array().unwrap();
    common::assert_each_reads_as_keras(models);
}

#[test]
fn vit_memory_counts_transformers_vit_without_its_pooler() {
    let data = common::fixture("keras_hub_multimodal.json.gz");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/hf_clip.json");
    let hf: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let run = RunSettings::default();
    for twin in hf["vit_no_pooler"].as_array().unwrap() {
        let name = twin["name"].as_str().unwrap();
        let text = serde_json::to_vec(&model(&data, name)["model_json"]).unwrap();
        let report = formats::memory(&text, name, None, &run, None).unwrap();
        assert_eq!(report.params, twin["params"].as_u64().unwrap(), "{name}");
    }
}

#[test]
fn clip_and_siglip_twins_count_the_trainable_weights() {
    // keras-hub's non-trainable `position_ids` are buffers in transformers
    let data = common::fixture("keras_hub_multimodal.json.gz");
    let mut twins = 0;
    for m in data["models"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let model = formats::keras_hub::read(&m["model_json"], name)
            .unwrap()
            .unwrap();
        let Some(config) = model
            .hf_config
            .as_ref()
            .filter(|c| c["model_type"] != "vit")
        else {
            continue;
        };
        let (twin, _) = formats::hf::count(config, None, name).unwrap();
        assert_eq!(
            twin.total_params,
            m["trainable_params"].as_u64().unwrap(),
            "{name}"
        );
        twins += 1;
    }
    // the CLIP and SigLIP backbones, and the vision and text encoders alone
    assert_eq!(twins, 9);
}
