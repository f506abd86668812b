//! keras-hub's Qwen3_5Backbone and Qwen3_5MoeBackbone (text only): a token embedding
//! (`ReversibleEmbedding`, untied unless `tie_word_embeddings`), N decoder layers following
//! `layer_types` (default: every fourth `full_attention`, the others `linear_attention`),
//! each `input_layernorm` → mixer → `post_attention_layernorm` → MLP, and a final RMS norm.
//! - `linear_attn`: Gated DeltaNet, `in_proj_qkv` (hidden → 2·key_dim + value_dim),
//!   `in_proj_z` (→ value_dim), `in_proj_b` and `in_proj_a` (→ value heads), a depthwise
//!   `conv1d_kernel` [conv_dim, kernel], `dt_bias` and `A_log` per value head, a gated RMS
//!   `norm` [value_head_dim] and `out_proj` (value_dim → hidden); no biases.
//! - `self_attention`: grouped-query attention whose `query` also computes the output gate
//!   (`[hidden, heads, 2·head_dim]`), per-head `query_norm` / `key_norm`; no biases.
//! - MLP: Qwen3_5's gated MLP; Qwen3_5Moe's `sparse_moe_block`: a `router_gate`, the
//!   experts' fused gate-and-up `[experts, hidden, 2·moe_inter]` and output kernels, and a
//!   shared gated MLP scaled by `sigmoid(shared_expert_gate)`, in every layer.
//!
//! The transformers twins are qwen3_5_text and qwen3_5_moe_text, the same Qwen3.5 text
//! decoders (split Gated DeltaNet projections, the gated attention, the shared-expert MoE
//! in every layer). Same weights, same counts.
use serde_json::{json, Value};

use super::blocks::{dense, embedding, kernel, rms_norm, seq_shape, Args, Row};
use super::Backbone;
use crate::error::{add, mul, Error, Result};
use crate::weight::{dim, Weight};

/// The Gated DeltaNet sizes (`linear_*` constructor arguments, keras-hub's defaults).
struct Linear {
    key_heads: u64,
    value_heads: u64,
    key_head_dim: u64,
    value_head_dim: u64,
    conv_kernel: u64,
}

impl Linear {
    fn read(a: &Args) -> Result<Linear> {
        let linear = Linear {
            key_heads: a.dim_or("linear_num_key_heads", 16)?,
            value_heads: a.dim_or("linear_num_value_heads", 32)?,
            key_head_dim: a.dim_or("linear_key_head_dim", 128)?,
            value_head_dim: a.dim_or("linear_value_head_dim", 128)?,
            conv_kernel: a.dim_or("linear_conv_kernel_dim", 4)?,
        };
        // the widths `weights` multiplies unchecked, checked once here
        let what = "Gated DeltaNet width";
        let key_dim = mul(linear.key_heads, linear.key_head_dim, a.location, what)?;
        let value_dim = mul(linear.value_heads, linear.value_head_dim, a.location, what)?;
        add(
            mul(2, key_dim, a.location, what)?,
            value_dim,
            a.location,
            what,
        )?;
        Ok(linear)
    }

    fn weights(&self, w: &mut Vec<Weight>, hidden: u64) {
        let key_dim = self.key_heads * self.key_head_dim;
        let value_dim = self.value_heads * self.value_head_dim;
        let conv_dim = 2 * key_dim + value_dim;
        let p = "linear_attn";
        w.push(Weight::new(
            format!("{p}/conv1d_kernel"),
            vec![dim(conv_dim, "conv_dim"), dim(self.conv_kernel, "kernel")],
        ));
        for leaf in ["dt_bias", "A_log"] {
            w.push(Weight::new(
                format!("{p}/{leaf}"),
                vec![dim(self.value_heads, "value_heads")],
            ));
        }
        for (name, width) in [
            ("in_proj_qkv", conv_dim),
            ("in_proj_z", value_dim),
            ("in_proj_b", self.value_heads),
            ("in_proj_a", self.value_heads),
        ] {
            dense(w, &format!("{p}/{name}"), hidden, width, false);
        }
        rms_norm(w, &format!("{p}/norm"), self.value_head_dim);
        dense(w, &format!("{p}/out_proj"), value_dim, hidden, false);
    }
}

/// Qwen3_5Moe's sparse block sizes.
struct Moe {
    experts: u64,
    top_k: u64,
    moe_inter: u64,
    shared_inter: u64,
}

impl Moe {
    fn weights(&self, w: &mut Vec<Weight>, hidden: u64) {
        let p = "sparse_moe_block";
        dense(w, &format!("{p}/router_gate"), hidden, self.experts, false);
        let (e, m) = (self.experts, self.moe_inter);
        for (name, d_in, d_out, label) in [
            ("gate", hidden, 2 * m, "2·moe_inter"),
            ("output", m, hidden, "units"),
        ] {
            w.push(Weight::new(
                format!("{p}/experts/expert_feedforward_{name}_dense"),
                vec![dim(e, "experts"), dim(d_in, "inputs"), dim(d_out, label)],
            ));
        }
        gated_mlp(w, &format!("{p}/shared_expert/"), hidden, self.shared_inter);
        dense(w, &format!("{p}/shared_expert_gate"), hidden, 1, false);
    }
}

pub fn backbone(a: &Args) -> Result<Backbone> {
    if !matches!(a.config.get("vision_encoder"), None | Some(Value::Null)) {
        return Err(Error::invalid(
            a.location,
            format!("{} with a vision_encoder is not read yet (its text decoder alone is): give the backbone with vision_encoder null, or count the model from its .keras archive", a.class_name),
        ));
    }
    let moe_family = a.class_name == "Qwen3_5MoeBackbone";
    let vocab = a.dim("vocabulary_size")?;
    let layers = a.dim("num_layers")?;
    let hidden = a.dim("hidden_dim")?;
    let q = a.dim("num_query_heads")?;
    let kv = a.dim("num_key_value_heads")?;
    let head_dim = a.dim("head_dim")?;
    mul(
        2,
        head_dim,
        a.location,
        "the gated query width (2 × head_dim)",
    )?;
    let tie = a.flag_or("tie_word_embeddings", false)?;
    let linear = Linear::read(a)?;
    let (inter, moe) = if moe_family {
        let moe = Moe {
            experts: a.dim("num_experts")?,
            top_k: a.dim("top_k")?,
            moe_inter: a.dim("moe_intermediate_dim")?,
            shared_inter: a.dim("shared_expert_intermediate_size")?,
        };
        mul(2, moe.moe_inter, a.location, "2 × moe_intermediate_dim")?;
        (moe.shared_inter, Some(moe))
    } else {
        (a.dim("intermediate_dim")?, None)
    };
    let layer_types = read_layer_types(a, layers)?;

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
    let block_class = if moe_family {
        "Qwen3_5MoeTransformerDecoder"
    } else {
        "Qwen3_5TransformerDecoder"
    };
    for (i, &full) in layer_types.iter().enumerate() {
        let mut w = Vec::new();
        if full {
            let p = "self_attention";
            w.push(kernel(
                &format!("{p}/query"),
                &[
                    (hidden, "inputs"),
                    (q, "heads"),
                    (2 * head_dim, "2·head_dim"),
                ],
            ));
            rms_norm(&mut w, &format!("{p}/query_norm"), head_dim);
            w.push(kernel(
                &format!("{p}/key"),
                &[(hidden, "inputs"), (kv, "heads"), (head_dim, "head_dim")],
            ));
            rms_norm(&mut w, &format!("{p}/key_norm"), head_dim);
            w.push(kernel(
                &format!("{p}/value"),
                &[(hidden, "inputs"), (kv, "heads"), (head_dim, "head_dim")],
            ));
            w.push(kernel(
                &format!("{p}/attention_output"),
                &[(q, "heads"), (head_dim, "head_dim"), (hidden, "units")],
            ));
        } else {
            linear.weights(&mut w, hidden);
        }
        rms_norm(&mut w, "input_layernorm", hidden);
        match &moe {
            Some(moe) => moe.weights(&mut w, hidden),
            None => gated_mlp(&mut w, "", hidden, inter),
        }
        rms_norm(&mut w, "post_attention_layernorm", hidden);
        rows.push(Row::new(
            format!("transformer_layer_{i}"),
            block_class,
            seq_shape(Some(hidden)),
            w,
        ));
    }
    let mut norm = Vec::new();
    rms_norm(&mut norm, "", hidden);
    rows.push(Row::new(
        "sequence_output_layernorm",
        "Qwen3_5LayerNorm",
        seq_shape(Some(hidden)),
        norm,
    ));

    let types: Vec<&str> = layer_types
        .iter()
        .map(|&full| {
            if full {
                "full_attention"
            } else {
                "linear_attention"
            }
        })
        .collect();
    let model_type = match moe_family {
        true => "qwen3_5_moe_text",
        false => "qwen3_5_text",
    };
    let mut hf = json!({
        "model_type": model_type, "vocab_size": vocab, "hidden_size": hidden,
        "intermediate_size": inter, "num_hidden_layers": layers,
        "num_attention_heads": q, "num_key_value_heads": kv, "head_dim": head_dim,
        "tie_word_embeddings": tie, "layer_types": types,
        "partial_rotary_factor": a.float_or("partial_rotary_factor", 0.25)?,
        "attention_dropout": a.float_or("dropout", 0.0)?,
        "rms_norm_eps": a.float_or("layer_norm_epsilon", 1e-6)?,
        "linear_num_key_heads": linear.key_heads,
        "linear_num_value_heads": linear.value_heads,
        "linear_key_head_dim": linear.key_head_dim,
        "linear_value_head_dim": linear.value_head_dim,
        "linear_conv_kernel_dim": linear.conv_kernel,
    });
    if let Some(moe) = &moe {
        let keys = hf.as_object_mut().expect("a JSON object literal");
        keys.insert("num_experts".into(), moe.experts.into());
        keys.insert("num_experts_per_tok".into(), moe.top_k.into());
        keys.insert("moe_intermediate_size".into(), moe.moe_inter.into());
        keys.insert(
            "shared_expert_intermediate_size".into(),
            moe.shared_inter.into(),
        );
    }
    Ok(Backbone::decoder(hf, rows, hidden, vocab, token_weights))
}

/// Qwen3_5's gated MLP (dense, or the MoE's shared expert), its Dense layers under
/// `prefix` in the order keras-hub builds them (gate first).
fn gated_mlp(w: &mut Vec<Weight>, prefix: &str, hidden: u64, inter: u64) {
    for (name, d_in, d_out) in [
        ("feedforward_gate_dense", hidden, inter),
        ("feedforward_intermediate_dense", hidden, inter),
        ("feedforward_output_dense", inter, hidden),
    ] {
        dense(w, &format!("{prefix}{name}"), d_in, d_out, false);
    }
}

/// `layer_types` as booleans (true: full attention); keras-hub's default when absent.
fn read_layer_types(a: &Args, layers: u64) -> Result<Vec<bool>> {
    let bad = |what: String| {
        Error::invalid(
            a.location,
            format!("{} config key 'layer_types' {what}", a.class_name),
        )
    };
    match a.config.get("layer_types") {
        None | Some(Value::Null) => Ok((0..layers).map(|i| (i + 1) % 4 == 0).collect()),
        Some(Value::Array(items)) => {
            if items.len() as u64 != layers {
                return Err(bad(format!(
                    "has {} entries; num_layers is {layers} (one type per layer)",
                    items.len()
                )));
            }
            items
                .iter()
                .map(|v| match v.as_str() {
                    Some("full_attention") => Ok(true),
                    Some("linear_attention") => Ok(false),
                    _ => Err(bad(format!(
                        "has {v}; each entry must be \"full_attention\" or \"linear_attention\""
                    ))),
                })
                .collect()
        }
        Some(v) => Err(bad(format!("must be a list of layer types, got {v}"))),
    }
}
