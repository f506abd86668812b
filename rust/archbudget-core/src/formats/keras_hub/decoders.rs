//! keras-hub's llama-like backbones: Llama, Llama3, Mistral, Mixtral, Qwen (qwen2),
//! Qwen3 and Phi3. A token embedding (`ReversibleEmbedding`, holding the untied LM head
//! as `reverse_embeddings` unless tied), N decoder layers of grouped-query attention
//! without biases (qwen: q/k/v biases; qwen3: per-head q/k RMSNorms) and a gated MLP
//! (mixtral: a sparse MoE block), RMS norms, and a final RMS norm.
//!
//! The transformers twin of each: llama, llama, mistral, mixtral, qwen2, qwen3, phi3
//! (phi3 fuses q/k/v and gate/up, keras-hub keeps them apart: same counts).
use serde_json::{json, Value};

use super::blocks::{attention, dense, embedding, rms_norm, seq_shape, Args, Heads, Row};
use super::{Backbone, Classifier};
use crate::error::Result;
use crate::weight::{dim, Weight};

/// What differs between the families.
struct Family {
    model_type: &'static str,
    block_class: &'static str,
    norm_class: &'static str,
    /// `tie_word_embeddings` when the config leaves it out (qwen ties, llama does not);
    /// `None`: the family has no option and never ties.
    tie_default: Option<bool>,
}

fn family(class_name: &str) -> Family {
    let f = |model_type, block_class, norm_class, tie_default| Family {
        model_type,
        block_class,
        norm_class,
        tie_default,
    };
    match class_name {
        "MistralBackbone" => f(
            "mistral",
            "MistralTransformerDecoder",
            "MistralLayerNormalization",
            None,
        ),
        "MixtralBackbone" => f(
            "mixtral",
            "MixtralTransformerDecoder",
            "MixtralLayerNormalization",
            None,
        ),
        "QwenBackbone" => f(
            "qwen2",
            "QwenTransformerDecoder",
            "QwenLayerNorm",
            Some(true),
        ),
        "Qwen3Backbone" => f(
            "qwen3",
            "Qwen3TransformerDecoder",
            "Qwen3LayerNorm",
            Some(true),
        ),
        "Phi3Backbone" => f("phi3", "Phi3Decoder", "Phi3LayerNorm", None),
        // LlamaBackbone, Llama3Backbone
        _ => f(
            "llama",
            "LlamaTransformerDecoder",
            "LlamaLayerNorm",
            Some(false),
        ),
    }
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    let fam = family(a.class_name);
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let hidden = a.dim("hidden_dim")?;
    let inter = a.dim("intermediate_dim")?;
    let q = a.dim("num_query_heads")?;
    let kv = a.dim("num_key_value_heads")?;
    let head_dim = match a.dim_opt("head_dim")? {
        Some(d) => d,
        None => a.per_head(("hidden_dim", hidden), ("num_query_heads", q))?,
    };
    let tie = match fam.tie_default {
        Some(default) => a.flag_or("tie_word_embeddings", default)?,
        None => false,
    };
    let heads = Heads {
        hidden,
        q,
        kv,
        head_dim,
    };
    let experts = match fam.model_type {
        "mixtral" => Some((a.dim("num_experts")?, a.dim_or("top_k", 2)?)),
        _ => None,
    };

    let mut token = Vec::new();
    embedding(&mut token, "", vocab, hidden);
    if !tie {
        token.push(Weight::new(
            "reverse_embeddings",
            vec![dim(hidden, "features"), dim(vocab, "rows")],
        ));
    }
    let token_row = Row::new(
        "token_embedding",
        "ReversibleEmbedding",
        seq_shape(Some(hidden)),
        token,
    );
    let token_weights = token_row.weights.clone();
    let mut rows = vec![
        Row::input("token_ids"),
        token_row,
        Row::input("padding_mask"),
    ];

    let phi3 = fam.model_type == "phi3";
    let (attn, norms) = if phi3 {
        (
            "attention",
            ["pre_attention_layernorm", "post_attention_layernorm"],
        )
    } else {
        (
            "self_attention",
            ["self_attention_layernorm", "feedforward_layernorm"],
        )
    };
    let mut block = Vec::new();
    attention(&mut block, attn, heads, fam.model_type == "qwen2", false);
    if fam.model_type == "qwen3" {
        rms_norm(&mut block, "self_attention/query_dense_layernorm", head_dim);
        rms_norm(&mut block, "self_attention/key_dense_layernorm", head_dim);
    }
    for n in norms {
        rms_norm(&mut block, n, hidden);
    }
    match experts {
        Some((e, _)) => {
            let moe = "mixtral_sparse_moe_block";
            dense(
                &mut block,
                &format!("{moe}/sparse_feedforward_gate_dense"),
                hidden,
                e,
                false,
            );
            for (name, d_in, d_out) in [
                ("gate", hidden, inter),
                ("intermediate", hidden, inter),
                ("output", inter, hidden),
            ] {
                block.push(Weight::new(
                    format!("{moe}/experts/expert_feedforward_{name}_dense"),
                    vec![dim(e, "experts"), dim(d_in, "inputs"), dim(d_out, "units")],
                ));
            }
        }
        None => {
            dense(
                &mut block,
                "feedforward_intermediate_dense",
                hidden,
                inter,
                false,
            );
            dense(&mut block, "feedforward_gate_dense", hidden, inter, false);
            dense(&mut block, "feedforward_output_dense", inter, hidden, false);
        }
    }
    rows.extend((0..layers).map(|i| {
        Row::new(
            format!("transformer_layer_{i}"),
            fam.block_class,
            seq_shape(Some(hidden)),
            block.clone(),
        )
    }));
    let mut norm = Vec::new();
    rms_norm(&mut norm, "", hidden);
    rows.push(Row::new(
        "sequence_output_layernorm",
        fam.norm_class,
        seq_shape(Some(hidden)),
        norm,
    ));

    let mut hf = json!({
        "model_type": fam.model_type, "vocab_size": vocab, "hidden_size": hidden,
        "intermediate_size": inter, "num_hidden_layers": layers,
        "num_attention_heads": q, "num_key_value_heads": kv, "head_dim": head_dim,
        "tie_word_embeddings": tie,
        "attention_dropout": a.float_or("dropout", 0.0)?,
        "rms_norm_eps": a.float_or("layer_norm_epsilon", 1e-6)?,
    });
    let extra = &mut hf.as_object_mut().expect("a JSON object literal");
    if let Some((e, k)) = experts {
        extra.insert("num_local_experts".into(), e.into());
        extra.insert("num_experts_per_tok".into(), k.into());
    }
    if matches!(fam.model_type, "mistral" | "mixtral") {
        let window = a.dim_or("sliding_window", 512)?;
        extra.insert("sliding_window".into(), Value::from(window));
    }
    if phi3 {
        extra.insert(
            "max_position_embeddings".into(),
            a.dim_or("max_sequence_length", 4096)?.into(),
        );
        extra.insert(
            "original_max_position_embeddings".into(),
            a.dim_or("pretraining_sequence_length", 4096)?.into(),
        );
    }
    Ok(Backbone {
        hf_config: Some(hf),
        rows,
        hidden,
        vocab,
        embed_dim: hidden,
        token_weights,
        inputs: &["token_ids", "padding_mask"],
        pooled: false,
        classifier: Classifier::None,
        lm_row_shows_vocab: false,
    })
}
