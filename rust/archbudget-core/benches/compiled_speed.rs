//! The compiled memory model beside the simulator, in one run: µs per candidate of each
//! family's memory estimate (its graph built beforehand), over candidates whose weights
//! all differ (a sweep over sizes: nothing remembered helps) and over candidates of one
//! model at several batch sizes (what `fit`, `Budget.check` and a sweep over run
//! settings evaluate), with the share of candidates the symbolic tape evaluated; then
//! the cost a transformers sweep candidate pays besides (config → counts, architecture
//! → graph: the compiled model still needs the Graph), and the tapes' hit rate and
//! time per candidate over sweep grids evaluated in enumeration order, graph included.
//! `cargo bench -p archbudget-core --bench compiled_speed [sweep|transformers|small|grids]`
//! (one section; all by default); `fitted [NAME]` runs the sweep spaces' fitted path
//! alone, for instruction counts under callgrind.
use archbudget_core::formats::{hf, keras};
use archbudget_core::memory::compiled::cache;
use archbudget_core::memory::families::{Cnn, LstmNet, Mlp};
use archbudget_core::memory::{self, compiled, Graph, Mode, Precision, RunSettings};
use archbudget_core::space::{family::Evaluator, symbolic, Space};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Mean time per item of one round of `f` over `n` items.
fn round<F: FnMut()>(n: usize, f: &mut F) -> Duration {
    let rounds = (200 / n).max(2);
    let start = Instant::now();
    for _ in 0..rounds {
        f();
    }
    start.elapsed() / (rounds * n) as u32
}

/// Best of 9 rounds each of `a` and `b`, the rounds alternating so that both see the
/// same load on a shared machine.
fn pair<A: FnMut(), B: FnMut()>(n: usize, mut a: A, mut b: B) -> (Duration, Duration) {
    let (mut best_a, mut best_b) = (Duration::MAX, Duration::MAX);
    for _ in 0..9 {
        best_a = best_a.min(round(n, &mut a));
        best_b = best_b.min(round(n, &mut b));
    }
    (best_a, best_b)
}

/// Best of 9 rounds of the mean time per call of `f` over `n` items.
fn per_item<F: FnMut()>(n: usize, mut f: F) -> Duration {
    (0..9).map(|_| round(n, &mut f)).min().unwrap_or_default()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Simulator and compiled model over the same candidates, each checked equal first.
fn side_by_side(name: &str, cases: &[(Graph, RunSettings)]) {
    for (g, run) in cases {
        assert_eq!(
            memory::estimate(g, run).unwrap(),
            compiled::estimate(g, run).unwrap(),
            "{name}"
        );
    }
    cache::reset_stats();
    let (sim, comp) = pair(
        cases.len(),
        || {
            for (g, run) in cases {
                black_box(memory::estimate(g, run).unwrap());
            }
        },
        || {
            for (g, run) in cases {
                black_box(compiled::estimate(g, run).unwrap());
            }
        },
    );
    let nodes = cases.iter().map(|c| c.0.nodes.len()).sum::<usize>() / cases.len();
    println!(
        "{name:<44} {nodes:>5} nodes  simulator {:>8.1} µs  compiled {:>8.1} µs  {:>6.2}x  tape {:>5.1}%",
        us(sim),
        us(comp),
        sim.as_secs_f64() / comp.as_secs_f64(),
        hit_rate(cache::stats())
    );
}

/// Share of the compiled model's candidates evaluated from a tape.
fn hit_rate(s: cache::Stats) -> f64 {
    let all = s.hits + s.recorded + s.simulated;
    100.0 * s.hits as f64 / all.max(1) as f64
}

/// A sweep grid's candidates in enumeration order, each built and estimated as a
/// sweep does, by the simulator and by the compiled model. The tapes' counts cover the
/// first pass (each structure's first candidate simulated, its second recorded) and
/// the timed rounds.
fn grid(name: &str, candidates: &[Box<dyn Fn() -> (Graph, RunSettings)>]) {
    cache::reset_stats();
    for c in candidates {
        let (g, run) = c();
        assert_eq!(
            memory::estimate(&g, &run).unwrap(),
            compiled::estimate(&g, &run).unwrap(),
            "{name}"
        );
    }
    let (sim, comp) = pair(
        candidates.len(),
        || {
            for c in candidates {
                let (g, run) = c();
                black_box(memory::estimate(&g, &run).unwrap());
            }
        },
        || {
            for c in candidates {
                let (g, run) = c();
                black_box(compiled::estimate(&g, &run).unwrap());
            }
        },
    );
    let s = cache::stats();
    println!(
        "{name:<44} {:>6} candidates  graph + simulator {:>7.1} µs  graph + compiled {:>7.1} µs  {:>5.2}x",
        candidates.len(),
        us(sim),
        us(comp),
        sim.as_secs_f64() / comp.as_secs_f64(),
    );
    println!(
        "{:<44} tape hits {:.1}% ({} hits, {} recorded, {} simulated, {} guard misses)",
        "",
        hit_rate(s),
        s.hits,
        s.recorded,
        s.simulated,
        s.guard_misses
    );
}

/// A sweep space's evaluator (fitting at a structure's 4th candidate, where a sweep
/// waits for `symbolic::FIT_AT`) and its candidates' digits in enumeration order, after
/// one pass that fits the structures, each candidate checked equal to the reference.
fn fitted_space<'a>(name: &str, space: &'a Space) -> (Evaluator<'a>, Vec<Vec<usize>>) {
    let lens: Vec<usize> = space.axes.iter().map(|a| a.values.len()).collect();
    let candidates: Vec<Vec<usize>> = (0..space.size as usize)
        .map(|index| {
            let mut digits = vec![0; lens.len()];
            let mut rest = index;
            for (d, &len) in digits.iter_mut().zip(&lens).rev() {
                *d = rest % len;
                rest /= len;
            }
            digits
        })
        .collect();
    let eval = Evaluator::fitting_at(space, 4);
    for d in &candidates {
        assert_eq!(
            eval.metrics(d).unwrap(),
            eval.simulated_metrics(d).unwrap(),
            "{name}"
        );
    }
    (eval, candidates)
}

/// A sweep space's candidates, each evaluated as a sweep does (fitted expressions where
/// its structures fit) beside the reference (counts, Graph and simulator per candidate),
/// after the first pass of [`fitted_space`]; the share evaluated from the fits in that
/// pass.
fn sweep_space(name: &str, space: Value) {
    let space = Space::from_value(&space, "bench", &|_| unreachable!()).unwrap();
    symbolic::reset_stats();
    let (eval, candidates) = fitted_space(name, &space);
    let first_pass = eval.symbolic_evaluated();
    let fits = symbolic::stats();
    let (reference, fitted) = pair(
        candidates.len(),
        || {
            for d in &candidates {
                black_box(eval.simulated_metrics(d).unwrap());
            }
        },
        || fitted_pass(&eval, &candidates),
    );
    println!(
        "{name:<40} {:>4} candidates  counts+graph+simulator {:>7.2} µs  fitted {:>6.3} µs  {:>6.1}x  first pass {:>5.1}% fitted ({} fits, {} failed)",
        candidates.len(),
        us(reference),
        us(fitted),
        reference.as_secs_f64() / fitted.as_secs_f64(),
        100.0 * first_pass as f64 / candidates.len() as f64,
        fits.fitted,
        fits.failed
    );
}

/// One pass of the fitted path over `candidates` (a function of its own, so that
/// `valgrind --tool=callgrind --toggle-collect='*fitted_pass*'` counts its instructions
/// alone: the `fitted` section).
#[inline(never)]
fn fitted_pass(eval: &Evaluator, candidates: &[Vec<usize>]) {
    for d in candidates {
        black_box(eval.metrics(d).unwrap());
    }
}

/// The fitted path alone, 10 passes per space (`fitted [NAME]`: the spaces whose name
/// starts with NAME), for instruction counts under callgrind, which is stable where
/// times on a shared machine are not: its instructions over 10 × candidates are a
/// candidate's.
fn fitted_only(prefix: Option<&str>) {
    for (name, space) in sweep_spaces() {
        if prefix.is_some_and(|p| !name.starts_with(p)) {
            continue;
        }
        let space = Space::from_value(&space, "bench", &|_| unreachable!()).unwrap();
        let (eval, candidates) = fitted_space(name, &space);
        let start = Instant::now();
        for _ in 0..10 {
            fitted_pass(&eval, &candidates);
        }
        let per = start.elapsed() / (10 * candidates.len()) as u32;
        println!(
            "{name:<40} {:>4} candidates  fitted {:>6.3} µs  ({} evaluated from fits)",
            candidates.len(),
            us(per),
            eval.symbolic_evaluated()
        );
    }
}

fn llama(layers: u64, hidden: u64) -> Value {
    json!({"model_type": "llama", "hidden_size": hidden, "intermediate_size": hidden * 7 / 2,
           "num_hidden_layers": layers, "num_attention_heads": hidden / 128,
           "num_key_value_heads": 8, "vocab_size": 128256})
}

fn mixtral(hidden: u64) -> Value {
    json!({"model_type": "mixtral", "hidden_size": hidden, "intermediate_size": hidden * 7 / 2,
           "num_hidden_layers": 32, "num_attention_heads": hidden / 128,
           "num_key_value_heads": 8, "vocab_size": 32000, "num_local_experts": 8,
           "num_experts_per_tok": 2})
}

fn hf_graph(cfg: &Value, run: &RunSettings) -> (Graph, RunSettings) {
    let arch = hf::arch(cfg, None, "bench").unwrap();
    let run = memory::hf::run_for_config(cfg, run).unwrap();
    let g = memory::hf::graph(&arch, &memory::hf::Dropouts::from_config(cfg), &run).unwrap();
    (g, run)
}

fn keras_dense(depth: usize, units: u64) -> Value {
    let mut layers = vec![
        json!({"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [null, 256]}}),
    ];
    for i in 0..depth {
        layers.push(json!({"class_name": "Dense", "config": {"name": format!("d{i}"), "units": units, "activation": "relu"}}));
        layers.push(
            json!({"class_name": "BatchNormalization", "config": {"name": format!("bn{i}")}}),
        );
    }
    layers.push(json!({"class_name": "Dense", "config": {"name": "head", "units": 10}}));
    json!({"class_name": "Sequential", "config": {"name": "m", "layers": layers}})
}

/// More distinct models than the compiled model remembers, so that every one misses.
const HIDDEN: [u64; 6] = [2048, 2560, 3072, 3584, 4096, 4608];

fn main() {
    // cargo passes `--bench`; a section's name picks that section alone
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let only = args.next();
    let wants = |section: &str| only.as_deref().is_none_or(|o| o == section);
    let train_bf16 = RunSettings {
        batch: 4,
        seq: 2048,
        precision: Precision::Bf16,
        ..RunSettings::default()
    };
    let runs = [
        ("train bf16", train_bf16),
        (
            "train amp ckpt",
            RunSettings {
                precision: Precision::AmpBf16,
                grad_ckpt: true,
                ..train_bf16
            },
        ),
        (
            "infer fp32",
            RunSettings {
                mode: Mode::Infer,
                precision: Precision::Fp32,
                ..train_bf16
            },
        ),
    ];
    if wants("sweep") {
        sweep_candidates();
    }
    // not in the default run: the fitted path alone, for callgrind
    if only.as_deref() == Some("fitted") {
        fitted_only(args.next().as_deref());
    }
    if wants("transformers") {
        transformers(&runs);
    }
    if wants("small") {
        small_graphs();
    }
    if wants("grids") {
        grids(train_bf16);
    }
}

/// The sweep spaces of the `sweep` and `fitted` sections.
fn sweep_spaces() -> Vec<(&'static str, Value)> {
    vec![
        (
            "llama 16/32 layers, train bf16",
            json!({"family": "hf",
        "fixed": {"model_type": "llama", "num_attention_heads": 16, "num_key_value_heads": 8},
        "axes": {"num_hidden_layers": [16, 32], "hidden_size": [2048, 3072, 4096],
                 "intermediate_size": [5632, 11008], "vocab_size": [32000, 128256]},
        "run": {"batch": [1, 2, 4, 8], "seq": [1024, 2048, 4096], "precision": "bf16"}}),
        ),
        (
            "mixtral 8 layers, infer amp",
            json!({"family": "hf",
        "fixed": {"model_type": "mixtral", "num_attention_heads": 32, "num_key_value_heads": 8,
                  "num_hidden_layers": 8, "num_local_experts": 8, "num_experts_per_tok": 2},
        "axes": {"hidden_size": [2048, 4096], "intermediate_size": [5632, 14336], "vocab_size": [32000, 128256]},
        "run": {"batch": [1, 2, 4, 8], "seq": [1024, 2048, 4096], "precision": "amp_bf16", "mode": "infer"}}),
        ),
        (
            "mistral 16 layers sliding, train bf16",
            json!({"family": "hf",
        "fixed": {"model_type": "mistral", "num_attention_heads": 32, "num_key_value_heads": 8,
                  "num_hidden_layers": 16, "sliding_window": 4096},
        "axes": {"hidden_size": [2048, 4096], "intermediate_size": [5632, 14336], "vocab_size": [32000, 32768]},
        "run": {"batch": [1, 2, 4], "seq": [2048, 4096, 8192], "precision": "bf16"}}),
        ),
        (
            "qwen3_moe 8 layers, train bf16",
            json!({"family": "hf",
        "fixed": {"model_type": "qwen3_moe", "num_attention_heads": 32, "num_key_value_heads": 4,
                  "head_dim": 128, "num_hidden_layers": 8, "num_experts": 8, "num_experts_per_tok": 2,
                  "moe_intermediate_size": 768, "decoder_sparse_step": 1},
        "axes": {"hidden_size": [2048, 4096], "vocab_size": [32000, 151936]},
        "run": {"batch": [1, 2, 4, 8], "seq": [1024, 2048, 4096], "precision": "bf16"}}),
        ),
        (
            "deepseek_v3 8 layers MLA, train bf16",
            json!({"family": "hf",
        "fixed": {"model_type": "deepseek_v3", "num_attention_heads": 16, "num_key_value_heads": 16,
                  "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_rope_head_dim": 64,
                  "qk_nope_head_dim": 128, "v_head_dim": 128, "n_routed_experts": 8,
                  "num_experts_per_tok": 2, "n_shared_experts": 1, "first_k_dense_replace": 1,
                  "n_group": 1, "topk_group": 1, "moe_intermediate_size": 1408, "num_hidden_layers": 8},
        "axes": {"hidden_size": [2048, 4096], "intermediate_size": [5632, 11008], "vocab_size": [32000, 102400]},
        "run": {"batch": [1, 2, 4], "seq": [1024, 2048, 4096], "precision": "bf16"}}),
        ),
        (
            "gemma3_text 12 layers 5:1 sliding, train",
            json!({"family": "hf",
        "fixed": {"model_type": "gemma3_text", "num_attention_heads": 8, "num_key_value_heads": 4,
                  "head_dim": 256, "num_hidden_layers": 12, "sliding_window": 1024},
        "axes": {"hidden_size": [1152, 2304], "intermediate_size": [6912, 9216], "vocab_size": [32000, 262144]},
        "run": {"batch": [1, 2, 4], "seq": [1024, 2048, 4096], "precision": "bf16"}}),
        ),
        (
            "gpt2 12 layers, train amp",
            json!({"family": "hf",
        "fixed": {"model_type": "gpt2", "n_layer": 12, "n_head": 12, "n_embd": 768, "n_positions": 4096},
        "axes": {"vocab_size": [32000, 50257]},
        "run": {"batch": [1, 2, 4, 8], "seq": [512, 1024, 2048], "precision": "amp_bf16"}}),
        ),
        (
            "bert 12 layers, infer fp32",
            json!({"family": "hf",
        "fixed": {"model_type": "bert", "num_hidden_layers": 12, "num_attention_heads": 12},
        "axes": {"hidden_size": [768, 1536], "intermediate_size": [3072, 6144], "vocab_size": [30522, 50000]},
        "run": {"batch": [8, 32, 64], "seq": [128, 256, 512], "mode": "infer"}}),
        ),
        (
            "mlp depth 2/8, train",
            json!({"family": "mlp",
        "axes": {"input_dim": [784, 3072], "depth": [2, 8], "width": [256, 512, 1024, 2048, 4096],
                 "classes": [10, 100]},
        "run": {"batch": [32, 128, 512]}}),
        ),
        (
            "mlp depth 64, infer",
            json!({"family": "mlp",
        "axes": {"input_dim": [784, 3072], "depth": [64], "width": [512, 1024, 1536, 2048, 3072],
                 "classes": [10, 100]},
        "run": {"batch": [32, 128, 512], "mode": "infer"}}),
        ),
        (
            "cnn 3x2 convs + BN, train",
            json!({"family": "cnn",
        "fixed": {"image": 64, "channels": 3, "stages": 3, "convs": 2, "batchnorm": true},
        "axes": {"filters": [8, 16, 24, 32, 48, 64], "classes": [10, 100, 1000]},
        "run": {"batch": [32, 128, 256]}}),
        ),
        (
            "lstm 2 layers, train",
            json!({"family": "lstm",
        "fixed": {"layers": 2, "classes": 5},
        "axes": {"vocab": [5000, 20000], "embed": [128, 256], "hidden": [128, 256, 384, 512],
                 "seq": [64, 128]},
        "run": {"batch": [32, 128]}}),
        ),
        (
            "keras 16 x Dense+BN, train",
            json!({"family": "keras",
        "template": keras_dense(16, 512),
        "axes": {"d0.units": [128, 256, 384, 512, 768, 1024], "head.units": [10, 100]},
        "run": {"batch": [32, 128, 256]}}),
        ),
    ]
}

fn sweep_candidates() {
    println!("-- sweep candidates: the reference (counts + Graph + simulator) / the fitted expressions (no Graph)");
    for (name, space) in sweep_spaces() {
        sweep_space(name, space);
    }
}

fn transformers(runs: &[(&str, RunSettings)]) {
    let train_bf16 = runs[0].1;
    println!("-- transformers: six hidden sizes (weights differ) / one model at batch 1, 2, 4, 8");
    for layers in [32, 80] {
        for (label, run) in runs {
            let sizes: Vec<_> = HIDDEN
                .iter()
                .map(|&h| hf_graph(&llama(layers, h), run))
                .collect();
            side_by_side(&format!("llama {layers} layers {label}, sizes"), &sizes);
            let batches: Vec<_> = [1, 2, 4, 8]
                .iter()
                .map(|&batch| hf_graph(&llama(layers, 4096), &RunSettings { batch, ..*run }))
                .collect();
            side_by_side(&format!("llama {layers} layers {label}, batches"), &batches);
        }
    }
    let moe: Vec<_> = HIDDEN
        .iter()
        .map(|&h| hf_graph(&mixtral(h), &train_bf16))
        .collect();
    side_by_side("mixtral 32 layers train bf16, sizes", &moe);
}

fn small_graphs() {
    println!("-- mlp / cnn / lstm / Keras template, train fp32 AdamW and infer, batch 256");
    for (label, mode) in [("train", Mode::Train), ("infer", Mode::Infer)] {
        let run = RunSettings {
            mode,
            batch: 256,
            ..RunSettings::default()
        };
        let mut mlps = Vec::new();
        for depth in [2, 4, 8] {
            for width in [256, 1024, 4096] {
                let mlp = Mlp {
                    input_dim: 784,
                    depth,
                    width,
                    classes: 10,
                };
                mlps.push((mlp.graph(256).unwrap(), run));
            }
        }
        side_by_side(&format!("mlp depth 2-8, {label}, sizes"), &mlps);
        let deep: Vec<_> = [512, 768, 1024, 1536, 2048, 3072]
            .iter()
            .map(|&width| {
                let mlp = Mlp {
                    input_dim: 784,
                    depth: 64,
                    width,
                    classes: 10,
                };
                (mlp.graph(256).unwrap(), run)
            })
            .collect();
        side_by_side(&format!("mlp depth 64, {label}, sizes"), &deep);
        let batches: Vec<_> = [32, 64, 128, 256, 512, 1024]
            .iter()
            .map(|&batch| {
                let mlp = Mlp {
                    input_dim: 784,
                    depth: 8,
                    width: 1024,
                    classes: 10,
                };
                (mlp.graph(batch).unwrap(), RunSettings { batch, ..run })
            })
            .collect();
        side_by_side(&format!("mlp depth 8, {label}, batches"), &batches);
        let cnns: Vec<_> = [8, 16, 24, 32, 48, 64]
            .iter()
            .map(|&filters| {
                let cnn = Cnn {
                    image: 64,
                    channels: 3,
                    stages: 3,
                    convs: 2,
                    filters,
                    batchnorm: true,
                    classes: 100,
                };
                (cnn.graph(256).unwrap(), run)
            })
            .collect();
        side_by_side(&format!("cnn 3x2 convs, {label}, sizes"), &cnns);
        let lstms: Vec<_> = [128, 256, 384, 512, 768, 1024]
            .iter()
            .map(|&hidden| {
                let lstm = LstmNet {
                    vocab: 20000,
                    embed: 256,
                    hidden,
                    layers: 2,
                    seq: 128,
                    classes: 5,
                };
                (lstm.graph(256).unwrap(), run)
            })
            .collect();
        side_by_side(&format!("lstm 2 layers, {label}, sizes"), &lstms);
        let templates: Vec<_> = [128, 256, 384, 512, 768, 1024]
            .iter()
            .map(|&units| {
                let model =
                    keras::model_from_value(&keras_dense(16, units), None, "bench").unwrap();
                (memory::keras::graph(&model, &run, "bench").unwrap(), run)
            })
            .collect();
        side_by_side(&format!("keras 16 x Dense+BN, {label}, sizes"), &templates);
    }
}

fn grids(train_bf16: RunSettings) {
    println!("-- what else a transformers sweep candidate pays (llama 32 layers, train bf16)");
    let cfg = llama(32, 4096);
    let count = per_item(1, || {
        black_box(hf::count(&cfg, None, "bench").unwrap());
    });
    let arch = hf::arch(&cfg, None, "bench").unwrap();
    let drop = memory::hf::Dropouts::from_config(&cfg);
    let graph = per_item(1, || {
        black_box(memory::hf::graph(&arch, &drop, &train_bf16).unwrap());
    });
    println!(
        "counts {:.1} µs, graph {:.1} µs (memory above; the compiled model takes the Graph)",
        us(count),
        us(graph)
    );
    for (name, cfg) in [("llama", &cfg), ("mixtral", &mixtral(4096))] {
        let (g, run) = hf_graph(cfg, &train_bf16);
        let tape = compiled::tape::Tape::compile(&g, &run).unwrap().1.unwrap();
        println!(
            "{name} 32 layers' tape: {} classes, {} marks recorded, {} compared per candidate",
            tape.classes(),
            tape.recorded_marks,
            tape.kept_marks()
        );
    }

    println!("-- sweep grids in enumeration order, graph built per candidate");
    let mut mlps: Vec<Box<dyn Fn() -> (Graph, RunSettings)>> = Vec::new();
    for depth in [1, 2, 4, 8] {
        for width in [128, 256, 512, 1024, 2048] {
            for batch in [32, 128, 512] {
                mlps.push(Box::new(move || {
                    let mlp = Mlp {
                        input_dim: 784,
                        depth,
                        width,
                        classes: 10,
                    };
                    let run = RunSettings {
                        batch,
                        ..RunSettings::default()
                    };
                    (mlp.graph(batch).unwrap(), run)
                }));
            }
        }
    }
    grid("mlp depth x width x batch, train", &mlps);
    let mut llamas: Vec<Box<dyn Fn() -> (Graph, RunSettings)>> = Vec::new();
    for layers in [16, 32] {
        for hidden in [2048, 3072, 4096] {
            for batch in [1, 4] {
                for seq in [1024, 4096] {
                    llamas.push(Box::new(move || {
                        let run = RunSettings {
                            batch,
                            seq,
                            ..train_bf16
                        };
                        hf_graph(&llama(layers, hidden), &run)
                    }));
                }
            }
        }
    }
    grid("llama layers x hidden x batch x seq, bf16", &llamas);
}
