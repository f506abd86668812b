//! A ranked sweep with a memory budget (`--max-memory ... --sort params --top K`) skips
//! candidates by their lower bound and evaluates the rest lazily in rank order (by
//! `peak_bytes`: in the order of their bounds); its rows must be exactly those of
//! evaluating every candidate, then filtering, sorting (ties by candidate index) and
//! keeping the first K.
use archbudget_core::space::enumerate::Columns;
use archbudget_core::space::{sweep, Space, SweepOptions};
use serde_json::{json, Value};

fn no_files(path: &str) -> archbudget_core::Result<Vec<u8>> {
    panic!("no template file expected, asked for {path}")
}

fn space(value: Value) -> Space {
    Space::from_value(&value, "space", &no_files).unwrap()
}

fn column<'c>(cols: &'c Columns, name: &str) -> &'c [u64] {
    &cols.metrics.iter().find(|(n, _)| *n == name).unwrap().1
}

/// Every metric of every row, row by row, with the candidate index first.
fn rows(cols: &Columns) -> Vec<Vec<u64>> {
    (0..cols.index.len())
        .map(|i| {
            std::iter::once(cols.index[i])
                .chain(cols.metrics.iter().map(|(_, v)| v[i]))
                .collect()
        })
        .collect()
}

/// The rows `opts` keeps, computed from every candidate's full evaluation.
fn by_full_evaluation(all: &Columns, opts: &SweepOptions) -> Vec<Vec<u64>> {
    let peak = column(all, "peak_bytes");
    let flops = column(all, "flops_fwd_bwd");
    let params = column(all, "params");
    let mut kept: Vec<usize> = (0..all.index.len())
        .filter(|&i| {
            opts.max_memory.is_none_or(|m| peak[i] <= m)
                && opts.max_flops.is_none_or(|m| flops[i] <= m)
                && opts.max_params.is_none_or(|m| params[i] <= m)
        })
        .collect();
    if let Some(sort) = &opts.sort {
        let key = column(all, sort);
        kept.sort_by(|&a, &b| {
            let by_key = if opts.descending {
                key[b].cmp(&key[a])
            } else {
                key[a].cmp(&key[b])
            };
            by_key.then(all.index[a].cmp(&all.index[b]))
        });
    }
    let full = rows(all);
    kept.into_iter()
        .take(opts.top.unwrap_or(usize::MAX))
        .map(|i| full[i].clone())
        .collect()
}

/// Budgets at a few quantiles of the candidates' own peaks, so that each cuts some.
fn quantiles(values: &[u64]) -> Vec<u64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    [0.05, 0.3, 0.7, 0.97]
        .iter()
        .map(|q| sorted[((sorted.len() - 1) as f64 * q) as usize])
        .collect()
}

fn check_space(space: &Space) -> usize {
    let all = sweep(space, &SweepOptions::default()).unwrap();
    let mut compared = 0;
    let peaks = quantiles(column(&all, "peak_bytes"));
    let flops = quantiles(column(&all, "flops_fwd_bwd"));
    for (b, &max_memory) in peaks.iter().enumerate() {
        for sort in [
            None,
            Some("params"),
            Some("trainable_params"),
            Some("peak_bytes"),
        ] {
            for descending in [false, true] {
                for top in [1, 7, 100, 5000] {
                    let opts = SweepOptions {
                        max_memory: Some(max_memory),
                        max_flops: (b % 2 == 1).then_some(flops[b]),
                        sort: sort.map(String::from),
                        descending,
                        top: Some(top),
                        ..Default::default()
                    };
                    let fast = sweep(space, &opts).unwrap();
                    assert_eq!(rows(&fast), by_full_evaluation(&all, &opts), "{opts:?}");
                    compared += 1;
                }
            }
        }
    }
    compared
}

#[test]
fn llama_space_ranked_under_a_memory_budget_equals_full_evaluation() {
    let space = space(json!({
        "family": "hf",
        "constraints": ["num_attention_heads % num_key_value_heads == 0"],
        "fixed": {"model_type": "llama", "tie_word_embeddings": false},
        "axes": {"hidden_size": [64, 128, 256], "num_hidden_layers": [1, 2, 4],
                 "num_attention_heads": [2, 4], "num_key_value_heads": [1, 2, 4],
                 "intermediate_size": [128, 512], "vocab_size": [1000, 32000]},
        "run": {"seq": [64, 512], "batch": [1, 8], "precision": ["bf16", "fp32"],
                "optimizer": ["adamw", "sgd"]},
    }));
    assert_eq!(check_space(&space), 128);
}

#[test]
fn mlp_space_ranked_under_a_memory_budget_equals_full_evaluation() {
    let space = space(json!({
        "family": "mlp",
        "fixed": {"classes": 10},
        "axes": {"input_dim": [32, 784, 3072], "depth": [0, 1, 3, 8], "width": [16, 256, 2048]},
        "run": {"batch": [1, 64, 1024], "precision": ["fp32", "bf16", "amp_bf16"],
                "mode": ["train", "infer"]},
    }));
    assert_eq!(check_space(&space), 128);
}

#[test]
fn gpt2_space_in_generate_and_sharded_runs_equals_full_evaluation() {
    let space = space(json!({
        "family": "hf",
        "fixed": {"model_type": "gpt2", "vocab_size": 5000},
        "axes": {"n_embd": [64, 128], "n_layer": [2, 3], "n_head": [2, 4]},
        "run": {"seq": [32, 256], "mode": ["train", "infer", "generate"], "new_tokens": 8,
                "gpus": [1, 4], "zero_stage": [0, 3], "optimizer": ["adam", "sgd_momentum"]},
    }));
    assert_eq!(check_space(&space), 128);
}
