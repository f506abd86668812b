//! Where the time of `summary` of a Keras Application goes: parsing the text into a JSON
//! tree, building the model (shape propagation, weights), the summary rows, and freeing
//! it all; beside serde_json's plain parse of the same text into a `Value` (what the
//! reader used before it dropped the weight settings while parsing). Fastest of 15 runs,
//! with the allocator of the Python wheel (mimalloc).
//! `cargo bench -p archbudget-core --bench summary_speed [NAME ...]`; the whole call
//! beside Python's json.loads: benches/bench_summary.py.
use archbudget_core::formats::keras;
use serde_json::Value;
use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The fastest run, in ms: on a shared machine the others are mostly preemption.
fn fastest(times: Vec<Duration>) -> f64 {
    times.into_iter().min().unwrap_or_default().as_secs_f64() * 1e3
}

/// The Applications of the Keras oracle fixtures: (name, JSON text).
fn applications() -> Vec<(String, String)> {
    let mut found = Vec::new();
    for fixture in ["keras_models_dev.json.gz", "keras_models_extra.json.gz"] {
        let path = format!("{}/../../tests/data/{fixture}", env!("CARGO_MANIFEST_DIR"));
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        for m in doc["models"].as_array().unwrap() {
            if m["kind"] == "application" {
                found.push((
                    m["name"].as_str().unwrap().to_string(),
                    m["model_json"].to_string(),
                ));
            }
        }
    }
    found.sort();
    found
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!("value reader: parse into a JSON tree, build, rows, free; text reader (what `summary` uses): read the text into the graph and build, rows, free");
    println!(
        "{:<28}{:>6}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8} |{:>8}{:>8}{:>8}{:>8}",
        "model",
        "MB",
        "serde",
        "parse",
        "build",
        "rows",
        "free",
        "total",
        "read",
        "rows",
        "free",
        "total"
    );
    for (name, text) in applications() {
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let bytes = text.as_bytes();
        let mut t: [Vec<Duration>; 9] = Default::default();
        for _ in 0..15 {
            let mut lap = |slot: usize, start: Instant| t[slot].push(start.elapsed());
            let s = Instant::now();
            drop(black_box(serde_json::from_slice::<Value>(bytes).unwrap()));
            lap(0, s);
            let s = Instant::now();
            let value = keras::parse_bytes(bytes, "m").unwrap();
            lap(1, s);
            let s = Instant::now();
            let model = keras::summary_model(&value, None, "m", true).unwrap();
            lap(2, s);
            let s = Instant::now();
            black_box(keras::summarize(&model, "m").unwrap());
            lap(3, s);
            let s = Instant::now();
            drop(value);
            drop(model);
            lap(4, s);
            let s = Instant::now();
            let model = keras::summary_model_from_text(bytes, "m", true)
                .unwrap()
                .unwrap();
            lap(5, s);
            let s = Instant::now();
            let summary = black_box(keras::summarize(&model, "m").unwrap());
            lap(6, s);
            let s = Instant::now();
            drop(model);
            drop(summary);
            lap(7, s);
        }
        let ms: Vec<f64> = t.into_iter().map(fastest).collect();
        println!(
            "{name:<28}{:>6.2}{:>8.2}{:>8.2}{:>8.2}{:>8.2}{:>8.2}{:>8.2} |{:>8.2}{:>8.2}{:>8.2}{:>8.2}",
            bytes.len() as f64 / 1e6,
            ms[0],
            ms[1],
            ms[2],
            ms[3],
            ms[4],
            ms[1] + ms[2] + ms[3] + ms[4],
            ms[5],
            ms[6],
            ms[7],
            ms[5] + ms[6] + ms[7],
        );
    }
}
