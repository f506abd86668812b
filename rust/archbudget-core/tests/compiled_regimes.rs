//! Sweeps whose step changes regime inside an axis's range, against the simulator: a
//! convolution's cuDNN workspace, charged from 16 input channels on (`ops::conv`), an
//! LSTM's training workspace sized by its widest layer input `max(embed, hidden)` and
//! cuDNN's persistent kernel, picked by batch and sizes (`ops::recurrent`). A structure
//! is fitted piece by piece (`space::symbolic`): every candidate's metrics equal the
//! reference's to the byte, and candidates on both sides of each boundary are evaluated
//! from fitted expressions.
use archbudget_core::space::{family::Evaluator, Scalar, Space};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Every candidate of `space` in enumeration order, as a sweep meets them, fitting each
/// structure at its `fit_at`-th candidate: the swept metrics equal the reference's
/// (step built and simulated), errors included. Returns each candidate's integer values
/// by axis name and whether fitted expressions evaluated it.
fn sweep(space: Value, fit_at: u32) -> Vec<(HashMap<String, i64>, bool)> {
    let space = Space::from_value(&space, "test", &|_| unreachable!()).unwrap();
    let eval = Evaluator::fitting_at(&space, fit_at);
    let lens: Vec<usize> = space.axes.iter().map(|a| a.values.len()).collect();
    let mut out = Vec::new();
    for index in 0..space.size {
        let mut digits = vec![0; lens.len()];
        let mut rest = index as usize;
        for (d, &len) in digits.iter_mut().zip(&lens).rev() {
            *d = rest % len;
            rest /= len;
        }
        let before = eval.symbolic_evaluated();
        let swept = eval.metrics(&digits);
        let fitted = eval.symbolic_evaluated() > before;
        let reference = eval.simulated_metrics(&digits);
        match (&swept, &reference) {
            (Ok(s), Ok(r)) => assert_eq!(s, r, "candidate {digits:?} of {space:?}"),
            (Err(s), Err(r)) => assert_eq!(s.to_string(), r.to_string()),
            _ => panic!("candidate {digits:?}: swept {swept:?}, simulated {reference:?}"),
        }
        let values = space
            .axes
            .iter()
            .zip(&digits)
            .filter_map(|(a, &d)| match a.values[d] {
                Scalar::Int(x) => Some((a.name.clone(), x)),
                _ => None,
            })
            .collect();
        out.push((values, fitted));
    }
    out
}

/// Whether some candidate where `side` holds was evaluated from fitted expressions.
fn fitted_where(
    candidates: &[(HashMap<String, i64>, bool)],
    side: impl Fn(&dyn Fn(&str) -> i64) -> bool,
) -> bool {
    candidates
        .iter()
        .any(|(values, fitted)| *fitted && side(&|name: &str| values[name]))
}

#[test]
fn convolutions_fit_on_both_sides_of_the_workspace_threshold() {
    // the first convolution's input channels cross 16 (no workspace below), and with
    // filters 4 and 8 so do the next ones'
    for (precision, mode) in [("fp32", "train"), ("bf16", "train"), ("amp_bf16", "infer")] {
        let candidates = sweep(
            json!({"family": "cnn", "run": {"batch": [8, 16, 32], "precision": precision, "mode": mode},
                "fixed": {"image": 16, "stages": 2, "convs": 2, "batchnorm": true},
                "axes": {"channels": [3, 8, 16, 24, 32], "filters": [4, 8, 16, 32], "classes": [10, 100]}}),
            3,
        );
        let fitted = candidates.iter().filter(|c| c.1).count();
        assert!(
            fitted * 4 >= candidates.len() * 3,
            "{fitted} of {} fitted",
            candidates.len()
        );
        assert!(fitted_where(&candidates, |v| v("channels") < 16 && v("filters") < 16));
        assert!(fitted_where(&candidates, |v| v("channels") >= 16 && v("filters") >= 16));
        assert!(fitted_where(&candidates, |v| v("channels") < 16 && v("filters") >= 16));
    }
}

#[test]
fn lstms_fit_on_both_sides_of_their_widest_input() {
    // two layers: the training workspace reads max(embed, hidden)
    let candidates = sweep(
        json!({"family": "lstm", "run": {"batch": [4, 32]},
            "fixed": {"layers": 2, "classes": 5, "vocab": 1000},
            "axes": {"embed": [64, 256], "hidden": [32, 64, 128, 192, 256, 384, 512], "seq": [7, 64]}}),
        3,
    );
    assert!(fitted_where(&candidates, |v| v("embed") > v("hidden")));
    assert!(fitted_where(&candidates, |v| v("embed") < v("hidden")));
    let fitted = candidates.iter().filter(|c| c.1).count();
    assert!(
        fitted * 4 >= candidates.len() * 3,
        "{fitted} of {} fitted",
        candidates.len()
    );
}

#[test]
fn lstms_fit_on_both_sides_of_the_persistent_kernel() {
    // one bf16 layer with sizes multiples of 128: persistent at batch multiples of 8 up
    // to 128, the standard kernel past it
    let candidates = sweep(
        json!({"family": "lstm", "run": {"batch": [8, 16, 64, 128, 136, 256], "precision": "bf16"},
            "fixed": {"layers": 1, "classes": 5, "vocab": 1000, "seq": 16},
            "axes": {"embed": [128, 256], "hidden": [128, 256, 384]}}),
        3,
    );
    assert!(fitted_where(&candidates, |v| v("batch") <= 128));
    assert!(fitted_where(&candidates, |v| v("batch") > 128));
}

/// 2 to 5 distinct sizes from `lo..hi`.
fn sizes(lo: i64, hi: i64) -> impl Strategy<Value = Vec<i64>> {
    prop::collection::btree_set(lo..hi, 2..6).prop_map(|s| s.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random cnn and lstm spaces whose axes cross their rules' boundaries: equal to the
    /// simulator, candidate by candidate, and mostly evaluated from fits.
    #[test]
    fn random_regimes_equal_the_simulator(
        mode in prop_oneof![Just("train"), Just("infer")],
        precision in prop_oneof![Just("fp32"), Just("bf16"), Just("amp_bf16")],
        channels in sizes(1, 40),
        filters in sizes(1, 40),
        stages in 1i64..3,
        batchnorm in any::<bool>(),
        embed in sizes(1, 300),
        hidden in sizes(1, 300),
        layers in 1i64..3,
        batch in sizes(1, 160),
    ) {
        let run = json!({"mode": mode, "precision": precision, "batch": batch});
        let cnn = sweep(json!({"family": "cnn", "run": run, "fixed": {
            "image": 8, "stages": stages, "convs": 2, "batchnorm": batchnorm, "classes": 10},
            "axes": {"channels": channels, "filters": filters}}), 3);
        let lstm = sweep(json!({"family": "lstm", "run": run,
            "fixed": {"layers": layers, "classes": 5, "vocab": 100, "seq": 5},
            "axes": {"embed": embed, "hidden": hidden}}), 3);
        // the regimes are split, not given up: most candidates come from fits
        for (family, candidates) in [("cnn", cnn), ("lstm", lstm)] {
            let fitted = candidates.iter().filter(|c| c.1).count();
            prop_assert!(fitted * 2 >= candidates.len(), "{family}: {fitted} of {} fitted", candidates.len());
        }
    }
}

/// A transformers config of `kind` (llama, mixtral, qwen3_moe, deepseek_v3, gpt2, bert)
/// at `layers` layers, its size axes left to the space.
fn transformer(kind: usize, layers: i64) -> Value {
    match kind {
        0 => json!({"model_type": "llama", "num_attention_heads": 8, "num_key_value_heads": 4,
                    "num_hidden_layers": layers}),
        1 => json!({"model_type": "mixtral", "num_attention_heads": 8, "num_key_value_heads": 4,
                    "num_hidden_layers": layers, "num_local_experts": 4, "num_experts_per_tok": 2}),
        2 => json!({"model_type": "qwen3_moe", "num_attention_heads": 8, "num_key_value_heads": 4,
                    "head_dim": 64, "num_hidden_layers": layers, "num_experts": 4,
                    "num_experts_per_tok": 2, "moe_intermediate_size": 512, "decoder_sparse_step": 1}),
        3 => {
            json!({"model_type": "deepseek_v3", "num_attention_heads": 8, "num_key_value_heads": 8,
                    "q_lora_rank": 256, "kv_lora_rank": 128, "qk_rope_head_dim": 32,
                    "qk_nope_head_dim": 64, "v_head_dim": 64, "n_routed_experts": 4,
                    "num_experts_per_tok": 2, "n_shared_experts": 1, "first_k_dense_replace": 1,
                    "n_group": 1, "topk_group": 1, "moe_intermediate_size": 256,
                    "num_hidden_layers": layers})
        }
        4 => json!({"model_type": "gpt2", "n_layer": layers, "n_head": 8, "n_embd": 512,
                    "n_positions": 2048}),
        _ => json!({"model_type": "bert", "num_hidden_layers": layers, "num_attention_heads": 8,
                    "max_position_embeddings": 2048}),
    }
}

/// `n` to `m` of `values`, ascending.
fn some_of(values: &'static [i64], n: usize, m: usize) -> impl Strategy<Value = Vec<i64>> {
    prop::sample::subsequence(values, n..=m)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Transformers sweeps at realistic sizes (hidden in the thousands, seq to 2048),
    /// where a fitted tape leaves out the marks that another's total bounds at every
    /// candidate of its box (`memory::compiled::dominance`, with the allocator rounding's
    /// slack): equal to the simulator, candidate by candidate.
    #[test]
    fn realistic_transformer_sweeps_equal_the_simulator(
        kind in 0usize..6,
        layers in 2i64..5,
        mode in prop_oneof![Just("train"), Just("infer")],
        precision in prop_oneof![Just("fp32"), Just("bf16"), Just("amp_bf16")],
        optimizer in prop_oneof![Just("sgd"), Just("adamw")],
        grad_ckpt in any::<bool>(),
        attn in prop_oneof![Just("sdpa"), Just("eager")],
        hidden in some_of(&[512, 1024, 1536, 2048], 2, 3),
        intermediate in some_of(&[1408, 2816, 5632], 1, 2),
        vocab in some_of(&[32000, 50257, 128256], 1, 2),
        batch in some_of(&[1, 2, 4, 8], 2, 3),
        seq in some_of(&[128, 256, 512, 1024, 2048], 2, 3),
    ) {
        let fixed = transformer(kind, layers);
        let mut axes = json!({"vocab_size": vocab});
        if fixed.get("n_embd").is_none() {
            axes["hidden_size"] = json!(hidden);
        }
        // qwen3_moe's experts have their own width; gpt2's is 4 · n_embd
        if kind != 2 && kind != 4 {
            axes["intermediate_size"] = json!(intermediate);
        }
        let run = json!({"mode": mode, "precision": precision, "optimizer": optimizer,
                         "grad_ckpt": grad_ckpt, "attn": attn, "batch": batch, "seq": seq});
        let candidates = sweep(json!({"family": "hf", "run": run, "fixed": fixed, "axes": axes}), 3);
        let fitted = candidates.iter().filter(|c| c.1).count();
        prop_assert!(fitted * 2 >= candidates.len(), "{fitted} of {} fitted", candidates.len());
    }
}
