//! LoRA and quantized weights against what peft and bitsandbytes build
//! (tests/data/peft_lora.json, made by tests/data/make_peft.py).
use archbudget_core::memory::hf::estimate_hf_case;
use archbudget_core::memory::lora::Lora;
use archbudget_core::memory::quant::{Quant, QuantFormat};
use archbudget_core::memory::{AttnImpl, MemoryReport, Mode, Precision, RunSettings};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/peft_lora.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn targets(case: &Value) -> String {
    match &case["targets"] {
        Value::String(s) => s.clone(),
        Value::Array(names) => names
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(","),
        other => panic!("targets {other}"),
    }
}

fn lora_run(case: &Value, mode: Mode) -> RunSettings {
    RunSettings {
        mode,
        batch: 2,
        seq: 16,
        precision: Precision::Bf16,
        lora: Some(
            Lora::new(
                case["rank"].as_u64().unwrap(),
                Some(&targets(case)),
                case["dropout"].as_f64().unwrap(),
            )
            .unwrap(),
        ),
        ..RunSettings::default()
    }
}

fn estimate(case: &Value, run: &RunSettings) -> MemoryReport {
    let name = case["name"].as_str().unwrap();
    estimate_hf_case(&case["config"], case["head"].as_str().unwrap(), run)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn lora_trainable_params_equal_peft() {
    let doc = fixture();
    let cases = doc["lora"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let r = estimate(case, &lora_run(case, Mode::Train));
        assert_eq!(
            r.trainable_params,
            case["trainable_params"].as_u64().unwrap(),
            "{name}: trainable"
        );
        assert_eq!(
            r.params,
            case["all_params"].as_u64().unwrap(),
            "{name}: all params"
        );
    }
}

#[test]
fn lora_trains_only_the_adapters() {
    let doc = fixture();
    let case = &doc["lora"][0]; // llama-3-8b, q_proj and v_proj
    let run = lora_run(case, Mode::Train);
    let lora = estimate(case, &run);
    let full = estimate(case, &RunSettings { lora: None, ..run });
    let trainable = case["trainable_params"].as_u64().unwrap();
    // peft keeps adapters in fp32 on a bf16 model: AdamW's two states, 4 bytes each
    // (the allocator rounds each tensor up to 512 bytes; 2 adapters × 2 weights × 32 layers)
    assert!(lora.breakdown.optimizer >= 2 * 4 * trainable);
    assert!(lora.breakdown.optimizer < 2 * 4 * trainable + 2 * 512 * 4 * 32);
    assert!(lora.peak_bytes < full.peak_bytes / 2);
    // the frozen base skips its weight gradients: backward is cheaper than full training
    assert!(lora.flops_fwd > full.flops_fwd);
    assert!(lora.flops_fwd_bwd < full.flops_fwd_bwd);
    // gradient checkpointing reruns each layer's forward (adapters included) in backward
    let ckpt = estimate(
        case,
        &RunSettings {
            grad_ckpt: true,
            seq: 512,
            ..run
        },
    );
    let plain = estimate(case, &RunSettings { seq: 512, ..run });
    assert!(ckpt.breakdown.activations < plain.breakdown.activations / 4);
    assert_eq!(ckpt.trainable_params, plain.trainable_params);
    assert!(ckpt.flops_fwd_bwd > plain.flops_fwd_bwd);
}

/// FLOPs of a tiny llama with adapters, against `torch.utils.flop_counter` on CPU (eager
/// attention, fp32, base frozen by peft).
#[test]
fn lora_flops_match_the_flop_counter() {
    let doc = fixture();
    for case in doc["flops"].as_array().unwrap() {
        let lora = match &case["targets"] {
            Value::Null => None,
            _ => {
                Some(Lora::new(case["rank"].as_u64().unwrap(), Some(&targets(case)), 0.0).unwrap())
            }
        };
        let run = RunSettings {
            batch: case["batch"].as_u64().unwrap(),
            seq: case["seq"].as_u64().unwrap(),
            attn: AttnImpl::Eager,
            lora,
            ..RunSettings::default()
        };
        let r = estimate_hf_case(&case["config"], "causal_lm", &run).unwrap();
        assert_eq!(r.flops_fwd, case["flops_fwd"].as_u64().unwrap(), "{case}");
        assert_eq!(
            r.flops_fwd_bwd,
            case["flops_fwd_bwd"].as_u64().unwrap(),
            "{case}"
        );
    }
}

fn bytes_of(info: &Value) -> u64 {
    let per = match info["dtype"].as_str().unwrap() {
        "uint8" | "int8" => 1,
        "float16" | "bfloat16" => 2,
        "float32" => 4,
        other => panic!("dtype {other}"),
    };
    info["numel"].as_u64().unwrap() * per
}

/// The tensors `quantize_4bit` and `int8_vectorwise_quant` make on CPU, per weight.
#[test]
fn quantized_weight_bytes_equal_bitsandbytes() {
    let doc = fixture();
    for key in ["nf4", "fp4"] {
        for row in doc[key].as_array().unwrap() {
            let shape: Vec<u64> = row["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap())
                .collect();
            let double = row["double_quant"].as_bool().unwrap();
            let quant = Quant {
                format: QuantFormat::FourBit {
                    nf4: key == "nf4",
                    double_quant: double,
                },
                skip: Default::default(),
            };
            let got = quant.weight_tensors(shape[0], shape[1]).unwrap();
            assert_eq!(row["blocksize"], 64);
            assert!(
                !row["code_shared"].as_bool().unwrap(),
                "a code table per weight"
            );
            let mut want = vec![
                bytes_of(&row["weight"]),
                bytes_of(&row["absmax"]),
                bytes_of(&row["code"]),
            ];
            if double {
                assert_eq!(row["state2_blocksize"], 256);
                assert!(
                    !row["state2_code_shared"].as_bool().unwrap(),
                    "a dynamic map per weight"
                );
                want.extend([
                    bytes_of(&row["offset"]),
                    bytes_of(&row["state2_absmax"]),
                    bytes_of(&row["state2_code"]),
                ]);
            } else {
                want.extend([0, 0, 0]);
            }
            assert_eq!(got.to_vec(), want, "{key} {row}");
        }
    }
    for row in doc["int8"].as_array().unwrap() {
        let shape: Vec<u64> = row["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        let quant = Quant {
            format: QuantFormat::Int8,
            skip: Default::default(),
        };
        let got = quant.weight_tensors(shape[0], shape[1]).unwrap();
        assert_eq!(
            got[..2].to_vec(),
            vec![bytes_of(&row["CB"]), bytes_of(&row["SCB"])],
            "{row}"
        );
    }
}

/// Tiny models loaded through transformers' bitsandbytes integration on CPU: the modules
/// it converts (with the tensors each stores) and those it leaves, against the
/// `QuantLinear`s of the lowering; peft's LoRA on the 4-bit model.
#[test]
fn bitsandbytes_converts_the_modules_transformers_converts() {
    use archbudget_core::formats::hf::{arch, Head};
    use archbudget_core::memory::hf::{graph, run_for_config, Dropouts};
    use archbudget_core::memory::Op;
    let doc = fixture();
    for case in doc["quantized"].as_array().unwrap() {
        let name = format!("{} {}", case["name"], case["method"]);
        let mut config = case["config"].clone();
        config["quantization_config"] = case["quantization_config"].clone();
        let head = match case["head"].as_str().unwrap() {
            "base" => Head::Base,
            _ => Head::CausalLm,
        };
        let a = arch(&config, Some(head), "config.json").unwrap();
        let run = run_for_config(
            &config,
            &RunSettings {
                mode: Mode::Infer,
                batch: 1,
                seq: 8,
                precision: Precision::Bf16,
                ..RunSettings::default()
            },
        )
        .unwrap();
        let g = graph(&a, &Dropouts::from_config(&config), &run).unwrap();
        let mut ours: Vec<(u64, u64, Vec<u64>)> = g
            .nodes
            .iter()
            .filter_map(|n| match &n.op {
                Op::QuantLinear(q) => {
                    let l = &q.linear;
                    let stored = q
                        .quant
                        .weight_tensors(l.out_features, l.in_features)
                        .unwrap();
                    let stored = stored.iter().copied().filter(|&b| b > 0).collect();
                    Some((l.out_features, l.in_features, stored))
                }
                _ => None,
            })
            .collect();
        let mut theirs: Vec<(u64, u64, Vec<u64>)> = case["converted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let s = &m["shape"];
                let stored = m["stored"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b.as_u64().unwrap())
                    .collect();
                (s[0].as_u64().unwrap(), s[1].as_u64().unwrap(), stored)
            })
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{name}");
        if let Some(trainable) = case.get("trainable_params") {
            let lora = Some(Lora::new(8, Some("all-linear"), 0.0).unwrap());
            let train = RunSettings {
                mode: Mode::Train,
                lora,
                ..run
            };
            let r = archbudget_core::memory::estimate(
                &graph(&a, &Dropouts::from_config(&config), &train).unwrap(),
                &train,
            )
            .unwrap();
            assert_eq!(
                r.trainable_params,
                trainable.as_u64().unwrap(),
                "{name}: LoRA on the 4-bit model"
            );
        }
    }
}

/// transformers' `FP8Linear` with DeepSeek-V3's 128 × 128 blocks, built on the meta device.
#[test]
fn fp8_weight_bytes_equal_transformers_fp8_linear() {
    let doc = fixture();
    for row in doc["fp8"].as_array().unwrap() {
        let shape: Vec<u64> = row["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        let block = &row["block"];
        let quant = Quant {
            format: QuantFormat::Fp8 {
                block: (block[0].as_u64().unwrap(), block[1].as_u64().unwrap()),
            },
            skip: Default::default(),
        };
        let got = quant.weight_tensors(shape[0], shape[1]).unwrap();
        assert_eq!(row["weight"]["dtype"], "float8_e4m3fn");
        let want = [
            row["weight"]["numel"].as_u64().unwrap(),
            bytes_of(&row["weight_scale_inv"]),
        ];
        assert_eq!(got[..2], want, "{row}");
    }
}

/// peft's LoRA on mixtral's stacked experts builds their effective weights each forward
/// (`baddbmm` over the whole stack), which the experts' matmul keeps for backward.
#[test]
fn lora_on_mixtral_experts_keeps_the_effective_weights() {
    let doc = fixture();
    let case = doc["lora"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mixtral-8x7b-all-r8")
        .unwrap();
    let cfg = &case["config"];
    let run = lora_run(case, Mode::Train);
    let attention_only = RunSettings {
        lora: Some(Lora::new(8, Some("q_proj,k_proj,v_proj,o_proj"), 0.0).unwrap()),
        ..run
    };
    let all = estimate(case, &run);
    let attn = estimate(case, &attention_only);
    let (e, h, i, layers) = (
        cfg["num_local_experts"].as_u64().unwrap(),
        cfg["hidden_size"].as_u64().unwrap(),
        cfg["intermediate_size"].as_u64().unwrap(),
        cfg["num_hidden_layers"].as_u64().unwrap(),
    );
    // bf16: 2 bytes per element of gate_up (e·2i·h) and down (e·h·i), every layer
    let effective = 2 * 3 * e * h * i * layers;
    assert!(
        all.peak_bytes - attn.peak_bytes >= effective,
        "{} {}",
        all.peak_bytes,
        attn.peak_bytes
    );
    assert!(all.flops_fwd > attn.flops_fwd);
}

/// gpt-oss's experts in MXFP4 (`tests/data/make_mxfp4.py`): transformers'
/// `Mxfp4GptOssExperts` holds the packed values (uint8, two weights a byte) beside fp32
/// biases, and `convert_moe_packed_tensors` reads one scale byte per 32 weights.
#[test]
fn mxfp4_expert_bytes_equal_transformers() {
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/mxfp4.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let packing = &doc["packing"];
    let weights_per_scale =
        packing["weights"].as_u64().unwrap() / packing["scale_bytes"].as_u64().unwrap();
    assert_eq!(weights_per_scale, 32);
    let quant = Quant::parse("mxfp4").unwrap();
    for e in doc["experts"].as_array().unwrap() {
        let (h, i, n) = (
            e["hidden_size"].as_u64().unwrap(),
            e["intermediate_size"].as_u64().unwrap(),
            e["num_local_experts"].as_u64().unwrap(),
        );
        let t = &e["tensors"];
        for (proj, numel) in [("gate_up_proj", n * 2 * i * h), ("down_proj", n * h * i)] {
            let got = quant.weight_tensors(numel, 1).unwrap();
            assert_eq!(got[0], t[proj]["bytes"].as_u64().unwrap(), "{proj} of {e}");
            assert_eq!(got[1], numel / weights_per_scale, "{proj} scales of {e}");
            assert_eq!(t[format!("{proj}_bias")]["dtype"], "float32");
        }
    }
}
