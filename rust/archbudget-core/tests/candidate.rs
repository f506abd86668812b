//! One candidate checked alone (`space::candidate`) equals the sweep row, `summary` and
//! `memory` of the same model, and its budget test is the sweep's.
use archbudget_core::formats;
use archbudget_core::memory::RunSettings;
use archbudget_core::space::candidate::{check, run_table};
use archbudget_core::space::{sweep, Space, SweepOptions};
use serde_json::{json, Map, Value};

fn no_files(path: &str) -> archbudget_core::Result<Vec<u8>> {
    panic!("no template file expected, asked for {path}")
}

fn run(value: Value) -> Map<String, Value> {
    run_table(&value, "test").unwrap()
}

#[test]
fn family_candidates_equal_their_sweep_rows() {
    let space = Space::from_value(
        &json!({"family": "cnn", "fixed": {"image": 32, "channels": 3, "stages": 2, "classes": 10},
                "axes": {"convs": [1, 2], "filters": [16, 64], "batchnorm": [false, true]},
                "run": {"batch": 8, "precision": "amp_bf16"}}),
        "space",
        &no_files,
    )
    .unwrap();
    let cols = sweep(&space, &SweepOptions::default()).unwrap();
    let column = |name: &str| &cols.metrics.iter().find(|(n, _)| *n == name).unwrap().1;
    let axis = |name: &str, i: usize| {
        let (_, c) = cols.axes.iter().find(|(n, _)| n == name).unwrap();
        match c {
            archbudget_core::space::enumerate::AxisColumn::Int(v) => json!(v[i]),
            archbudget_core::space::enumerate::AxisColumn::Bool(v) => json!(v[i]),
            _ => unreachable!(),
        }
    };
    let settings = run(json!({"batch": 8, "precision": "amp_bf16"}));
    for i in 0..cols.index.len() {
        let candidate = json!({"family": "cnn", "image": 32, "channels": 3, "stages": 2, "classes": 10,
            "convs": axis("convs", i), "filters": axis("filters", i), "batchnorm": axis("batchnorm", i)});
        let (fits, m) = check(
            candidate,
            &settings,
            &SweepOptions::default(),
            "c",
            &no_files,
        )
        .unwrap();
        assert!(fits);
        assert_eq!(
            (m.params, m.peak_bytes, m.flops_fwd, m.flops_fwd_bwd),
            (
                column("params")[i],
                column("peak_bytes")[i],
                column("flops_fwd")[i],
                column("flops_fwd_bwd")[i]
            )
        );
    }
}

#[test]
fn configs_and_keras_models_equal_summary_and_memory() {
    let config = json!({"model_type": "llama", "hidden_size": 256, "intermediate_size": 688,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000,
        "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"}});
    let settings = run(json!({"batch": 2, "seq": 64}));
    let (_, m) = check(
        config.clone(),
        &settings,
        &SweepOptions::default(),
        "c",
        &no_files,
    )
    .unwrap();
    let bytes = serde_json::to_vec(&config).unwrap();
    let summary = formats::summary(&bytes, "c", None).unwrap();
    let rs = RunSettings {
        batch: 2,
        ..RunSettings::default()
    };
    let memory = formats::memory(&bytes, "c", None, &rs, Some(64)).unwrap();
    assert_eq!(m.params, summary.total_params);
    assert_eq!(
        (m.peak_bytes, m.flops_fwd_bwd),
        (memory.peak_bytes, memory.flops_fwd_bwd)
    );

    let path = format!(
        "{}/../../examples/mlp_keras.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let model: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let bytes = serde_json::to_vec(&model).unwrap();
    let (_, m) = check(
        model,
        &run(json!({"batch": 2})),
        &SweepOptions::default(),
        "c",
        &no_files,
    )
    .unwrap();
    let memory = formats::memory(&bytes, "c", None, &rs, None).unwrap();
    assert_eq!(
        m.params,
        formats::summary(&bytes, "c", None).unwrap().total_params
    );
    assert_eq!(
        (m.peak_bytes, m.flops_fwd_bwd),
        (memory.peak_bytes, memory.flops_fwd_bwd)
    );
}

#[test]
fn limits_are_the_sweeps_and_bad_candidates_name_the_problem() {
    let mlp = json!({"family": "mlp", "input_dim": 784, "depth": 3, "width": 512, "classes": 10});
    let settings = run(json!({"batch": 64}));
    let (_, m) = check(
        mlp.clone(),
        &settings,
        &SweepOptions::default(),
        "c",
        &no_files,
    )
    .unwrap();
    let limits = |max_params| SweepOptions {
        max_params: Some(max_params),
        ..SweepOptions::default()
    };
    assert!(
        check(mlp.clone(), &settings, &limits(m.params), "c", &no_files)
            .unwrap()
            .0
    );
    assert!(
        !check(mlp, &settings, &limits(m.params - 1), "c", &no_files)
            .unwrap()
            .0
    );
    for (candidate, message) in [
        (json!([1]), "must be a JSON object"),
        (json!({"depth": 1}), "needs 'family'"),
        (json!({"family": "gru"}), "not one of mlp"),
        (
            json!({"family": "mlp", "input_dim": 4, "depth": 1, "width": 4}),
            "'classes'",
        ),
    ] {
        let e = check(
            candidate,
            &settings,
            &SweepOptions::default(),
            "cand",
            &no_files,
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("cand: ") && e.to_string().contains(message),
            "{e}"
        );
    }
    assert!(run_table(&json!({"bach": 1}), "Budget")
        .unwrap_err()
        .to_string()
        .contains("'bach'"));
}
