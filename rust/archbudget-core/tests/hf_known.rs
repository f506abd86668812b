//! transformers config.json counts against the real library: `hf_known_dev.json` (the
//! oracle, transformers 5.17.0) and `hf_extra.json` (every supported type at several
//! sizes, with keys left out, made by `tests/data/make_hf_extra.py`) and `hf_types.json`
//! (the declarative decoder types at default, real-checkpoint and edge configs,
//! transformers 5.24, made by `tests/data/make_hf_types.py`; `hf_ssm.json` likewise for
//! mamba, mamba2, jamba and falcon_h1, by `make_hf_ssm.py`; `hf_seq2seq.json` for bart,
//! by `make_hf_seq2seq.py`), totals and, for small
//! models, each summary row against the module of the same path.
use archbudget_core::arch::{HeadKind, Position};
use archbudget_core::formats::hf::{arch, summarize, supported_model_types, Head};
use archbudget_core::{Error, Summary};
use serde_json::{json, Value};

mod hf_rows;

fn data(name: &str) -> Value {
    let path = format!("{}/../../tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

fn rows(name: &str) -> Vec<Value> {
    data(name)["rows"].as_array().expect("rows").clone()
}

fn count(config: &Value, head: Option<Head>, what: &str) -> Summary {
    summarize(config, head, "config.json").unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn check(row: &Value, config: &Value, failures: &mut Vec<String>) {
    let name = row["name"].as_str().unwrap();
    let mut expect = |head: Option<Head>, params: &Value, class: &Value| {
        let Some(params) = params.as_u64() else {
            return;
        };
        let s = count(config, head, name);
        if s.total_params != params || s.trainable_params != params || s.non_trainable_params != 0 {
            failures.push(format!("{name} {head:?}: {} != {params}", s.total_params));
        }
        if s.name != class.as_str().unwrap() {
            failures.push(format!("{name} {head:?}: class {} != {class}", s.name));
        }
    };
    expect(Some(Head::Base), &row["base_params"], &row["base_class"]);
    // hf_known_dev.json names the AutoModelForCausalLM count; hf_extra.json also the
    // LM-head class counted where the type has no causal LM.
    let lm = if row["lm_params"].is_null() {
        "causal_lm"
    } else {
        "lm"
    };
    expect(
        Some(Head::CausalLm),
        &row[format!("{lm}_params")],
        &row[format!("{lm}_class")],
    );
    // SPEC.md: without --head, causal_lm where the type has a causal-LM class, else base.
    let default = if row["causal_lm_params"].is_null() {
        "base"
    } else {
        "causal_lm"
    };
    expect(
        None,
        &row[format!("{default}_params")],
        &row[format!("{default}_class")],
    );
}

#[test]
fn dev_rows_exact() {
    let mut failures = Vec::new();
    let rows = rows("hf_known_dev.json");
    assert_eq!(rows.len(), 8);
    for row in &rows {
        check(row, &row["config"], &mut failures);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Every fixture row of the transformers files (hf_vlm.json: the multimodal wrappers).
const FIXTURES: [&str; 5] = [
    "hf_extra.json",
    "hf_types.json",
    "hf_ssm.json",
    "hf_vlm.json",
    "hf_seq2seq.json",
];

#[test]
fn extra_rows_exact() {
    let mut failures = Vec::new();
    let rows: Vec<Value> = FIXTURES.iter().flat_map(|f| rows(f)).collect();
    for row in &rows {
        check(row, &row["config"], &mut failures);
    }
    // the types with fixtures and tests of their own: MoE/MLA (hf_moe), qwen3_next
    // (hf_next), the encoders beyond bert (hf_encoders), clip and siglip (hf_clip), bloom
    // (hf_text_more), whisper (hf_whisper: trainable totals of its own), moonshine
    // (hf_moonshine), deit
    // (hf_vision_more), esm (hf_esm), swin (hf_swin), segformer (hf_segformer), the vision
    // towers alone, dinov2, dinov3_vit and paligemma (hf_vision_model, hf_dinov2,
    // hf_dinov3_vit, hf_paligemma), clip
    // and siglip text models (hf_clip_text), t5gemma (hf_t5gemma), gemma3n_text (hf_gemma3n),
    // gemma4_text (hf_gemma4), gemma4_vision (hf_gemma4_vision), the reach types (hf_reach,
    // hf_reach2), sam_vision_model (hf_sam), sam (hf_sam_model), depth_anything
    // (hf_depth_anything), blip-2 (hf_blip2)
    let own_rows: Vec<Value> = [
        "hf_moe.json",
        "hf_next.json",
        "hf_encoders.json",
        "hf_clip.json",
        "hf_text_more.json",
        "hf_whisper.json",
        "hf_moonshine.json",
        "hf_vision_more.json",
        "hf_esm.json",
        "hf_swin.json",
        "hf_segformer.json",
        "hf_vision_model.json",
        "hf_dinov2.json",
        "hf_dinov3_vit.json",
        "hf_paligemma.json",
        "hf_clip_text.json",
        "hf_t5gemma.json",
        "hf_gemma3n.json",
        "hf_gemma4.json",
        "hf_gemma4_vision.json",
        "hf_reach.json",
        "hf_reach2.json",
        "hf_sam.json",
        "hf_depth_anything.json",
        "hf_blip2.json",
    ]
    .iter()
    .flat_map(|f| data(f)["rows"].as_array().unwrap().clone())
    // sam (hf_sam_model)
    .chain(data("hf_sam.json")["sam_rows"].as_array().unwrap().clone())
    .collect();
    let types: std::collections::BTreeSet<&str> = rows
        .iter()
        .chain(&own_rows)
        .map(|r| r["model_type"].as_str().unwrap())
        .collect();
    let supported: std::collections::BTreeSet<&str> =
        supported_model_types().iter().copied().collect();
    assert_eq!(types, supported, "every supported type has fixtures");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Each row equals its module's count less the rows nested inside it; rows holding a
/// tied tensor are skipped (the module counts the shared tensor, the row does not).
#[test]
fn extra_rows_match_modules() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in FIXTURES.iter().flat_map(|f| rows(f)) {
        let name = row["name"].as_str().unwrap();
        for (key, head) in [("base", Head::Base), ("lm", Head::CausalLm)] {
            let Some(modules) = row["modules"][key].as_object() else {
                continue;
            };
            let s = count(&row["config"], Some(head), name);
            checked += hf_rows::check_rows(name, key, &s, modules, &mut failures);
        }
    }
    assert!(checked > 500, "only {checked} rows checked");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn full_to_dict_configs_count_the_same() {
    // The dev rows hold `config.to_dict()`; the same model from its sparse keys.
    let sparse = json!({"model_type": "llama", "vocab_size": 128256, "hidden_size": 4096,
        "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "max_position_embeddings": 8192});
    assert_eq!(
        count(&sparse, Some(Head::Base), "llama-3-8b").total_params,
        7_504_924_672
    );
    assert_eq!(
        count(&sparse, None, "llama-3-8b").total_params,
        8_030_261_248
    );
}

#[test]
fn arch_describes_the_model() {
    let mixtral = json!({"model_type": "mixtral"});
    let a = arch(&mixtral, None, "c.json").unwrap();
    assert_eq!((a.num_heads, a.num_kv_heads, a.head_dim), (32, 8, 128));
    let moe = a.moe.expect("mixtral is sparse");
    assert_eq!(
        (
            moe.num_experts,
            moe.experts_per_token,
            moe.expert_intermediate_size
        ),
        (8, 2, 14336)
    );
    assert_eq!(a.head, HeadKind::CausalLm);

    let moe = arch(
        &json!({"model_type": "qwen2_moe", "num_hidden_layers": 4, "decoder_sparse_step": 2,
        "mlp_only_layers": [3]}),
        None,
        "c.json",
    )
    .unwrap()
    .moe
    .unwrap();
    assert_eq!(moe.dense_layers, vec![0, 2, 3]);
    assert_eq!(moe.shared_expert_intermediate_size, 5632);

    let opt = arch(
        &json!({"model_type": "opt", "word_embed_proj_dim": 512}),
        None,
        "c.json",
    )
    .unwrap();
    assert_eq!(opt.position, Position::Learned { rows: 2050 });
    assert_eq!((opt.embed_dim, opt.hidden_size), (512, 768));

    let t5 = arch(
        &json!({"model_type": "t5", "num_decoder_layers": 3}),
        Some(Head::CausalLm),
        "c.json",
    )
    .unwrap();
    assert_eq!(
        (t5.num_layers, t5.num_decoder_layers, t5.head),
        (6, 3, HeadKind::Seq2SeqLm)
    );
    assert!(t5.tie_word_embeddings);

    let vit = arch(&json!({"model_type": "vit"}), None, "c.json").unwrap();
    assert_eq!(
        (vit.head, vit.max_positions, vit.pooler),
        (HeadKind::Base, 197, Some(768))
    );
    assert_eq!(
        arch(&json!({"model_type": "bert"}), None, "c.json")
            .unwrap()
            .pooler,
        None
    );
    assert_eq!(
        arch(&json!({"model_type": "distilbert"}), None, "c.json")
            .unwrap()
            .head,
        HeadKind::Base
    );
    assert_eq!(
        arch(
            &json!({"model_type": "distilbert"}),
            Some(Head::CausalLm),
            "c.json"
        )
        .unwrap()
        .head,
        HeadKind::MaskedLm
    );
}

#[test]
fn rows_are_modules_with_explanations() {
    let s = count(
        &json!({"model_type": "llama", "num_hidden_layers": 2, "tie_word_embeddings": true}),
        None,
        "l",
    );
    let names: Vec<&str> = s.layers.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names[..3],
        [
            "model.embed_tokens",
            "model.layers.0.self_attn",
            "model.layers.0.mlp"
        ]
    );
    assert_eq!(s.layers[1].class_name, "LlamaAttention");
    let head = s.layers.last().unwrap();
    assert_eq!((head.name.as_str(), head.params), ("lm_head", 0));
    assert!(
        head.explain.contains("tied to model.embed_tokens.weight"),
        "{}",
        head.explain
    );
    assert!(
        s.layers[1].explain.starts_with(
            "LlamaAttention: q_proj.weight (4096 heads×head_dim × 4096 hidden) + k_proj.weight ("
        ),
        "{}",
        s.layers[1].explain
    );
}

fn err(config: Value, head: Option<Head>) -> Error {
    summarize(&config, head, "cfg.json").expect_err("must fail")
}

#[test]
fn errors_name_the_key() {
    match err(json!({"model_type": "llama4_vision"}), None) {
        Error::UnknownModelType {
            location,
            model_type,
            supported,
        } => {
            assert_eq!(
                (location.as_str(), model_type.as_str()),
                ("cfg.json", "llama4_vision")
            );
            assert!(supported.contains("mixtral") && supported.contains("vit"));
        }
        other => panic!("{other:?}"),
    }
    let message = |e: Error| {
        assert!(matches!(e, Error::InvalidValue { .. }), "{e:?}");
        e.to_string()
    };
    assert!(message(err(json!({"hidden_size": 8}), None)).contains("'model_type'"));
    assert!(message(err(json!([1, 2]), None)).contains("JSON object"));
    let m = message(err(json!({"model_type": "llama", "hidden_size": 0}), None));
    assert!(
        m.starts_with("cfg.json: ") && m.contains("'hidden_size'"),
        "{m}"
    );
    assert!(message(err(json!({"model_type": "gpt2", "n_layer": -3}), None)).contains("'n_layer'"));
    assert!(message(err(
        json!({"model_type": "bert", "hidden_size": 768.5}),
        None
    ))
    .contains("'hidden_size'"));
    assert!(message(err(
        json!({"model_type": "llama", "vocab_size": "32000"}),
        None
    ))
    .contains("'vocab_size'"));
    assert!(message(err(
        json!({"model_type": "opt", "enable_bias": "yes"}),
        None
    ))
    .contains("'enable_bias'"));
    assert!(message(err(
        json!({"model_type": "t5", "feed_forward_proj": "gated-gelu-x"}),
        None
    ))
    .contains("feed_forward_proj"));
    assert!(message(err(
        json!({"model_type": "gpt2", "n_embd": 100, "n_head": 12}),
        None
    ))
    .contains("n_head"));
    assert!(
        message(err(json!({"model_type": "vit"}), Some(Head::CausalLm))).contains("head 'base'")
    );
}

#[test]
fn huge_values_overflow_cleanly() {
    for config in [
        json!({"model_type": "llama", "vocab_size": u64::MAX / 2}),
        json!({"model_type": "mixtral", "num_local_experts": u64::MAX / 3}),
        json!({"model_type": "gpt2", "n_embd": u64::MAX / 2, "n_head": 1}),
        json!({"model_type": "falcon", "hidden_size": 1u64 << 40, "num_attention_heads": 1}),
        json!({"model_type": "vit", "image_size": u64::MAX, "patch_size": 1}),
        json!({"model_type": "t5", "num_heads": u64::MAX, "d_kv": 2}),
    ] {
        let e = err(config.clone(), None);
        assert!(matches!(e, Error::Overflow { .. }), "{config}: {e:?}");
    }
    // Every block is a row: absurd depths are refused before any is built.
    let e = err(json!({"model_type": "gpt2", "n_layer": 1u64 << 40}), None);
    assert!(
        matches!(e, Error::InvalidValue { .. }) && e.to_string().contains("'n_layer'"),
        "{e:?}"
    );
}

#[test]
fn counting_only_gives_the_summary_totals() {
    for file in ["hf_known_dev.json", "hf_extra.json", "hf_types.json"] {
        for row in rows(file) {
            for head in [None, Some(Head::Base)] {
                let full =
                    archbudget_core::formats::hf::summarize(&row["config"], head, "c").unwrap();
                let (counted, _) =
                    archbudget_core::formats::hf::count(&row["config"], head, "c").unwrap();
                assert_eq!(
                    (
                        counted.total_params,
                        counted.trainable_params,
                        counted.non_trainable_params
                    ),
                    (
                        full.total_params,
                        full.trainable_params,
                        full.non_trainable_params
                    )
                );
            }
        }
    }
}
