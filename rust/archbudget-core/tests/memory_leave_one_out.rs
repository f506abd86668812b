//! Leave-one-grid-slice-out checks of the calibrated cuDNN RNN workspaces
//! ([`CudnnRnnSpaces`]: the rule's sizes per token, and four constants) on the oracle's
//! 22 measured LSTM steps: for each mode and each
//! value of each grid axis (hidden, layers, seq, batch, precision), calibrate with that
//! slice left out and predict it. A rule that holds predicts the slice it never saw; a fit of
//! the grid does not. Writes the table to `target/memory_leave_one_out.json` for
//! `benches/memory_accuracy.py`.
mod oracle_case;

use archbudget_core::memory::ops::{CudnnRnnSpaces, Op};
use archbudget_core::memory::{self};
use oracle_case::{lstm_of, measured_cases, run_of};
use serde_json::{json, Value};

const OUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../target/memory_leave_one_out.json"
);

struct Case {
    case: Value,
    peak: u64,
}

fn lstm_cases() -> Vec<Case> {
    measured_cases()
        .into_iter()
        .filter(|c| c["case"]["family"] == "lstm")
        .map(|c| Case {
            peak: c["measured"]["peak_bytes"].as_u64().unwrap(),
            case: c["case"].clone(),
        })
        .collect()
}

/// The estimate of a case with the given temp spaces, relative to the measured peak.
fn rel_error(c: &Case, spaces: CudnnRnnSpaces) -> f64 {
    let run = run_of(&c.case);
    let mut g = lstm_of(&c.case).graph(run.batch).unwrap();
    for n in &mut g.nodes {
        if let Op::Rnn(r) = &mut n.op {
            r.spaces = spaces;
        }
    }
    let est = memory::estimate(&g, &run).unwrap().peak_bytes;
    est as f64 / c.peak as f64 - 1.0
}

/// What the calibration searches: quarters of H up to 32 H, whole MiB up to 32.
const QUARTERS: std::ops::RangeInclusive<u64> = 0..=128;
const MIB: u64 = 1 << 20;
const LAYER_MIB: std::ops::RangeInclusive<u64> = 0..=32;

/// Least squares of the relative errors over `cases`, by coordinate descent on the
/// grid above from zero spaces until no coordinate moves.
fn calibrate(cases: &[&Case]) -> CudnnRnnSpaces {
    let loss = |s: CudnnRnnSpaces| -> f64 { cases.iter().map(|c| rel_error(c, s).powi(2)).sum() };
    let mut best = CudnnRnnSpaces {
        reserve_extra_quarter_h: CudnnRnnSpaces::H100.reserve_extra_quarter_h,
        training_workspace_bytes: 0,
        inference_workspace_layer_bytes: 0,
        inference_weight_quarters: 0,
        persistent_workspace_quarter_h: 0,
    };
    let mut best_loss = loss(best);
    loop {
        let before = best;
        let candidates = QUARTERS
            .map(|q| CudnnRnnSpaces {
                persistent_workspace_quarter_h: q,
                ..best
            })
            .chain(LAYER_MIB.map(|m| CudnnRnnSpaces {
                training_workspace_bytes: m * MIB,
                ..best
            }))
            .chain(LAYER_MIB.map(|m| CudnnRnnSpaces {
                inference_workspace_layer_bytes: m * MIB,
                ..best
            }))
            .chain((0..=8).map(|w| CudnnRnnSpaces {
                inference_weight_quarters: w,
                ..best
            }))
            .collect::<Vec<_>>();
        for s in candidates {
            let l = loss(s);
            if l < best_loss {
                best = s;
                best_loss = l;
            }
        }
        if best == before {
            return best;
        }
    }
}

fn within10(errs: &[f64]) -> f64 {
    errs.iter().filter(|e| e.abs() <= 0.10).count() as f64 / errs.len() as f64
}

fn median_abs(errs: &[f64]) -> f64 {
    let mut v: Vec<f64> = errs.iter().map(|e| e.abs()).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn axis_value(c: &Value, axis: &str) -> String {
    match &c[axis] {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// The LSTM grid's axes in gpu_memory.py; each group (train, infer) is held out slice by
/// slice, the calibration keeping every other case of both groups.
const AXES: [&str; 5] = ["hidden", "layers", "seq", "batch", "precision"];
const MODES: [&str; 2] = ["train", "infer"];

/// The bar for a family × mode group: at least 85% of the held-out slice within
/// 10% of the measured peak. The slices short of it are pinned here, so that the list
/// cannot go stale (it may only shrink); why they are short:
/// - infer hidden=1024, layers=2, seq=64, batch=32, precision=fp32: lstm-408 (fp32, 2
///   layers, batch 32, seq 64) is within 10% only with the weights' part of the
///   inference workspace, which these slices, left out, take with them (it misses by
///   11–23%): what cuDNN's inference workspace holds is not knowable offline, and a
///   slice holds 3 to 6 steps, so one miss puts it under the bar.
/// - infer hidden=256: without it the weights' part of the inference workspace is
///   calibrated on H = 1024 alone, where it trades off against the per-layer part.
const BAR_WITHIN10: f64 = 0.85;
const SHORT_SLICES: [&str; 6] = [
    "infer hidden=1024",
    "infer hidden=256",
    "infer layers=2",
    "infer seq=64",
    "infer batch=32",
    "infer precision=fp32",
];

#[test]
fn h100_spaces_are_the_calibration_of_all_cases() {
    let cases = lstm_cases();
    let all: Vec<&Case> = cases.iter().collect();
    let s = calibrate(&all);
    println!("{s:?}");
    for mode in ["train", "infer"] {
        let errs: Vec<f64> = cases
            .iter()
            .filter(|c| c.case["mode"] == mode)
            .map(|c| rel_error(c, s))
            .collect();
        println!(
            "{mode}: {:.1}% within 10%, median {:.2}%",
            100.0 * within10(&errs),
            100.0 * median_abs(&errs)
        );
    }
    assert_eq!(s, CudnnRnnSpaces::H100);
}

#[test]
fn each_grid_slice_predicted_without_it() {
    let cases = lstm_cases();
    let mut rows = Vec::new();
    let mut table = vec![format!(
        "{:<6} {:<10} {:>9} {:>3} | {:>8} {:>6} {:>6} | {:>9} {:>9}",
        "mode", "axis", "held out", "n", "persist", "train", "layer", "≤10%", "median"
    )];
    for mode in MODES {
        for axis in AXES {
            let group: Vec<&Case> = cases.iter().filter(|c| c.case["mode"] == mode).collect();
            let mut values: Vec<String> = group.iter().map(|c| axis_value(&c.case, axis)).collect();
            values.sort();
            values.dedup();
            for v in values {
                let held = |c: &Case| c.case["mode"] == mode && axis_value(&c.case, axis) == v;
                let kept: Vec<&Case> = cases.iter().filter(|c| !held(c)).collect();
                let out: Vec<&Case> = cases.iter().filter(|c| held(c)).collect();
                let s = calibrate(&kept);
                let errs: Vec<f64> = out.iter().map(|c| rel_error(c, s)).collect();
                let (w, m) = (within10(&errs), median_abs(&errs));
                table.push(format!(
                    "{mode:<6} {axis:<10} {v:>9} {:>3} | {:>7.2}H {:>4}Mi {:>4}Mi | {:>8.1}% {:>8.2}%",
                    out.len(),
                    s.persistent_workspace_quarter_h as f64 / 4.0,
                    s.training_workspace_bytes / MIB,
                    s.inference_workspace_layer_bytes / MIB,
                    100.0 * w,
                    100.0 * m
                ));
                rows.push(json!({"mode": mode, "axis": axis, "held_out": v, "n": out.len(),
                    "persistent_workspace_h": s.persistent_workspace_quarter_h as f64 / 4.0,
                    "training_workspace_mib": s.training_workspace_bytes / MIB,
                    "inference_workspace_layer_mib": s.inference_workspace_layer_bytes / MIB,
                    "inference_weights": s.inference_weight_quarters as f64 / 4.0,
                    "within10": w, "median": m,
                    "errors": out.iter().zip(&errs).map(|(c, e)| json!({"id": c.case["id"], "error": e})).collect::<Vec<_>>()}));
            }
        }
    }
    println!("{}", table.join("\n"));
    let short: Vec<String> = rows
        .iter()
        .filter(|r| r["within10"].as_f64().unwrap() < BAR_WITHIN10)
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            format!("{} {}={}", s("mode"), s("axis"), s("held_out"))
        })
        .collect();
    let _ = std::fs::create_dir_all(std::path::Path::new(OUT).parent().unwrap());
    std::fs::write(
        OUT,
        serde_json::to_string(&json!({"slices": rows})).unwrap(),
    )
    .unwrap();
    assert_eq!(short, SHORT_SLICES, "held-out slices under the bar");
}
