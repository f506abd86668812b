//! The 2^20-candidate llama space (`examples/llama_1m_space.toml`) with a memory budget
//! and top 100 by params, beside the plain per-candidate path in the same run: the
//! sweep's wall time; how many candidates it simulated (those the bound let through
//! that rank before the 100th that fits); and the plain path's cost, every candidate
//! that satisfies the constraints evaluated in full, measured over a spread sample of
//! 1 in 97 on one thread and scaled to the space (rate × N). Then the same space ranked
//! by `peak_bytes`, top 100.
//! `cargo bench -p archbudget-core --bench sweep_speed`
use archbudget_core::space::family::Evaluator;
use archbudget_core::space::{sweep, Space, SweepOptions};
use std::time::Instant;

const GIB: u64 = 1 << 30;

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/llama_1m_space.toml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let space = Space::from_toml(&text, path, &|_| unreachable!()).unwrap();
    let eval = Evaluator::new(&space);
    let mut digits = vec![0; space.axes.len()];
    let valid: Vec<u64> = (0..space.size)
        .filter(|&i| {
            space.digits(i, &mut digits);
            space.constraints_hold(&digits).unwrap()
        })
        .collect();
    let cores = rayon::current_num_threads();
    println!(
        "{} candidates, {} satisfy the constraints; {cores} threads",
        space.size,
        valid.len()
    );

    // plain path: one full evaluation per candidate, on one thread
    let sample: Vec<u64> = valid.iter().copied().step_by(97).collect();
    let start = Instant::now();
    for &i in &sample {
        space.digits(i, &mut digits);
        std::hint::black_box(eval.metrics(&digits).unwrap());
    }
    let per_candidate = start.elapsed().as_secs_f64() / sample.len() as f64;
    let plain = per_candidate * valid.len() as f64 / cores as f64;
    println!(
        "plain path: {:.1} µs per candidate (sample of {}) x {} candidates / {cores} threads = {plain:.1} s",
        per_candidate * 1e6,
        sample.len(),
        valid.len()
    );

    for budget in [80 * GIB, 24 * GIB] {
        let opts = SweepOptions {
            max_memory: Some(budget),
            sort: Some("params".into()),
            descending: true,
            top: Some(100),
            ..Default::default()
        };
        let mut best = f64::MAX;
        let mut cols = None;
        for _ in 0..3 {
            let start = Instant::now();
            cols = Some(sweep(&space, &opts).unwrap());
            best = best.min(start.elapsed().as_secs_f64());
        }
        let cols = cols.unwrap();
        let params = &cols.metrics[0].1;
        let last = (*params.last().unwrap(), *cols.index.last().unwrap());
        // what the lazy top-K simulated: candidates the bound lets through ranking no
        // later than the last row kept (params descending, then index)
        let (mut through_bound, mut simulated) = (0u64, 0u64);
        for &i in &valid {
            space.digits(i, &mut digits);
            let (p, _) = eval.params(&digits).unwrap();
            if eval.peak_bound(&digits).unwrap() > budget {
                continue;
            }
            through_bound += 1;
            simulated += u64::from(p > last.0 || (p == last.0 && i <= last.1));
        }
        println!(
            "--max-memory {}GiB --sort params --descending --top 100: {} rows in {best:.3} s (best of 3); \
             {through_bound} candidates within the bound, {simulated} simulated; {:.0}x faster than the plain path",
            budget / GIB,
            cols.index.len(),
            plain / best
        );
    }

    // ranked by peak: candidates are simulated in the order of their bounds until the
    // next bound is above the 100th peak
    let opts = SweepOptions {
        sort: Some("peak_bytes".into()),
        top: Some(100),
        ..Default::default()
    };
    let start = Instant::now();
    let cols = sweep(&space, &opts).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let last_peak = *cols.metrics[3].1.last().unwrap();
    let simulated = valid
        .iter()
        .filter(|&&i| {
            space.digits(i, &mut digits);
            eval.peak_bound(&digits).unwrap() <= last_peak
        })
        .count();
    println!(
        "--sort peak_bytes --top 100: {} rows in {seconds:.3} s; {simulated} candidates with a bound \
         at most the 100th peak, simulated; {:.0}x faster than the plain path",
        cols.index.len(),
        plain / seconds
    );
}
