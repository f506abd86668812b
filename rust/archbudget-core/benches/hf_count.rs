//! Time to count a transformers config: `cargo bench -p archbudget-core --bench hf_count`.
//! Prints nanoseconds per call of `arch` (the structure alone), `count` (the exact
//! totals, as the sweep takes them) and `summarize` (every module row with its
//! explanation).
use std::hint::black_box;
use std::time::Instant;

use archbudget_core::formats::hf::{arch, count, summarize};
use serde_json::json;

fn time(label: &str, iters: u32, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(iters);
    println!("{label:<36} {ns:>10.0} ns/count");
    ns
}

fn main() {
    let configs = [
        (
            "llama-3-8b",
            json!({"model_type": "llama", "vocab_size": 128256, "hidden_size": 4096,
            "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "max_position_embeddings": 8192}),
        ),
        ("mixtral-8x7b", json!({"model_type": "mixtral"})),
        ("t5-small", json!({"model_type": "t5"})),
        (
            "qwen3-30b-a3b",
            json!({"model_type": "qwen3_moe", "hidden_size": 2048, "intermediate_size": 6144,
            "moe_intermediate_size": 768, "num_hidden_layers": 48, "num_attention_heads": 32,
            "num_key_value_heads": 4, "head_dim": 128, "num_experts": 128,
            "num_experts_per_tok": 8}),
        ),
        ("deepseek-v3-671b", json!({"model_type": "deepseek_v3"})),
        (
            "deepseek-v2-lite",
            json!({"model_type": "deepseek_v2", "hidden_size": 2048, "intermediate_size": 10944,
            "moe_intermediate_size": 1408, "num_hidden_layers": 27, "num_attention_heads": 16,
            "n_routed_experts": 64, "num_experts_per_tok": 6, "q_lora_rank": null,
            "first_k_dense_replace": 1}),
        ),
        ("glm4_moe-default", json!({"model_type": "glm4_moe"})),
        ("gpt-oss-120b", json!({"model_type": "gpt_oss"})),
        ("llama-4-scout-text", json!({"model_type": "llama4_text"})),
        ("llama4 (with vision)", json!({"model_type": "llama4"})),
        // the multimodal wrappers (formats::hf::vlm): tower, projector, text model
        (
            "gemma-3-27b-it",
            json!({"model_type": "gemma3", "text_config": {"hidden_size": 5376,
            "intermediate_size": 21504, "num_hidden_layers": 62, "num_attention_heads": 32,
            "num_key_value_heads": 16, "head_dim": 128, "sliding_window": 1024},
            "vision_config": {"hidden_size": 1152, "image_size": 896, "intermediate_size": 4304,
            "num_attention_heads": 16, "num_hidden_layers": 27, "patch_size": 14,
            "vision_use_head": false}}),
        ),
        (
            "llava-1.5-7b",
            json!({"model_type": "llava", "text_config": {"model_type": "llama",
            "vocab_size": 32064}}),
        ),
        ("mistral-small-3.1", json!({"model_type": "mistral3"})),
        (
            "qwen2.5-vl-7b",
            json!({"model_type": "qwen2_5_vl", "vocab_size": 152064, "hidden_size": 3584,
            "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
            "num_key_value_heads": 4, "vision_config": {"hidden_size": 1280,
            "out_hidden_size": 3584}}),
        ),
        // the declarative types (formats::hf::types), at their default sizes
        ("qwen3", json!({"model_type": "qwen3"})),
        ("gemma3_text", json!({"model_type": "gemma3_text"})),
        ("olmo2", json!({"model_type": "olmo2"})),
        ("olmo3", json!({"model_type": "olmo3"})),
        ("smollm3", json!({"model_type": "smollm3"})),
        ("starcoder2", json!({"model_type": "starcoder2"})),
        ("stablelm", json!({"model_type": "stablelm"})),
        ("phi", json!({"model_type": "phi"})),
        ("gptj", json!({"model_type": "gptj"})),
        ("gpt_bigcode", json!({"model_type": "gpt_bigcode"})),
        ("cohere", json!({"model_type": "cohere"})),
        ("cohere2", json!({"model_type": "cohere2"})),
        // hybrid linear attention (Gated DeltaNet + gated full attention): 80B-A3B
        ("qwen3_next (80b-a3b)", json!({"model_type": "qwen3_next"})),
        // the older types, at their default sizes
        ("llama", json!({"model_type": "llama"})),
        ("mistral", json!({"model_type": "mistral"})),
        ("qwen2", json!({"model_type": "qwen2"})),
        ("qwen2_moe", json!({"model_type": "qwen2_moe"})),
        ("gemma", json!({"model_type": "gemma"})),
        ("gemma2", json!({"model_type": "gemma2"})),
        ("phi3", json!({"model_type": "phi3"})),
        ("gpt2", json!({"model_type": "gpt2"})),
        ("gpt_neox", json!({"model_type": "gpt_neox"})),
        ("opt", json!({"model_type": "opt"})),
        ("falcon", json!({"model_type": "falcon"})),
        ("bert", json!({"model_type": "bert"})),
        ("roberta", json!({"model_type": "roberta"})),
        ("distilbert", json!({"model_type": "distilbert"})),
        ("vit", json!({"model_type": "vit"})),
        // the state-space and hybrid types (formats::hf::{mamba, jamba, falcon_h1})
        (
            "mamba-2.8b",
            json!({"model_type": "mamba", "hidden_size": 2560, "num_hidden_layers": 64}),
        ),
        ("mamba2 (codestral-7b)", json!({"model_type": "mamba2"})),
        ("jamba-v0.1", json!({"model_type": "jamba"})),
        (
            "jamba-large-1.6",
            json!({"model_type": "jamba", "hidden_size": 8192, "intermediate_size": 24576,
            "num_hidden_layers": 72, "num_attention_heads": 64}),
        ),
        ("falcon_h1", json!({"model_type": "falcon_h1"})),
    ];
    // issue 10's goal: counting any supported config (the sweep's `count`) under 100 µs
    const GOAL_NS: f64 = 100_000.0;
    let mut slowest = (0.0, "");
    for (name, config) in &configs {
        time(&format!("{name} arch"), 20_000, || {
            black_box(arch(black_box(config), None, "config.json").unwrap());
        });
        let ns = time(&format!("{name} count"), 5_000, || {
            black_box(count(black_box(config), None, "config.json").unwrap());
        });
        if ns > slowest.0 {
            slowest = (ns, name);
        }
        time(&format!("{name} summarize"), 2_000, || {
            black_box(summarize(black_box(config), None, "config.json").unwrap());
        });
    }
    println!(
        "slowest count: {} {:.0} ns, goal {GOAL_NS:.0} ns ({} types)",
        slowest.1,
        slowest.0,
        configs.len()
    );
}
