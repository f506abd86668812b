//! keras-hub's llama-like backbones: Llama, Llama3, Mistral, Mixtral, Qwen (qwen2),
//! Qwen3, Phi3, QwenMoe and Qwen3Moe. A token embedding (`ReversibleEmbedding`, holding
//! the untied LM head as `reverse_embeddings` unless tied), N decoder layers of
//! grouped-query attention without biases (qwen, qwen_moe: q/k/v biases; qwen3,
//! qwen3_moe: per-head q/k RMSNorms) and a gated MLP (mixtral, qwen_moe, qwen3_moe: a
//! sparse MoE block), RMS norms, and a final RMS norm.
//!
//! The transformers twin of each: llama, llama, mistral, mixtral, qwen2, qwen3, phi3,
//! qwen2_moe, qwen3_moe (phi3 fuses q/k/v and gate/up, keras-hub keeps them apart; the
//! qwen MoE experts fuse gate and up as transformers does: same counts).
use serde_json::{json, Map, Value};

use super::blocks::{attention, dense, embedding, rms_norm, seq_shape, Args, Heads, Row};
use super::Backbone;
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
        "QwenMoeBackbone" => f(
            "qwen2_moe",
            "QwenMoeTransformerDecoder",
            "QwenLayerNorm",
            Some(false),
        ),
        "Qwen3MoeBackbone" => f(
            "qwen3_moe",
            "Qwen3MoeTransformerDecoder",
            "Qwen3MoeLayerNorm",
            Some(false),
        ),
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
    let qwen_moe = match fam.model_type {
        "qwen2_moe" | "qwen3_moe" => Some(QwenMoe::read(a, fam.model_type, layers)?),
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
    let qkv_bias = matches!(fam.model_type, "qwen2" | "qwen2_moe");
    attention(&mut block, attn, heads, qkv_bias, false);
    if matches!(fam.model_type, "qwen3" | "qwen3_moe") {
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
        // the qwen MoE families add their MLP per layer (dense or sparse)
        None if qwen_moe.is_some() => {}
        None => gated_mlp(&mut block, "", hidden, inter),
    }
    rows.extend((0..layers).map(|i| {
        let mut weights = block.clone();
        if let Some(moe) = &qwen_moe {
            moe.mlp(&mut weights, i, hidden, inter);
        }
        Row::new(
            format!("transformer_layer_{i}"),
            fam.block_class,
            seq_shape(Some(hidden)),
            weights,
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
    if let Some(moe) = &qwen_moe {
        extra.extend(moe.hf_keys(a)?);
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
    Ok(Backbone::decoder(hf, rows, hidden, vocab, token_weights))
}

/// The gated MLP of keras-hub's llama-like decoders, its Dense layers under `prefix`.
fn gated_mlp(w: &mut Vec<Weight>, prefix: &str, hidden: u64, inter: u64) {
    for (name, d_in, d_out) in [
        ("feedforward_intermediate_dense", hidden, inter),
        ("feedforward_gate_dense", hidden, inter),
        ("feedforward_output_dense", inter, hidden),
    ] {
        dense(w, &format!("{prefix}{name}"), d_in, d_out, false);
    }
}

/// The sparse MoE blocks of QwenMoe and Qwen3Moe: a router Dense `hidden → experts`, the
/// experts' fused gate-and-up `[experts, hidden, 2·moe_inter]` and output
/// `[experts, moe_inter, hidden]` kernels, and (qwen_moe) an always-on shared expert,
/// a gated MLP `shared_expert_intermediate_dim` wide, scaled by a `hidden → 1` gate.
struct QwenMoe {
    experts: u64,
    top_k: u64,
    moe_inter: u64,
    /// qwen_moe's shared expert width; `None` for qwen3_moe.
    shared_inter: Option<u64>,
    /// The layers keras-hub builds with the dense MLP instead.
    dense_layers: Vec<u64>,
    /// Qwen3Moe's attention masks a sliding window in every layer unless
    /// `sliding_window_size` is null.
    sliding_window: Option<u64>,
}

impl QwenMoe {
    fn read(a: &Args, model_type: &str, layers: u64) -> Result<QwenMoe> {
        let experts = a.count_or("num_experts", 0)?;
        let step = a.dim_or("decoder_sparse_step", 1)?;
        let mlp_only = a.count_list("mlp_only_layers")?;
        // keras-hub's QwenMoeTransformerDecoder is never given its layer index, so every
        // layer tests the index 0 and all are alike; Qwen3Moe tests each layer's own
        let index = |i: u64| if model_type == "qwen2_moe" { 0 } else { i };
        let dense_layers = (0..layers)
            .filter(|&i| experts == 0 || mlp_only.contains(&index(i)) || (index(i) + 1) % step != 0)
            .collect();
        Ok(QwenMoe {
            experts,
            top_k: a.dim_or("top_k", 4)?,
            moe_inter: a.dim("moe_intermediate_dim")?,
            shared_inter: match model_type {
                "qwen2_moe" => Some(a.dim("shared_expert_intermediate_dim")?),
                _ => None,
            },
            dense_layers,
            sliding_window: match (model_type, a.config.get("sliding_window_size")) {
                ("qwen3_moe", None) => Some(32768),
                ("qwen3_moe", Some(_)) => a.dim_opt("sliding_window_size")?,
                _ => None,
            },
        })
    }

    /// Layer `i`'s MLP weights.
    fn mlp(&self, w: &mut Vec<Weight>, i: u64, hidden: u64, inter: u64) {
        if self.dense_layers.contains(&i) {
            return gated_mlp(w, "mlp/", hidden, inter);
        }
        let (e, m) = (self.experts, self.moe_inter);
        dense(w, "mlp/sparse_feedforward_gate_dense", hidden, e, false);
        for (name, d_in, d_out, label) in [
            ("gate", hidden, 2 * m, "2·moe_inter"),
            ("output", m, hidden, "units"),
        ] {
            w.push(Weight::new(
                format!("mlp/experts/expert_feedforward_{name}_dense"),
                vec![dim(e, "experts"), dim(d_in, "inputs"), dim(d_out, label)],
            ));
        }
        if let Some(shared) = self.shared_inter {
            gated_mlp(w, "mlp/shared_expert_dense/", hidden, shared);
            dense(w, "mlp/shared_expert_gate_dense", hidden, 1, false);
        }
    }

    /// The transformers config keys of the same MoE layout.
    fn hf_keys(&self, a: &Args) -> Result<Map<String, Value>> {
        let mut keys = Map::new();
        keys.insert("num_experts".into(), self.experts.into());
        keys.insert("num_experts_per_tok".into(), self.top_k.into());
        keys.insert("moe_intermediate_size".into(), self.moe_inter.into());
        keys.insert(
            "norm_topk_prob".into(),
            a.flag_or("norm_top_k_prob", false)?.into(),
        );
        // the dense layers as keras-hub places them, named one by one
        keys.insert("decoder_sparse_step".into(), 1.into());
        keys.insert("mlp_only_layers".into(), json!(self.dense_layers));
        if let Some(shared) = self.shared_inter {
            keys.insert("shared_expert_intermediate_size".into(), shared.into());
        }
        if let Some(window) = self.sliding_window {
            keys.insert("use_sliding_window".into(), true.into());
            keys.insert("sliding_window".into(), window.into());
        }
        Ok(keys)
    }
}
