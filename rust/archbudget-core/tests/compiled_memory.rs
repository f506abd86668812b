//! The compiled memory model (`memory::compiled`) against the simulator, its reference:
//! over random candidates of every family and random run settings, the peak, every
//! breakdown entry, the counts and the FLOPs are equal to the byte.
use archbudget_core::formats::hf;
use archbudget_core::formats::keras;
use archbudget_core::memory::compiled::cache;
use archbudget_core::memory::compiled::tape::{self, Tape};
use archbudget_core::memory::compiled::{self, fold};
use archbudget_core::memory::families::{Cnn, LstmNet, Mlp};
use archbudget_core::memory::lora::Lora;
use archbudget_core::memory::quant::Quant;
use archbudget_core::memory::{self, AttnImpl, Graph, Mode, Optimizer, Precision, RunSettings};
use proptest::prelude::*;
use serde_json::{json, Value};

/// The compiled model equals the simulator on `g`; with `must_fold`, by folding.
fn check(g: &Graph, run: &RunSettings, must_fold: bool, what: &str) {
    let reference = memory::estimate(g, run);
    let compiled = compiled::estimate(g, run);
    match (&reference, &compiled) {
        (Ok(r), Ok(c)) => assert_eq!(r, c, "{what} {run:?}"),
        (Err(r), Err(c)) => assert_eq!(r.to_string(), c.to_string(), "{what}"),
        _ => panic!("{what} {run:?}: simulator {reference:?}, compiled {compiled:?}"),
    }
    if must_fold && reference.is_ok() {
        let folded = fold::fold(g, run);
        assert_eq!(
            folded.as_ref(),
            reference.as_ref().ok(),
            "{what} folded {run:?}"
        );
    }
}

fn run_strategy() -> impl Strategy<Value = RunSettings> {
    (
        prop_oneof![Just(Mode::Train), Just(Mode::Infer), Just(Mode::Generate)],
        1u64..6,
        prop_oneof![
            Just(Precision::Fp32),
            Just(Precision::Bf16),
            Just(Precision::AmpBf16)
        ],
        prop_oneof![
            Just(Optimizer::Sgd),
            Just(Optimizer::SgdMomentum),
            Just(Optimizer::Adam),
            Just(Optimizer::AdamW)
        ],
        any::<bool>(),
        prop_oneof![Just(AttnImpl::Sdpa), Just(AttnImpl::Eager)],
        (1u64..5, 0u8..4),
        0u64..20,
    )
        .prop_map(
            |(
                mode,
                batch,
                precision,
                optimizer,
                grad_ckpt,
                attn,
                (gpus, zero_stage),
                new_tokens,
            )| {
                RunSettings {
                    mode,
                    batch,
                    seq: 1,
                    precision,
                    optimizer,
                    attn,
                    grad_ckpt,
                    new_tokens,
                    gpus,
                    zero_stage,
                    ..RunSettings::default()
                }
            },
        )
}

/// A small config of each kind of block: dense (llama, qwen3, gpt2, phi, bert),
/// sliding windows (mistral, gemma3's pattern), mixture of experts (mixtral, qwen3_moe),
/// multi-head latent attention (deepseek_v3), encoder-decoder (t5).
fn hf_config(kind: usize, layers: u64, width: u64, heads: u64) -> Value {
    let hidden = width * heads;
    match kind {
        0 => json!({"model_type": "llama", "hidden_size": hidden, "intermediate_size": 3 * hidden,
                    "num_hidden_layers": layers, "num_attention_heads": heads,
                    "num_key_value_heads": 1, "vocab_size": 1000}),
        1 => json!({"model_type": "qwen3", "hidden_size": hidden, "intermediate_size": 2 * hidden,
                    "num_hidden_layers": layers, "num_attention_heads": heads,
                    "num_key_value_heads": heads, "head_dim": width, "vocab_size": 777,
                    "tie_word_embeddings": true}),
        2 => json!({"model_type": "gpt2", "n_embd": hidden, "n_layer": layers, "n_head": heads,
                    "vocab_size": 500, "n_positions": 512}),
        3 => {
            json!({"model_type": "mistral", "hidden_size": hidden, "intermediate_size": 2 * hidden,
                    "num_hidden_layers": layers, "num_attention_heads": heads,
                    "num_key_value_heads": 1, "vocab_size": 640, "sliding_window": 8})
        }
        4 => json!({"model_type": "mixtral", "hidden_size": hidden, "intermediate_size": hidden,
                    "num_hidden_layers": layers, "num_attention_heads": heads,
                    "num_key_value_heads": 1, "vocab_size": 300, "num_local_experts": 4,
                    "num_experts_per_tok": 2}),
        5 => {
            json!({"model_type": "qwen3_moe", "hidden_size": hidden, "intermediate_size": 2 * hidden,
                    "moe_intermediate_size": hidden, "num_hidden_layers": layers,
                    "num_attention_heads": heads, "num_key_value_heads": 1, "head_dim": width,
                    "vocab_size": 300, "num_experts": 4, "num_experts_per_tok": 2,
                    "decoder_sparse_step": 1, "mlp_only_layers": []})
        }
        6 => {
            json!({"model_type": "deepseek_v3", "hidden_size": hidden, "intermediate_size": 2 * hidden,
                    "moe_intermediate_size": hidden, "num_hidden_layers": layers,
                    "num_attention_heads": heads, "num_key_value_heads": heads,
                    "q_lora_rank": 2 * width, "kv_lora_rank": width, "qk_rope_head_dim": 8,
                    "qk_nope_head_dim": width, "v_head_dim": width, "n_routed_experts": 4,
                    "num_experts_per_tok": 2, "n_shared_experts": 1, "first_k_dense_replace": 1,
                    "n_group": 1, "topk_group": 1, "vocab_size": 300})
        }
        7 => {
            json!({"model_type": "gemma3_text", "hidden_size": hidden, "intermediate_size": 2 * hidden,
                    "num_hidden_layers": layers, "num_attention_heads": heads,
                    "num_key_value_heads": 1, "head_dim": width, "vocab_size": 512,
                    "sliding_window": 8})
        }
        8 => json!({"model_type": "phi", "hidden_size": hidden, "intermediate_size": 4 * hidden,
                    "num_hidden_layers": layers, "num_attention_heads": heads, "vocab_size": 400}),
        9 => json!({"model_type": "bert", "hidden_size": hidden, "intermediate_size": 4 * hidden,
                    "num_hidden_layers": layers, "num_attention_heads": heads, "vocab_size": 600}),
        _ => json!({"model_type": "t5", "d_model": hidden, "d_ff": 2 * hidden, "d_kv": width,
                    "num_layers": layers, "num_decoder_layers": layers, "num_heads": heads,
                    "vocab_size": 300}),
    }
}

const HF_KINDS: usize = 11;

fn hf_graph(
    cfg: &Value,
    head: Option<hf::Head>,
    run: &RunSettings,
) -> Option<(Graph, RunSettings)> {
    let arch = hf::arch(cfg, head, "test").ok()?;
    let run = memory::hf::run_for_config(cfg, run).ok()?;
    let g = memory::hf::graph(&arch, &memory::hf::Dropouts::from_config(cfg), &run).ok()?;
    Some((g, run))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn transformers_fold_to_the_simulator(
        kind in 0..HF_KINDS,
        layers in 1u64..40,
        width in prop_oneof![Just(16u64), Just(32), Just(48)],
        heads in 1u64..5,
        seq in 1u64..300,
        run in run_strategy(),
        lora in prop_oneof![Just(None), Just(Some("q_proj,v_proj")), Just(Some("all-linear"))],
        quant in prop_oneof![Just(None), Just(Some("nf4")), Just(Some("int8"))],
        base in any::<bool>(),
    ) {
        let cfg = hf_config(kind, layers, width, heads);
        let run = RunSettings {
            seq,
            lora: lora.map(|t| Lora::new(8, Some(t), 0.0).unwrap()),
            quantize: quant.map(|q| Quant::parse(q).unwrap()),
            ..run
        };
        let head = base.then_some(hf::Head::Base);
        if let Some((g, run)) = hf_graph(&cfg, head, &run) {
            // dense, uniform decoders of 8 layers or more fold
            let uniform = matches!(kind, 0..=6 | 8 | 9) && layers >= 10 && run.mode != Mode::Generate;
            check(&g, &run, uniform, &cfg.to_string());
        }
    }

    #[test]
    fn mlps_fold_to_the_simulator(
        input_dim in 1u64..3000,
        depth in 0u64..64,
        width in 1u64..4096,
        classes in 1u64..100,
        batch in 1u64..5000,
        run in run_strategy(),
    ) {
        let mlp = Mlp { input_dim, depth, width, classes };
        let run = RunSettings { batch, ..run };
        let g = mlp.graph(batch).unwrap();
        check(&g, &run, depth >= 10 && run.mode != Mode::Generate, &format!("{mlp:?}"));
    }

    #[test]
    fn cnns_and_lstms_equal_the_simulator(
        image in 4u64..64,
        stages in 0u64..4,
        convs in 1u64..12,
        filters in 1u64..32,
        batchnorm in any::<bool>(),
        hidden in 1u64..300,
        layers in 1u64..4,
        seq in 1u64..64,
        run in run_strategy(),
    ) {
        let cnn = Cnn { image, channels: 3, stages, convs, filters, batchnorm, classes: 10 };
        // an image too small for its stages is a shape error, before any memory model
        if let Ok(g) = cnn.graph(run.batch) {
            check(&g, &run, false, &format!("{cnn:?}"));
        }
        let lstm = LstmNet { vocab: 1000, embed: 32, hidden, layers, seq, classes: 5 };
        check(&lstm.graph(run.batch).unwrap(), &run, false, &format!("{lstm:?}"));
    }

    #[test]
    fn keras_templates_fold_to_the_simulator(
        depth in 1usize..30,
        units in 1u64..1024,
        dropout in any::<bool>(),
        batchnorm in any::<bool>(),
        run in run_strategy(),
    ) {
        let mut layers = vec![json!({"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [null, 64]}})];
        for i in 0..depth {
            layers.push(json!({"class_name": "Dense", "config": {"name": format!("d{i}"), "units": units, "activation": "relu"}}));
            if batchnorm {
                layers.push(json!({"class_name": "BatchNormalization", "config": {"name": format!("bn{i}")}}));
            }
            if dropout {
                layers.push(json!({"class_name": "Dropout", "config": {"name": format!("drop{i}"), "rate": 0.1}}));
            }
        }
        layers.push(json!({"class_name": "Dense", "config": {"name": "head", "units": 10}}));
        let model_json = json!({"class_name": "Sequential", "config": {"name": "m", "layers": layers}});
        let model = keras::model_from_value(&model_json, None, "test").unwrap();
        let g = memory::keras::graph(&model, &run, "test").unwrap();
        check(&g, &run, depth >= 10 && run.mode != Mode::Generate, &format!("keras depth {depth}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The compiled model remembers the weights of the last few models per thread:
    /// candidates drawn with repeats from more models than it remembers (hits, misses
    /// and evictions), each at its own batch, equal the simulator, which replays them.
    #[test]
    fn remembered_weights_equal_the_replay(
        picks in proptest::collection::vec((0usize..8, 1u64..6), 1..24),
        run in run_strategy(),
    ) {
        for (model, batch) in picks {
            let run = RunSettings { batch, seq: 16 * batch, ..run };
            if model < 4 {
                // 64 tensors or more: smaller models are replayed, not remembered
                let mlp = Mlp { input_dim: 300, depth: 32 + model as u64, width: 700, classes: 10 };
                check(&mlp.graph(batch).unwrap(), &run, false, &format!("{mlp:?}"));
            } else {
                let cfg = hf_config(model - 4, 8, 32, 2);
                if let Some((g, run)) = hf_graph(&cfg, None, &run) {
                    check(&g, &run, false, &cfg.to_string());
                }
            }
        }
    }
}

#[test]
fn llama_3_8b_folds_to_the_simulator_in_every_mode_and_setting() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/llama-3-8b.json"
    );
    let cfg: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for mode in [Mode::Train, Mode::Infer] {
        for precision in [Precision::Fp32, Precision::Bf16, Precision::AmpBf16] {
            for grad_ckpt in [false, true] {
                for (gpus, zero_stage) in [(1, 0), (8, 1), (8, 2), (8, 3)] {
                    let run = RunSettings {
                        mode,
                        batch: 2,
                        seq: 4096,
                        precision,
                        grad_ckpt,
                        gpus,
                        zero_stage,
                        ..RunSettings::default()
                    };
                    let (g, run) = hf_graph(&cfg, None, &run).unwrap();
                    check(&g, &run, true, "llama-3-8b");
                }
            }
        }
    }
}

#[test]
fn every_kind_of_block_folds_where_its_layers_repeat() {
    for kind in 0..HF_KINDS {
        let cfg = hf_config(kind, 12, 32, 4);
        for mode in [Mode::Train, Mode::Infer] {
            let run = RunSettings {
                mode,
                batch: 2,
                seq: 64,
                ..RunSettings::default()
            };
            let (g, run) = hf_graph(&cfg, None, &run).unwrap_or_else(|| panic!("{cfg}"));
            // gemma3's 5 sliding layers to 1 global repeat twice in 12 layers: too few
            check(&g, &run, kind != 7, &cfg.to_string());
        }
    }
}

/// The symbolic tape (`compiled::tape`) recorded on `a` gives `b`'s report, where its
/// guards hold, equal to the simulator's to the byte; returns whether they held.
fn tape_check(a: &Graph, b: &Graph, run: &RunSettings, what: &str) -> bool {
    let (report, tape) = match Tape::compile(a, run) {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(
                memory::estimate(a, run).unwrap_err().to_string(),
                e.to_string()
            );
            return false;
        }
    };
    assert_eq!(
        Ok(report),
        memory::estimate(a, run),
        "{what} recorded {run:?}"
    );
    let Some(tape) = tape else {
        assert!(
            !tape::applies(run) || memory::estimate(a, run).is_err(),
            "{what}: no tape {run:?}"
        );
        return false;
    };
    match tape.evaluate(b, run) {
        Some(r) => {
            assert_eq!(
                Ok(r),
                memory::estimate(b, run),
                "{what} from the tape {run:?}"
            );
            true
        }
        None => false,
    }
}

fn mlp_pair(depth: u64, a: (u64, u64, u64, u64), b: (u64, u64, u64, u64)) -> (Graph, Graph) {
    let g = |(input_dim, width, classes, batch): (u64, u64, u64, u64)| {
        Mlp {
            input_dim,
            depth,
            width,
            classes,
        }
        .graph(batch)
        .unwrap()
    };
    (g(a), g(b))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mlp_tapes_equal_the_simulator(
        depth in 0u64..40,
        a in (1u64..3000, 1u64..4096, 1u64..100, 1u64..5000),
        b in (1u64..3000, 1u64..4096, 1u64..100, 1u64..5000),
        run in run_strategy(),
    ) {
        let run = RunSettings { batch: b.3, ..run };
        let (ga, gb) = mlp_pair(depth, a, b);
        tape_check(&ga, &gb, &run, &format!("mlp depth {depth} {a:?} -> {b:?}"));
    }

    #[test]
    fn transformers_tapes_equal_the_simulator(
        kind in 0..HF_KINDS,
        layers in 1u64..12,
        widths in (prop_oneof![Just(16u64), Just(32), Just(48)], prop_oneof![Just(16u64), Just(32), Just(48)]),
        heads in 1u64..5,
        seqs in (1u64..300, 1u64..300),
        run in run_strategy(),
        lora in prop_oneof![Just(None), Just(Some("q_proj,v_proj")), Just(Some("all-linear"))],
        quant in prop_oneof![Just(None), Just(Some("nf4")), Just(Some("int8"))],
    ) {
        let run = RunSettings {
            lora: lora.map(|t| Lora::new(8, Some(t), 0.0).unwrap()),
            quantize: quant.map(|q| Quant::parse(q).unwrap()),
            ..run
        };
        let a = hf_graph(&hf_config(kind, layers, widths.0, heads), None, &RunSettings { seq: seqs.0, ..run });
        let b = hf_graph(&hf_config(kind, layers, widths.1, heads), None, &RunSettings { seq: seqs.1, ..run });
        if let (Some((ga, run)), Some((gb, _))) = (a, b) {
            tape_check(&ga, &gb, &run, &format!("kind {kind} layers {layers} {widths:?} {seqs:?}"));
        }
    }

    #[test]
    fn cnn_lstm_and_keras_tapes_equal_the_simulator(
        images in (8u64..64, 8u64..64),
        stages in 0u64..3,
        convs in 1u64..4,
        filters in (1u64..32, 1u64..32),
        batchnorm in any::<bool>(),
        hidden in (1u64..300, 1u64..300),
        layers in 1u64..4,
        seq in (1u64..64, 1u64..64),
        units in (1u64..1024, 1u64..1024),
        depth in 1usize..12,
        dropout in any::<bool>(),
        run in run_strategy(),
    ) {
        let cnn = |image, filters| Cnn { image, channels: 3, stages, convs, filters, batchnorm, classes: 10 };
        if let (Ok(ga), Ok(gb)) = (cnn(images.0, filters.0).graph(run.batch), cnn(images.1, filters.1).graph(run.batch)) {
            tape_check(&ga, &gb, &run, "cnn");
        }
        let lstm = |hidden, seq| LstmNet { vocab: 1000, embed: 32, hidden, layers, seq, classes: 5 };
        let (ga, gb) = (lstm(hidden.0, seq.0).graph(run.batch).unwrap(), lstm(hidden.1, seq.1).graph(run.batch).unwrap());
        tape_check(&ga, &gb, &run, "lstm");
        let keras = |units: u64| {
            let model = keras::model_from_value(&keras_dense(depth, units, dropout, batchnorm), None, "test").unwrap();
            memory::keras::graph(&model, &run, "test").unwrap()
        };
        tape_check(&keras(units.0), &keras(units.1), &run, "keras");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Deep models of every kind of block: the tape's timeline evaluates each run of
    /// identical layers at its first and last layer and jumps the ones between
    /// (`compiled::timeline`), so the peak, wherever it falls (the first layer's
    /// forward, the last's, the backward, ties in inference), and every breakdown entry
    /// still equal the simulator's.
    #[test]
    fn deep_transformers_tapes_equal_the_simulator(
        kind in 0..HF_KINDS,
        layers in 3u64..40,
        widths in (prop_oneof![Just(16u64), Just(32), Just(48)], prop_oneof![Just(16u64), Just(32), Just(48)]),
        heads in 1u64..5,
        seqs in (1u64..600, 1u64..600),
        run in run_strategy(),
    ) {
        let a = hf_graph(&hf_config(kind, layers, widths.0, heads), None, &RunSettings { seq: seqs.0, ..run });
        let b = hf_graph(&hf_config(kind, layers, widths.1, heads), None, &RunSettings { seq: seqs.1, ..run });
        if let (Some((ga, run)), Some((gb, _))) = (a, b) {
            tape_check(&ga, &gb, &run, &format!("kind {kind} layers {layers} {widths:?} {seqs:?}"));
        }
    }
}

fn keras_dense(depth: usize, units: u64, dropout: bool, batchnorm: bool) -> Value {
    let mut layers = vec![
        json!({"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [null, 64]}}),
    ];
    for i in 0..depth {
        layers.push(json!({"class_name": "Dense", "config": {"name": format!("d{i}"), "units": units, "activation": "relu"}}));
        if batchnorm {
            layers.push(
                json!({"class_name": "BatchNormalization", "config": {"name": format!("bn{i}")}}),
            );
        }
        if dropout {
            layers.push(json!({"class_name": "Dropout", "config": {"name": format!("drop{i}"), "rate": 0.1}}));
        }
    }
    layers.push(json!({"class_name": "Dense", "config": {"name": "head", "units": 10}}));
    json!({"class_name": "Sequential", "config": {"name": "m", "layers": layers}})
}

/// Where a sweep's candidates differ in sizes only, the tape recorded on the first
/// gives every other's report (its guards hold), for each family.
#[test]
fn tapes_hold_across_sizes() {
    let train = RunSettings {
        batch: 64,
        ..RunSettings::default()
    };
    for depth in [1, 4, 32] {
        for (a, b) in [
            ((784, 512, 10, 64), (300, 2048, 100, 64)),
            ((784, 512, 10, 64), (784, 1024, 10, 64)),
        ] {
            let (ga, gb) = mlp_pair(depth, a, b);
            assert!(
                tape_check(&ga, &gb, &train, "mlp"),
                "mlp depth {depth} {a:?} {b:?}"
            );
        }
    }
    let bf16 = RunSettings {
        batch: 2,
        seq: 512,
        precision: Precision::Bf16,
        ..RunSettings::default()
    };
    for kind in 0..HF_KINDS {
        let (ga, run) = hf_graph(&hf_config(kind, 4, 32, 4), None, &bf16).unwrap();
        let (gb, _) = hf_graph(
            &hf_config(kind, 4, 48, 4),
            None,
            &RunSettings { seq: 384, ..bf16 },
        )
        .unwrap();
        assert!(
            tape_check(&ga, &gb, &run, "hf"),
            "{}",
            hf_config(kind, 4, 32, 4)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Candidates of a few structures in random order and sizes, through the compiled
    /// model as sweeps call it (tapes recorded from a structure's second candidate on,
    /// evaluated, guards failing where a size empties a tensor or makes two layers
    /// differ), equal the simulator.
    #[test]
    fn cached_tapes_equal_the_simulator(
        picks in proptest::collection::vec((0usize..6, 1u64..64, 1u64..6), 8..40),
        run in run_strategy(),
    ) {
        cache::reset_stats();
        for (structure, size, batch) in picks {
            let run = RunSettings { batch, seq: 8 * size, ..run };
            if structure < 3 {
                let mlp = Mlp { input_dim: 8 * size, depth: 2 + 4 * structure as u64, width: 3 * size, classes: 10 };
                check(&mlp.graph(batch).unwrap(), &run, false, &format!("{mlp:?}"));
            } else {
                let cfg = hf_config(structure - 3, 4, 16 * (1 + size % 3), 2);
                if let Some((g, run)) = hf_graph(&cfg, None, &run) {
                    check(&g, &run, false, &cfg.to_string());
                }
            }
        }
        let s = cache::stats();
        prop_assert!(!tape::applies(&run) || s.hits + s.recorded > 0, "{s:?}");
    }
}

/// Every candidate of `space` (in enumeration order, as a sweep meets them): the
/// metrics a sweep computes (fitted expressions where its structures fit) equal the
/// reference's (the candidate's step built and simulated), errors included. Returns how
/// many candidates the fitted expressions evaluated.
fn sweep_equals_the_simulator(space: Value, fit_at: u32) -> u64 {
    use archbudget_core::space::{family::Evaluator, Space};
    let space = Space::from_value(&space, "test", &|_| unreachable!()).unwrap();
    let eval = Evaluator::fitting_at(&space, fit_at);
    let lens: Vec<usize> = space.axes.iter().map(|a| a.values.len()).collect();
    for index in 0..space.size {
        let mut digits = vec![0; lens.len()];
        let mut rest = index as usize;
        for (d, &len) in digits.iter_mut().zip(&lens).rev() {
            *d = rest % len;
            rest /= len;
        }
        let swept = eval.metrics(&digits);
        let reference = eval.simulated_metrics(&digits);
        match (&swept, &reference) {
            (Ok(s), Ok(r)) => assert_eq!(s, r, "candidate {digits:?} of {space:?}"),
            (Err(s), Err(r)) => assert_eq!(s.to_string(), r.to_string()),
            _ => panic!("candidate {digits:?}: swept {swept:?}, simulated {reference:?}"),
        }
    }
    eval.symbolic_evaluated()
}

/// A run table of random settings (the structure's part: mode, precision, optimizer,
/// checkpointing, attention), batch as an axis.
fn run_table() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("train"), Just("infer"), Just("generate")],
        prop_oneof![Just("fp32"), Just("bf16"), Just("amp_bf16")],
        prop_oneof![
            Just("sgd"),
            Just("sgd_momentum"),
            Just("adam"),
            Just("adamw")
        ],
        any::<bool>(),
        prop_oneof![Just("sdpa"), Just("eager")],
        prop::collection::btree_set(1i64..40, 2..4),
    )
        .prop_map(|(mode, precision, optimizer, grad_ckpt, attn, batch)| {
            json!({"mode": mode, "precision": precision, "optimizer": optimizer,
                   "grad_ckpt": grad_ckpt, "attn": attn, "new_tokens": 3,
                   "batch": batch.into_iter().collect::<Vec<_>>()})
        })
}

/// 2 to 4 distinct sizes from `lo..hi`.
fn sizes(lo: i64, hi: i64) -> impl Strategy<Value = Vec<i64>> {
    prop::collection::btree_set(lo..hi, 2..5).prop_map(|s| s.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn fitted_mlp_sweeps_equal_the_simulator(
        run in run_table(),
        input_dim in sizes(1, 3000),
        width in sizes(1, 3000),
        classes in sizes(1, 20),
        depth in prop::collection::btree_set(0i64..6, 1..3),
    ) {
        let depth: Vec<i64> = depth.into_iter().collect();
        sweep_equals_the_simulator(json!({"family": "mlp", "run": run, "axes": {
            "input_dim": input_dim, "depth": depth, "width": width, "classes": classes}}), 3);
    }

    #[test]
    fn fitted_cnn_lstm_and_keras_sweeps_equal_the_simulator(
        run in run_table(),
        filters in sizes(1, 64),
        hidden in sizes(1, 300),
        units in sizes(1, 600),
        stages in 0i64..4,
        batchnorm in any::<bool>(),
        layers in 1i64..3,
    ) {
        sweep_equals_the_simulator(json!({"family": "cnn", "run": run, "fixed": {
            "image": 32, "stages": stages, "convs": 2, "batchnorm": batchnorm},
            "axes": {"channels": [1, 3], "filters": filters, "classes": [10, 100]}}), 3);
        sweep_equals_the_simulator(json!({"family": "lstm", "run": run,
            "fixed": {"layers": layers, "classes": 5},
            "axes": {"vocab": [100, 5000], "embed": [16, 48], "hidden": hidden, "seq": [7, 64]}}), 3);
        let mut template = keras_dense(3, 64, true, batchnorm);
        template["config"]["layers"][1]["config"]["name"] = json!("first");
        sweep_equals_the_simulator(json!({"family": "keras", "run": run, "template": template,
            "axes": {"first.units": units, "head.units": [2, 10, 33]}}), 3);
    }

    /// Sizes far from their lattice's origin (Newton's origin moved there: large
    /// coordinates, coefficients near the limits) and batches whose sums need 128 bits
    /// or not.
    #[test]
    fn fitted_sweeps_far_from_the_origin_equal_the_simulator(
        run in run_table(),
        input_dim in sizes(100_000, 100_300),
        width in sizes(2_000, 2_300),
        hidden in sizes(1_000, 1_100),
    ) {
        sweep_equals_the_simulator(json!({"family": "mlp", "run": run, "axes": {
            "input_dim": input_dim, "depth": [2], "width": width, "classes": [7, 1000]}}), 3);
        sweep_equals_the_simulator(json!({"family": "lstm", "run": run,
            "fixed": {"layers": 1, "classes": 5},
            "axes": {"vocab": [50_000, 50_021], "embed": [16, 48], "hidden": hidden, "seq": [7, 64]}}), 3);
    }

    #[test]
    fn fitted_transformers_sweeps_equal_the_simulator(
        run in run_table(),
        kind in 0..HF_KINDS,
        layers in prop::collection::btree_set(prop_oneof![1i64..4, 6i64..24], 1..3),
        heads in 1u64..4,
        width in prop_oneof![Just(8u64), Just(16)],
        seq in prop::collection::btree_set(1i64..40, 2..4),
        lora in any::<bool>(),
    ) {
        let mut fixed = hf_config(kind, 1, width, heads);
        let map = fixed.as_object_mut().unwrap();
        let layer_key = ["num_hidden_layers", "n_layer", "num_layers"]
            .into_iter()
            .find(|k| map.contains_key(*k))
            .unwrap();
        map.remove(layer_key);
        map.remove("num_decoder_layers");
        // a space's fixed values are scalars
        map.retain(|_, v| !v.is_array());
        let hidden = (width * heads) as i64;
        let mut axes = json!({layer_key: layers.into_iter().collect::<Vec<_>>()});
        // the size axes a config names: hidden (a multiple of the heads), intermediate, vocab
        for (key, values) in [
            ("hidden_size", json!([hidden, 2 * hidden, 4 * hidden])),
            ("intermediate_size", json!([hidden, 3 * hidden + 8])),
            ("vocab_size", json!([300, 1000])),
        ] {
            if map.remove(key).is_some() {
                axes[key] = values;
            }
        }
        let mut run = run;
        run["seq"] = json!(seq.into_iter().collect::<Vec<_>>());
        if lora && kind == 0 {
            run["lora_rank"] = json!(4);
        }
        sweep_equals_the_simulator(json!({"family": "hf", "run": run, "fixed": fixed, "axes": axes}), 3);
    }
}

/// A realistic grid's structures do fit: most of its candidates are evaluated without
/// their step built (the fit's own probes and each structure's first sightings
/// simulated).
#[test]
fn sweep_grids_are_mostly_evaluated_from_fitted_expressions() {
    let llama = json!({"family": "hf",
        "fixed": {"model_type": "llama", "num_attention_heads": 2, "num_key_value_heads": 1},
        "axes": {"hidden_size": [128, 256, 512], "intermediate_size": [256, 688], "num_hidden_layers": [2, 4],
                 "vocab_size": [1000, 32000]},
        "run": {"batch": [1, 2, 4, 8], "seq": [128, 256, 512], "precision": "bf16"}});
    // each structure's first FIT_AT sightings simulated, the rest from its fit
    use archbudget_core::space::symbolic::FIT_AT;
    let fit_at = FIT_AT as u64;
    let evaluated = sweep_equals_the_simulator(llama, FIT_AT);
    assert!(
        evaluated >= 2 * (144 - fit_at) - 2 * 4,
        "{evaluated} of 288 llama candidates"
    );
    let mlp = json!({"family": "mlp", "fixed": {},
        "axes": {"input_dim": [784, 3072], "depth": [1, 4],
                 "width": [128, 256, 384, 512, 768, 1024, 1536, 2048], "classes": [10, 100]},
        "run": {"batch": [32, 128, 512]}});
    let evaluated = sweep_equals_the_simulator(mlp, FIT_AT);
    assert!(
        evaluated >= 2 * (96 - fit_at) - 2 * 4,
        "{evaluated} of 192 mlp candidates"
    );
}

/// Two sweeps evaluated in turn on one thread (as a caller interleaving two spaces
/// does): what each remembers per thread (its last structure, piece and weights) is
/// its own, and every candidate of both equals the simulator's.
#[test]
fn interleaved_sweeps_equal_the_simulator() {
    use archbudget_core::space::{family::Evaluator, Space};
    let spaces = [
        json!({"family": "hf",
            "fixed": {"model_type": "llama", "num_attention_heads": 2, "num_key_value_heads": 1,
                      "num_hidden_layers": 2},
            "axes": {"hidden_size": [64, 128, 192], "intermediate_size": [128, 344], "vocab_size": [500, 1000]},
            "run": {"batch": [1, 2, 4], "seq": [16, 32], "precision": "bf16"}}),
        json!({"family": "hf",
            "fixed": {"model_type": "gpt2", "n_layer": 3, "n_head": 2, "n_positions": 64},
            "axes": {"n_embd": [64, 128], "vocab_size": [500, 1000]},
            "run": {"batch": [1, 2, 4], "seq": [16, 32], "precision": "amp_bf16"}}),
    ];
    let spaces: Vec<Space> = spaces
        .iter()
        .map(|s| Space::from_value(s, "test", &|_| unreachable!()).unwrap())
        .collect();
    let evals: Vec<Evaluator> = spaces.iter().map(|s| Evaluator::fitting_at(s, 3)).collect();
    let digits_of = |space: &Space, index: u64| {
        let lens: Vec<usize> = space.axes.iter().map(|a| a.values.len()).collect();
        let mut digits = vec![0; lens.len()];
        let mut rest = index as usize;
        for (d, &len) in digits.iter_mut().zip(&lens).rev() {
            *d = rest % len;
            rest /= len;
        }
        digits
    };
    let most = spaces.iter().map(|s| s.size).max().unwrap();
    for _ in 0..2 {
        for index in 0..most {
            for (space, eval) in spaces.iter().zip(&evals) {
                let digits = digits_of(space, index % space.size);
                assert_eq!(
                    eval.metrics(&digits).unwrap(),
                    eval.simulated_metrics(&digits).unwrap(),
                    "candidate {digits:?} of {space:?}"
                );
            }
        }
    }
    assert!(evals.iter().all(|e| e.symbolic_evaluated() > 0));
}
