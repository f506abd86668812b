//! Where the time of `summary` of a Keras Application goes: parsing the text into a
//! JSON tree, building the model (shape propagation, weights), the summary rows, and
//! freeing the tree. `cargo bench -p archbudget-core --bench summary_speed [DIR]`
//! (DIR holds one Keras JSON per file; benches/bench_summary.py compares the whole
//! call with Python's json.loads).
use archbudget_core::formats::keras;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn main() {
    let dir = std::env::args().nth(1).filter(|a| !a.starts_with('-')).unwrap_or("/tmp/apps".into());
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    println!("{:<28}{:>10}{:>10}{:>10}{:>10}{:>10}", "model", "parse", "build", "rows", "drop", "total");
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let (mut parse, mut build, mut rows, mut drop) = (vec![], vec![], vec![], vec![]);
        for _ in 0..15 {
            let t = Instant::now();
            let value = keras::parse_bytes(&bytes, "m").unwrap();
            parse.push(t.elapsed());
            let t = Instant::now();
            let model = keras::model_from_value(&value, None, "m").unwrap();
            build.push(t.elapsed());
            let t = Instant::now();
            black_box(keras::summarize(&model, "m").unwrap());
            rows.push(t.elapsed());
            let t = Instant::now();
            std::mem::drop(value);
            std::mem::drop(model);
            drop.push(t.elapsed());
        }
        let (p, b, r, d) = (median(parse), median(build), median(rows), median(drop));
        let name = path.file_stem().unwrap().to_string_lossy();
        println!("{name:<28}{p:>10.2}{b:>10.2}{r:>10.2}{d:>10.2}{:>10.2}", p + b + r + d);
    }
}
