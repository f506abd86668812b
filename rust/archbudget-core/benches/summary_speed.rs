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
    println!(
        "{:<28}{:>8}{:>11}{:>9}{:>9}{:>9}{:>9}{:>10}",
        "model", "MB", "serde Value", "parse", "build", "rows", "free", "summary"
    );
    for (name, text) in applications() {
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let bytes = text.as_bytes();
        let (mut plain, mut parse, mut build, mut rows, mut free) =
            (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..15 {
            let t = Instant::now();
            drop(black_box(serde_json::from_slice::<Value>(bytes).unwrap()));
            plain.push(t.elapsed());
            let t = Instant::now();
            let value = keras::parse_bytes(bytes, "m").unwrap();
            parse.push(t.elapsed());
            let t = Instant::now();
            let model = keras::summary_model(&value, None, "m", true).unwrap();
            build.push(t.elapsed());
            let t = Instant::now();
            black_box(keras::summarize(&model, "m").unwrap());
            rows.push(t.elapsed());
            let t = Instant::now();
            drop(value);
            drop(model);
            free.push(t.elapsed());
        }
        let (p, b, r, f) = (fastest(parse), fastest(build), fastest(rows), fastest(free));
        println!(
            "{name:<28}{:>8.2}{:>11.2}{p:>9.2}{b:>9.2}{r:>9.2}{f:>9.2}{:>10.2}",
            bytes.len() as f64 / 1e6,
            fastest(plain),
            p + b + r + f
        );
    }
}
