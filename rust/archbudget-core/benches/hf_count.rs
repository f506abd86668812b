//! Time to count a transformers config: `cargo bench -p archbudget-core --bench hf_count`.
//! Prints nanoseconds per call of `arch` (the structure alone), `count` (the exact
//! totals, as the sweep takes them) and `summarize` (every module row with its
//! explanation).
use std::hint::black_box;
use std::time::Instant;

use archbudget_core::formats::hf::{arch, count, summarize};
use serde_json::json;

fn time(label: &str, iters: u32, mut f: impl FnMut()) {
    f();
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    println!(
        "{label:<28} {:>10.0} ns/count",
        start.elapsed().as_nanos() as f64 / f64::from(iters)
    );
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
    for (name, config) in &configs {
        time(&format!("{name} arch"), 20_000, || {
            black_box(arch(black_box(config), None, "config.json").unwrap());
        });
        time(&format!("{name} count"), 5_000, || {
            black_box(count(black_box(config), None, "config.json").unwrap());
        });
        time(&format!("{name} summarize"), 2_000, || {
            black_box(summarize(black_box(config), None, "config.json").unwrap());
        });
    }
}
