//! The sweep: candidate counts, rows equal to `memory` of the same model, shards, ranking.
use archbudget_core::memory::families::Mlp;
use archbudget_core::memory::{Precision, RunSettings};
use archbudget_core::space::{count, sweep, Space, SweepOptions};

fn space(toml: &str) -> Space {
    Space::from_toml(toml, "space.toml", &|p| {
        Err(archbudget_core::Error::invalid(p, "no templates here"))
    })
    .unwrap()
}

const MLP: &str = r#"
family = "mlp"
constraints = ["width % (depth + 1) == 0 or depth == 3"]
[fixed]
classes = 10
[axes]
input_dim = [8, 784]
depth = {start = 0, stop = 4}
width = {start = 16, stop = 2048, factor = 2}
[run]
batch = [32, 256]
precision = ["fp32", "bf16"]
"#;

fn metric<'a>(cols: &'a archbudget_core::space::Columns, name: &str) -> &'a [u64] {
    &cols.metrics.iter().find(|(n, _)| *n == name).unwrap().1
}

#[test]
fn size_is_the_product_of_the_axes_and_constraints_cut_exactly() {
    let s = space(MLP);
    assert_eq!(s.size, 2 * 5 * 8 * 2 * 2);
    let c = count(&s, None).unwrap();
    // Brute force over the same grid.
    let mut expected = 0;
    for _input in [8, 784] {
        for depth in 0..=4i64 {
            for k in 0..8 {
                let width = 16i64 << k;
                if width % (depth + 1) == 0 || depth == 3 {
                    expected += 4;
                }
            }
        }
    }
    assert_eq!(c.satisfying_constraints, expected);
    let all = sweep(&s, &SweepOptions::default()).unwrap();
    assert_eq!(all.index.len() as u64, expected);
    assert_eq!(all.stats.cut_by_constraints, s.size - expected);
}

#[test]
fn rows_equal_memory_of_the_same_model() {
    let s = space(MLP);
    let cols = sweep(&s, &SweepOptions::default()).unwrap();
    let column = |name: &str| -> Vec<i64> {
        match &cols.axes.iter().find(|(n, _)| n == name).unwrap().1 {
            archbudget_core::space::enumerate::AxisColumn::Int(v) => v.clone(),
            other => panic!("{other:?}"),
        }
    };
    let (inputs, depths, widths, batches) = (
        column("input_dim"),
        column("depth"),
        column("width"),
        column("batch"),
    );
    let precision = match &cols.axes.iter().find(|(n, _)| n == "precision").unwrap().1 {
        archbudget_core::space::enumerate::AxisColumn::Str { codes, categories } => codes
            .iter()
            .map(|&c| categories[c as usize].clone())
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    for i in 0..cols.index.len() {
        let m = Mlp {
            input_dim: inputs[i] as u64,
            depth: depths[i] as u64,
            width: widths[i] as u64,
            classes: 10,
        };
        let run = RunSettings {
            batch: batches[i] as u64,
            precision: Precision::parse(&precision[i]).unwrap(),
            ..Default::default()
        };
        let report = m.estimate(&run).unwrap();
        assert_eq!(metric(&cols, "params")[i], report.params);
        assert_eq!(metric(&cols, "peak_bytes")[i], report.peak_bytes);
        assert_eq!(metric(&cols, "flops_fwd_bwd")[i], report.flops_fwd_bwd);
    }
}

#[test]
fn shards_merge_to_the_whole() {
    let s = space(MLP);
    let whole = sweep(&s, &SweepOptions::default()).unwrap();
    let mut merged = Vec::new();
    for i in 0..3 {
        let range = Some((s.size * i / 3, s.size * (i + 1) / 3));
        merged.extend(
            sweep(
                &s,
                &SweepOptions {
                    range,
                    ..Default::default()
                },
            )
            .unwrap()
            .index,
        );
    }
    assert_eq!(merged, whole.index);
}

#[test]
fn top_k_is_the_head_of_the_full_ranking_and_budgets_hold() {
    let s = space(MLP);
    for (sort, descending) in [("params", true), ("peak_bytes", false), ("width", true)] {
        let base = SweepOptions {
            max_params: Some(2_000_000),
            sort: Some(sort.into()),
            descending,
            ..Default::default()
        };
        let full = sweep(&s, &base).unwrap();
        let top = sweep(
            &s,
            &SweepOptions {
                top: Some(7),
                ..base.clone()
            },
        )
        .unwrap();
        assert_eq!(top.index, full.index[..7], "{sort}");
        assert!(metric(&full, "params").iter().all(|&p| p <= 2_000_000));
    }
    let capped = sweep(
        &s,
        &SweepOptions {
            max_memory: Some(50 << 20),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        !capped.index.is_empty() && metric(&capped, "peak_bytes").iter().all(|&b| b <= 50 << 20)
    );
}

#[test]
fn pareto_front_is_non_dominated() {
    let s = space(MLP);
    let front = sweep(
        &s,
        &SweepOptions {
            pareto: true,
            ..Default::default()
        },
    )
    .unwrap();
    let all = sweep(&s, &SweepOptions::default()).unwrap();
    let key = |c: &archbudget_core::space::Columns, i: usize| {
        (
            metric(c, "params")[i],
            metric(c, "peak_bytes")[i],
            metric(c, "flops_fwd_bwd")[i],
        )
    };
    for i in 0..front.index.len() {
        let (p, m, f) = key(&front, i);
        for j in 0..all.index.len() {
            let (q, n, g) = key(&all, j);
            assert!(
                !(q >= p && n <= m && g <= f && (q, n, g) != (p, m, f)),
                "front row {i} is dominated"
            );
        }
    }
    assert!(
        front.index.len() > 1,
        "a real trade-off between capacity and cost"
    );
}

#[test]
fn bad_spaces_are_errors_naming_the_problem() {
    let err = |t: &str| {
        Space::from_toml(t, "space.toml", &|p| {
            Err(archbudget_core::Error::invalid(p, "no"))
        })
        .unwrap_err()
        .to_string()
    };
    assert!(err("family = \"mlp\"\n[axes]\nwidth = [").contains("malformed TOML"));
    assert!(err("family = \"rnn\"").contains("family 'rnn'"));
    assert!(
        err("family = \"mlp\"\n[fixed]\ninput_dim=1\ndepth=1\nclasses=1\n[axes]\nwidht=[1]")
            .contains("'widht' is not a parameter")
    );
    assert!(err("family = \"mlp\"\n[fixed]\ninput_dim=1\ndepth=1\nclasses=1\n[axes]\nwidth=[1]\n[run]\nbatchsize=3").contains("unknown run setting 'batchsize'"));
    assert!(err("family = \"mlp\"\nconstraints=[\"width >\"]\n[fixed]\ninput_dim=1\ndepth=1\nclasses=1\n[axes]\nwidth=[1]").contains("constraint 'width >'"));
    let huge = "family = \"mlp\"\n[fixed]\nclasses=1\n[axes]\ninput_dim={start=1,stop=999999}\ndepth={start=1,stop=999999}\nwidth={start=1,stop=999999}\n[run]\nbatch={start=1,stop=999999}";
    assert!(err(huge).contains("overflows"), "{}", err(huge));
    assert!(
        err("family = \"mlp\"\n[axes]\nwidth={start=1,stop=9999999}").contains("more than 1000000")
    );
}

fn int_column(cols: &archbudget_core::space::Columns, name: &str) -> Vec<i64> {
    match &cols.axes.iter().find(|(n, _)| n == name).unwrap().1 {
        archbudget_core::space::enumerate::AxisColumn::Int(v) => v.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hf_rows_equal_summary_and_memory() {
    let s = space(
        r#"
family = "hf"
constraints = ["hidden_size % num_attention_heads == 0"]
[fixed]
model_type = "llama"
vocab_size = 32000
tie_word_embeddings = false
[axes]
hidden_size = [512, 768, 1024]
num_hidden_layers = [2, 4]
num_attention_heads = [8, 12]
num_key_value_heads = [4]
[run]
batch = 2
seq = 256
precision = "bf16"
"#,
    );
    let cols = sweep(&s, &SweepOptions::default()).unwrap();
    assert_eq!(
        cols.index.len(),
        8,
        "12 candidates, 4 cut by the constraint"
    );
    let (hidden, layers, heads) = (
        int_column(&cols, "hidden_size"),
        int_column(&cols, "num_hidden_layers"),
        int_column(&cols, "num_attention_heads"),
    );
    for i in 0..cols.index.len() {
        let config = serde_json::json!({"model_type": "llama", "vocab_size": 32000, "tie_word_embeddings": false,
            "hidden_size": hidden[i], "num_hidden_layers": layers[i], "num_attention_heads": heads[i], "num_key_value_heads": 4});
        let text = serde_json::to_vec(&config).unwrap();
        let summary = archbudget_core::formats::summary(&text, "c", None).unwrap();
        let run = RunSettings {
            batch: 2,
            precision: Precision::Bf16,
            ..Default::default()
        };
        let mem = archbudget_core::formats::memory(&text, "c", None, &run, Some(256)).unwrap();
        assert_eq!(metric(&cols, "params")[i], summary.total_params);
        assert_eq!(metric(&cols, "params")[i], mem.params);
        assert_eq!(metric(&cols, "peak_bytes")[i], mem.peak_bytes);
        assert_eq!(metric(&cols, "flops_fwd_bwd")[i], mem.flops_fwd_bwd);
    }
}

#[test]
fn keras_rows_equal_summary_and_memory() {
    let template = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/mlp_keras.json"
    ))
    .unwrap();
    let s = Space::from_toml(
        r#"
family = "keras"
template = "mlp_keras.json"
[axes]
"dense.units" = [64, 256]
dense_1 = {units = [32, 128]}
[run]
batch = [16, 64]
"#,
        "space.toml",
        &|_| Ok(template.clone()),
    )
    .unwrap();
    let cols = sweep(&s, &SweepOptions::default()).unwrap();
    assert_eq!(cols.index.len(), 8);
    let (units, units_1, batch) = (
        int_column(&cols, "dense.units"),
        int_column(&cols, "dense_1.units"),
        int_column(&cols, "batch"),
    );
    for i in 0..cols.index.len() {
        let mut model: serde_json::Value = serde_json::from_slice(&template).unwrap();
        for layer in model["config"]["layers"].as_array_mut().unwrap() {
            match layer["config"]["name"].as_str() {
                Some("dense") => layer["config"]["units"] = units[i].into(),
                Some("dense_1") => layer["config"]["units"] = units_1[i].into(),
                _ => {}
            }
        }
        let text = serde_json::to_vec(&model).unwrap();
        let summary = archbudget_core::formats::summary(&text, "m", None).unwrap();
        let run = RunSettings {
            batch: batch[i] as u64,
            ..Default::default()
        };
        let mem = archbudget_core::formats::memory(&text, "m", None, &run, None).unwrap();
        assert_eq!(
            metric(&cols, "params")[i],
            summary.total_params,
            "Keras's count"
        );
        assert_eq!(
            metric(&cols, "trainable_params")[i],
            summary.trainable_params
        );
        assert_eq!(metric(&cols, "peak_bytes")[i], mem.peak_bytes);
    }
    let err = Space::from_toml(
        "family = \"keras\"\ntemplate = \"m.json\"\n[axes]\n\"dens.units\" = [1]",
        "space.toml",
        &|_| Ok(template.clone()),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("'dens.units' must be <layer name>.<config key>"),
        "{err}"
    );
}

#[test]
fn the_run_kernel_ranks_as_the_per_candidate_path() {
    // Without constraints the mlp params run along the innermost axis in one closed
    // form; a constraint that holds everywhere forces the per-candidate path.
    let body = "[fixed]\nclasses = 10\n[axes]\ninput_dim = {start = 1, stop = 40}\ndepth = [0, 1, 3]\nwidth = {start = 1, stop = 300, step = 7}\n[run]\nbatch = 8\n";
    let fast = space(&format!("family = \"mlp\"\n{body}"));
    let slow = space(&format!(
        "family = \"mlp\"\nconstraints = [\"depth >= 0\"]\n{body}"
    ));
    for (sort, descending, max_params) in [
        ("params", true, Some(20_000)),
        ("params", false, None),
        ("trainable_params", true, Some(5_000)),
    ] {
        let opts = SweepOptions {
            max_params,
            sort: Some(sort.into()),
            descending,
            top: Some(37),
            ..Default::default()
        };
        let (a, b) = (sweep(&fast, &opts).unwrap(), sweep(&slow, &opts).unwrap());
        assert_eq!(a.index, b.index);
        assert_eq!(metric(&a, "peak_bytes"), metric(&b, "peak_bytes"));
        assert_eq!(a.stats.cut_by_budgets, b.stats.cut_by_budgets);
    }
}

#[test]
fn zero_sharding_is_a_run_axis() {
    let s = space("family = \"mlp\"\n[fixed]\ninput_dim = 784\ndepth = 4\nwidth = 2048\nclasses = 10\n[run]\nbatch = 64\ngpus = 8\nzero_stage = [0, 1, 2, 3]\n");
    let cols = sweep(&s, &SweepOptions::default()).unwrap();
    let peaks = metric(&cols, "peak_bytes");
    assert!(
        peaks.windows(2).all(|w| w[1] <= w[0]),
        "each ZeRO stage shards more: {peaks:?}"
    );
    let optimizer = metric(&cols, "optimizer_bytes");
    assert!(
        optimizer[1] < optimizer[0],
        "stage 1 shards the optimizer state"
    );
    let err = Space::from_toml("family = \"mlp\"\n[fixed]\ninput_dim = 1\ndepth = 1\nwidth = 1\nclasses = 1\n[run]\nzero_stage = 4\n", "space.toml", &|_| unreachable!())
        .map(|s| sweep(&s, &SweepOptions::default()).unwrap().stats.first_invalid.unwrap_or_default())
        .unwrap();
    assert!(err.contains("'zero_stage' must be 0, 1, 2 or 3"), "{err}");
}
