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
