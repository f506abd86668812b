//! Leave-one-out checks of what is calibrated in the memory model, on the oracle's
//! measured steps: the cuDNN RNN workspaces ([`CudnnRnnSpaces`]: the rule's sizes per
//! token, and four constants) on its 22 LSTM steps, and cuDNN's convolution workspace
//! ([`ConvWorkspace`]: two rates and the bounds of fp32 Winograd) on its 99 CNN steps.
//! Two ways:
//! - by grid slice: for each mode and each value of each axis of the family's grid in
//!   gpu_memory.py, calibrate with that slice left out and predict it. A rule that
//!   holds predicts the slice it never saw; a fit of the grid does not.
//! - by step: calibrate without one step, predict it. gpu_memory.py samples its steps
//!   from one grid per family and the held-out set is the rest of that sample (other
//!   combinations of the same axis values), so this is how a held-out step is predicted.
//!
//! Writes both tables to `target/memory_leave_one_out.json` for
//! `benches/memory_accuracy.py`.
mod oracle_case;

use archbudget_core::memory::ops::{with_workspace, ConvWorkspace, CudnnRnnSpaces, Op};
use archbudget_core::memory::{self};
use oracle_case::{cnn_of, lstm_of, measured_cases, run_of};
use serde_json::{json, Value};

const OUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../target/memory_leave_one_out.json"
);

struct Case {
    case: Value,
    peak: u64,
}

fn cases_of(family: &str) -> Vec<Case> {
    measured_cases()
        .into_iter()
        .filter(|c| c["case"]["family"] == family)
        .map(|c| Case {
            peak: c["measured"]["peak_bytes"].as_u64().unwrap(),
            case: c["case"].clone(),
        })
        .collect()
}

/// The estimate of an LSTM case with the given temp spaces, relative to the measured
/// peak.
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
fn calibrate_lstm(cases: &[&Case]) -> CudnnRnnSpaces {
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

/// The estimate of a CNN case with convolutions charged `ws`, relative to the measured
/// peak.
fn cnn_error(c: &Case, ws: ConvWorkspace) -> f64 {
    let run = run_of(&c.case);
    let est = with_workspace(ws, || cnn_of(&c.case).estimate(&run).unwrap().peak_bytes);
    est as f64 / c.peak as f64 - 1.0
}

/// What the CNN calibration searches: up to 16 B per output element, in quarters; the
/// fp32 Winograd bounds in powers of two, rows from none to 2¹⁶, output channels 16 to
/// 4,096.
const CONV_QUARTER_BYTES: std::ops::RangeInclusive<u64> = 0..=64;
fn winograd_rows() -> impl Iterator<Item = u64> {
    std::iter::once(0).chain((0..=16).map(|k| 1u64 << k))
}
fn winograd_out_channels() -> impl Iterator<Item = u64> {
    (4..=12).map(|k| 1u64 << k)
}

/// Each dtype's workspace on the steps in that dtype (fp32; bf16 under autocast), by
/// exhaustive search, the first (smallest) minimising the squares of the relative
/// errors truncated at 10%: a step past 10% counts the same however far, so the fp32
/// steps at batch 128 and filters 32 (estimates 43–66% short whatever is charged, see
/// [`ConvWorkspace`]) do not drag what the other steps follow. The rates first, with no
/// Winograd buffers (the forward and inference steps, which outnumber the backward's
/// calls that take Winograd, set them); then, at the fp32 rate, the Winograd bounds
/// together on the fp32 training steps.
fn calibrate_cnn(cases: &[&Case]) -> ConvWorkspace {
    let best = |mine: &[&&Case], candidates: &mut dyn Iterator<Item = ConvWorkspace>| {
        let loss = |w: ConvWorkspace| -> f64 {
            mine.iter().map(|c| cnn_error(c, w).powi(2).min(0.01)).sum()
        };
        candidates
            .map(|w| (w, loss(w)))
            .fold((None, f64::INFINITY), |b, (w, l)| {
                if l < b.1 {
                    (Some(w), l)
                } else {
                    b
                }
            })
            .0
            .unwrap()
    };
    let of = |precision: &str, mode: Option<&str>| -> Vec<&&Case> {
        (cases.iter())
            .filter(|c| c.case["precision"] == precision)
            .filter(|c| mode.is_none_or(|m| c.case["mode"] == m))
            .collect()
    };
    let no_winograd = ConvWorkspace {
        f32_winograd_max_rows: 0,
        ..ConvWorkspace::H100
    };
    let f32_rate = best(
        &of("fp32", None),
        &mut CONV_QUARTER_BYTES.map(|q| ConvWorkspace {
            f32_quarter_bytes: q,
            ..no_winograd
        }),
    );
    let bf16_rate = best(
        &of("amp_bf16", None),
        &mut CONV_QUARTER_BYTES.map(|q| ConvWorkspace {
            bf16_quarter_bytes: q,
            ..no_winograd
        }),
    );
    let rates = ConvWorkspace {
        bf16_quarter_bytes: bf16_rate.bf16_quarter_bytes,
        ..f32_rate
    };
    best(
        &of("fp32", Some("train")),
        &mut winograd_rows().flat_map(|rows| {
            winograd_out_channels().map(move |k| ConvWorkspace {
                f32_winograd_max_rows: rows,
                f32_winograd_max_out_channels: k,
                ..rates
            })
        }),
    )
}

/// The grids' axes in gpu_memory.py; each group (train, infer) is held out slice by
/// slice, the calibration keeping every other case of the family, both groups.
const LSTM_AXES: [&str; 5] = ["hidden", "layers", "seq", "batch", "precision"];
const CNN_AXES: [&str; 8] = [
    "image",
    "stages",
    "convs",
    "filters",
    "batchnorm",
    "batch",
    "optimizer",
    "precision",
];
const MODES: [&str; 2] = ["train", "infer"];

/// The bar for a family × mode group: at least 85% of the held-out slice within
/// 10% of the measured peak. The slices short of it are pinned here, so that the list
/// cannot go stale (it may only shrink); why they are short:
/// - lstm/infer hidden=1024, layers=2, seq=64, batch=32, precision=fp32: lstm-408 (fp32,
///   2 layers, batch 32, seq 64) is within 10% only with the weights' part of the
///   inference workspace, which these slices, left out, take with them (it misses by
///   11–23%): what cuDNN's inference workspace holds is not knowable offline, and a
///   slice holds 3 to 6 steps, so one miss puts it under the bar.
/// - lstm/infer hidden=256: without it the weights' part of the inference workspace is
///   calibrated on H = 1024 alone, where it trades off against the per-layer part.
/// - cnn/train image=32, batch=32, precision=fp32: the fp32 steps at 32×32 images and
///   batch 32 are the only evidence of cuDNN's non-fused Winograd in backward; without
///   the slice the calibration charges none, and cnn-207, 331, 316, 307 and 355 miss by
///   15–22% as they did before the rule.
/// - cnn/train stages=2: it holds cnn-307, 331 and 355, the evidence for Winograd up to
///   512 rows (16×16 layers at batch 32); without it the bound falls to 32 rows and they
///   miss by 15–21% as before.
/// - cnn/train stages=4, filters=32: they hold cnn-367, 349, 379 and 287 (fp32, batch
///   128, filters 32: 43–66% short whatever is charged, an engine at 4×4 that no
///   documented algorithm sizes), and cnn-207 and 316, the evidence for Winograd up to
///   256 output channels; without them the bound falls to 128 and those two miss by
///   10.1% and 11.2%. Which engine cuDNN's heuristic picks, and where it switches, is
///   not knowable offline (see `ConvWorkspace`).
const BAR_WITHIN10: f64 = 0.85;
const SHORT_SLICES: [&str; 12] = [
    "lstm/infer hidden=1024",
    "lstm/infer hidden=256",
    "lstm/infer layers=2",
    "lstm/infer seq=64",
    "lstm/infer batch=32",
    "lstm/infer precision=fp32",
    "cnn/train image=32",
    "cnn/train stages=2",
    "cnn/train stages=4",
    "cnn/train filters=32",
    "cnn/train batch=32",
    "cnn/train precision=fp32",
];

#[test]
fn h100_spaces_are_the_calibration_of_all_cases() {
    let cases = cases_of("lstm");
    let all: Vec<&Case> = cases.iter().collect();
    let s = calibrate_lstm(&all);
    println!("{s:?}");
    for mode in MODES {
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
fn h100_conv_workspace_is_the_calibration_of_all_cases() {
    let cases = cases_of("cnn");
    let all: Vec<&Case> = cases.iter().collect();
    assert_eq!(calibrate_cnn(&all), ConvWorkspace::H100);
}

/// Every slice of every axis of one family's grid, each predicted by what was calibrated
/// without it: a row of the table and of the JSON each.
fn slices<C: Copy>(
    family: &str,
    axes: &[&str],
    calibrate: impl Fn(&[&Case]) -> C,
    predict: impl Fn(&Case, C) -> f64,
    describe: impl Fn(C) -> String,
) -> Vec<Value> {
    let cases = cases_of(family);
    let mut rows = Vec::new();
    for mode in MODES {
        for &axis in axes {
            let group: Vec<&Case> = cases.iter().filter(|c| c.case["mode"] == mode).collect();
            let mut values: Vec<String> = group.iter().map(|c| axis_value(&c.case, axis)).collect();
            values.sort();
            values.dedup();
            for v in values {
                let held = |c: &Case| c.case["mode"] == mode && axis_value(&c.case, axis) == v;
                let kept: Vec<&Case> = cases.iter().filter(|c| !held(c)).collect();
                let out: Vec<&Case> = cases.iter().filter(|c| held(c)).collect();
                let s = calibrate(&kept);
                let errs: Vec<f64> = out.iter().map(|c| predict(c, s)).collect();
                rows.push(json!({"group": format!("{family}/{mode}"), "axis": axis, "held_out": v,
                    "n": out.len(), "calibration": describe(s),
                    "within10": within10(&errs), "median": median_abs(&errs),
                    "errors": out.iter().zip(&errs).map(|(c, e)| json!({"id": c.case["id"], "error": e})).collect::<Vec<_>>()}));
            }
        }
    }
    rows
}

#[test]
fn each_grid_slice_predicted_without_it() {
    let mut rows = slices("lstm", &LSTM_AXES, calibrate_lstm, rel_error, |s| {
        format!(
            "persistent {:.2}H, training {} MiB, inference {} MiB/layer + {:.2}W",
            s.persistent_workspace_quarter_h as f64 / 4.0,
            s.training_workspace_bytes / MIB,
            s.inference_workspace_layer_bytes / MIB,
            s.inference_weight_quarters as f64 / 4.0
        )
    });
    rows.extend(slices("cnn", &CNN_AXES, calibrate_cnn, cnn_error, |w| {
        let winograd = match w.f32_winograd_max_rows {
            0 => "no Winograd".to_string(),
            rows => format!(
                "Winograd ≤{rows} rows ≤{} out",
                w.f32_winograd_max_out_channels
            ),
        };
        format!(
            "fp32 {:.2} B/out, bf16 {:.2} B/out, {winograd}",
            w.f32_quarter_bytes as f64 / 4.0,
            w.bf16_quarter_bytes as f64 / 4.0,
        )
    }));
    let mut short = Vec::new();
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap().to_string();
        let slice = format!("{} {}={}", s("group"), s("axis"), s("held_out"));
        let (w, m) = (
            r["within10"].as_f64().unwrap(),
            r["median"].as_f64().unwrap(),
        );
        println!(
            "{slice:<28} {:>3} | {:<62} | {:>6.1}% {:>6.2}%",
            r["n"],
            s("calibration"),
            100.0 * w,
            100.0 * m
        );
        if w < BAR_WITHIN10 {
            short.push(slice);
        }
    }
    write_table("slices", rows);
    assert_eq!(short, SHORT_SLICES, "held-out slices under the bar");
}

/// Adds `rows` to `target/memory_leave_one_out.json` under `key` (the two tests write
/// their own keys, in either order).
fn write_table(key: &str, rows: Vec<Value>) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap();
    let mut all: Value = std::fs::read_to_string(OUT)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    all[key] = Value::Array(rows);
    let _ = std::fs::create_dir_all(std::path::Path::new(OUT).parent().unwrap());
    std::fs::write(OUT, serde_json::to_string(&all).unwrap()).unwrap();
}

/// Each step of one family predicted by what was calibrated without it, per mode: a row
/// per group, with the steps past 10%.
fn steps<C>(
    family: &str,
    calibrate: impl Fn(&[&Case]) -> C,
    predict: impl Fn(&Case, C) -> f64,
) -> Vec<Value> {
    let cases = cases_of(family);
    MODES
        .iter()
        .map(|&mode| {
            let mut errs = Vec::new();
            let mut misses = Vec::new();
            for (i, c) in cases.iter().enumerate() {
                if c.case["mode"] != mode {
                    continue;
                }
                let kept: Vec<&Case> = (cases.iter().enumerate())
                    .filter(|&(j, _)| j != i)
                    .map(|(_, k)| k)
                    .collect();
                let e = predict(c, calibrate(&kept));
                if e.abs() > 0.10 {
                    misses.push(json!({"id": c.case["id"], "error": e}));
                }
                errs.push(e);
            }
            json!({"group": format!("{family}/{mode}"), "n": errs.len(),
                "within10": within10(&errs), "median": median_abs(&errs), "misses": misses})
        })
        .collect()
}

/// The steps that miss by more than 10% when left out: the dev misses of the full
/// calibration (cnn-209; cnn-367, 349, 379 and 287, see [`SHORT_SLICES`]); cnn-207 and
/// 316 (fp32, 4 stages of 2 convolutions, batch 32), the two steps that need Winograd
/// at 256 output channels, so that without either the bound falls to 128 and it misses
/// by 10.1% or 11.2%; and lstm-408, the one step that pins the weights' part of the
/// inference workspace (two layers of H = 1024 at 2,048 tokens; see [`CudnnRnnSpaces`]).
const STEP_MISSES: [&str; 8] = [
    "lstm-408", "cnn-207", "cnn-287", "cnn-316", "cnn-349", "cnn-367", "cnn-379", "cnn-209",
];

#[test]
fn each_step_predicted_without_it() {
    let mut rows = steps("lstm", calibrate_lstm, rel_error);
    rows.extend(steps("cnn", calibrate_cnn, cnn_error));
    let mut misses = Vec::new();
    for r in &rows {
        let ids: Vec<&str> = (r["misses"].as_array().unwrap().iter())
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        println!(
            "{:<10} {:>3} | {:>6.1}% {:>6.2}% | {}",
            r["group"].as_str().unwrap(),
            r["n"],
            100.0 * r["within10"].as_f64().unwrap(),
            100.0 * r["median"].as_f64().unwrap(),
            ids.join(" ")
        );
        misses.extend(ids.into_iter().map(str::to_string));
    }
    write_table("steps", rows);
    assert_eq!(misses, STEP_MISSES, "steps missed when left out");
}
