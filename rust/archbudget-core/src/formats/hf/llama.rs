//! Llama-like decoders: llama, mistral, mixtral, qwen2, qwen2_moe, gemma, gemma2, phi3.
//!
//! Computes: token embedding, N × (RMSNorm → attention → RMSNorm → gated MLP or sparse
//! MoE), final RMSNorm, LM head.
//! Weights: q/k/v/o projections with grouped-query heads (phi3 fuses qkv and gate/up),
//! biases as each type sets them (llama `attention_bias`/`mlp_bias`, gemma
//! `attention_bias`, qwen2 fixed qkv bias, qwen2_moe `qkv_bias`); MoE experts are stored
//! as `[experts, 2·inter, hidden]` and `[experts, hidden, inter]` tensors plus a
//! `[experts, hidden]` router; qwen2_moe adds a shared expert and its `hidden → 1` gate.
//! Mirrors: `modeling_<type>.py` of transformers 5.x, head_dim as
//! `getattr(config, "head_dim", hidden // heads)`.
use crate::arch::{HeadKind, Moe, NormKind, Position, TransformerArch};
use crate::error::{add, mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::modules::{embedding_row, heads_dim, linear, lm_head, norm, norm_row, times, Modules};

/// Defaults of `configuration_<type>.py`.
struct Defaults {
    vocab: u64,
    hidden: u64,
    inter: u64,
    layers: u64,
    heads: u64,
    /// `None`: the config's `__post_init__` copies the head count.
    kv_heads: Option<u64>,
    head_dim: Option<u64>,
    max_pos: u64,
    tie: bool,
}

fn defaults(model_type: &str) -> Defaults {
    let d = |vocab, hidden, inter, layers, heads, kv_heads, head_dim, max_pos, tie| Defaults {
        vocab,
        hidden,
        inter,
        layers,
        heads,
        kv_heads,
        head_dim,
        max_pos,
        tie,
    };
    match model_type {
        "mistral" | "mixtral" => d(32000, 4096, 14336, 32, 32, Some(8), None, 4096 * 32, false),
        "qwen2" => d(151936, 4096, 22016, 32, 32, Some(32), None, 32768, false),
        "qwen2_5_vl_text" => d(152064, 8192, 29568, 80, 64, Some(8), None, 32768, false),
        "qwen2_moe" => d(151936, 2048, 5632, 24, 16, Some(16), None, 32768, false),
        "gemma" => d(256000, 3072, 24576, 28, 16, Some(16), Some(256), 8192, true),
        "gemma2" => d(256000, 2304, 9216, 26, 8, Some(4), Some(256), 8192, true),
        "phi3" => d(32064, 3072, 8192, 32, 32, None, None, 4096, false),
        _ => d(32000, 4096, 11008, 32, 32, None, None, 2048, false),
    }
}

/// The class-name prefix of the type's modules.
fn prefix(model_type: &str) -> &'static str {
    match model_type {
        "mistral" => "Mistral",
        "mixtral" => "Mixtral",
        "qwen2" => "Qwen2",
        "qwen2_5_vl_text" => "Qwen2_5_VL",
        "qwen2_moe" => "Qwen2Moe",
        "gemma" => "Gemma",
        "gemma2" => "Gemma2",
        "phi3" => "Phi3",
        _ => "Llama",
    }
}

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let mt = cfg.model_type;
    let d = defaults(mt);
    let hidden = cfg.dim("hidden_size", d.hidden)?;
    let heads = cfg.dim("num_attention_heads", d.heads)?;
    let layers = cfg.layers(&["num_hidden_layers"], d.layers)?;
    // An explicit null is `None` in Python: the `__post_init__` of these types (or the
    // modeling code) turns it into the head count; an absent key takes the default.
    let kv_heads = match cfg.dim_opt("num_key_value_heads")? {
        Some(n) => n,
        None if cfg.is_null("num_key_value_heads") => heads,
        None => d.kv_heads.unwrap_or(heads),
    };
    if matches!(mt, "llama" | "gemma2") {
        cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    }
    let head_dim = match cfg.dim_opt("head_dim")? {
        Some(n) => n,
        None => d
            .head_dim
            .filter(|_| !cfg.is_null("head_dim"))
            .unwrap_or(hidden / heads),
    };
    if head_dim == 0 {
        return Err(cfg.invalid(format!(
            "hidden_size ({hidden}) is smaller than num_attention_heads ({heads})"
        )));
    }
    let activation = match mt {
        "gemma2" => cfg.string("hidden_activation", "gelu_pytorch_tanh")?,
        "gemma" => cfg.string("hidden_act", "gelu_pytorch_tanh")?,
        _ => cfg.string("hidden_act", "silu")?,
    };
    let (qkv_bias, o_bias, mlp_bias) = match mt {
        "llama" => {
            let b = cfg.flag("attention_bias", false)?;
            (b, b, cfg.flag("mlp_bias", false)?)
        }
        "gemma" | "gemma2" => {
            let b = cfg.flag("attention_bias", false)?;
            (b, b, false)
        }
        "qwen2" | "qwen2_5_vl_text" => (true, false, false),
        "qwen2_moe" => (cfg.flag("qkv_bias", true)?, false, false),
        _ => (false, false, false),
    };
    let moe = match mt {
        "mixtral" => Some(Moe {
            num_experts: cfg.dim_alias(&["num_local_experts", "num_experts"], 8)?,
            experts_per_token: cfg.dim("num_experts_per_tok", 2)?,
            expert_intermediate_size: cfg.dim("intermediate_size", d.inter)?,
            shared_expert_intermediate_size: 0,
            shared_expert_gate: false,
            dense_layers: Vec::new(),
            renormalize: true,
            weights_in_logits_dtype: false,
            ..Moe::softmax_router()
        }),
        "qwen2_moe" => qwen2_moe(cfg, layers)?,
        _ => None,
    };
    let vocab = cfg.dim("vocab_size", d.vocab)?;
    let inter = cfg.dim("intermediate_size", d.inter)?;
    Ok(TransformerArch {
        head,
        vocab_size: vocab,
        num_kv_heads: kv_heads,
        head_dim,
        gated_mlp: true,
        activation,
        norm: NormKind::RmsNorm,
        norms_per_layer: if mt == "gemma2" { 4 } else { 2 },
        qkv_bias,
        o_bias,
        mlp_bias,
        fused_qkv: mt == "phi3",
        position: Position::Rotary,
        max_positions: cfg.dim("max_position_embeddings", d.max_pos)?,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", d.tie)?,
        moe,
        ..TransformerArch::decoder(mt, hidden, layers, heads, inter)
    })
}

/// qwen2_moe: layer `i` is sparse when `i ∉ mlp_only_layers`, `num_experts > 0` and
/// `(i + 1) % decoder_sparse_step == 0`; the others use the dense MLP.
fn qwen2_moe(cfg: &Cfg, layers: u64) -> Result<Option<Moe>> {
    let num_experts = cfg.count("num_experts", 60)?;
    let step = cfg.dim("decoder_sparse_step", 1)?;
    let mlp_only = cfg.count_list("mlp_only_layers")?;
    let dense_layers: Vec<u64> = (0..layers)
        .filter(|i| num_experts == 0 || mlp_only.contains(i) || (i + 1) % step != 0)
        .collect();
    if dense_layers.len() as u64 == layers {
        return Ok(None);
    }
    Ok(Some(Moe {
        num_experts,
        experts_per_token: cfg.dim("num_experts_per_tok", 4)?,
        expert_intermediate_size: cfg.dim("moe_intermediate_size", 1408)?,
        shared_expert_intermediate_size: cfg.dim("shared_expert_intermediate_size", 5632)?,
        shared_expert_gate: true,
        dense_layers,
        renormalize: cfg.flag("norm_topk_prob", false)?,
        weights_in_logits_dtype: true,
        ..Moe::softmax_router()
    }))
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let loc = m.location();
    let p = prefix(&a.model_type);
    let root = if a.head.has_lm_head() { "model." } else { "" };
    let embed_class = match a.model_type.as_str() {
        "gemma" | "gemma2" => format!("{p}TextScaledWordEmbedding"),
        _ => "Embedding".to_string(),
    };
    let embed_path = format!("{root}embed_tokens");
    embedding_row(
        m,
        embed_path.clone(),
        &embed_class,
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;

    let hidden = dim(a.hidden_size, "hidden");
    let q = heads_dim(a.num_heads, a.head_dim, "heads×head_dim", loc)?;
    let kv = heads_dim(a.num_kv_heads, a.head_dim, "kv_heads×head_dim", loc)?;
    let norm_class = format!("{p}RMSNorm");
    let norm_names: &[&str] = if a.norms_per_layer == 4 {
        &[
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ]
    } else {
        &["input_layernorm", "post_attention_layernorm"]
    };
    let mut attn = Vec::new();
    if a.fused_qkv {
        let qkv = add(
            q.size,
            mul(2, kv.size, loc, "attention width")?,
            loc,
            "attention width",
        )?;
        linear(
            &mut attn,
            "qkv_proj.",
            hidden.clone(),
            dim(qkv, "(heads+2·kv_heads)×head_dim"),
            false,
        );
    } else {
        linear(&mut attn, "q_proj.", hidden.clone(), q.clone(), a.qkv_bias);
        linear(&mut attn, "k_proj.", hidden.clone(), kv.clone(), a.qkv_bias);
        linear(&mut attn, "v_proj.", hidden.clone(), kv.clone(), a.qkv_bias);
    }
    linear(&mut attn, "o_proj.", q.clone(), hidden.clone(), a.o_bias);
    let attn_class = format!("{p}Attention");
    let mut layer_norm = Vec::new();
    norm(&mut layer_norm, "", a.hidden_size, a.norm);
    let sparse = |i| a.moe.as_ref().is_some_and(|moe| moe.is_moe_layer(i));
    // runs of layers with the same MLP kind: identical blocks, declared once per run
    // (counting only: summed once and multiplied)
    let mut start = 0;
    while start < a.num_layers {
        let kind = sparse(start);
        let end = (start..a.num_layers)
            .find(|&i| sparse(i) != kind)
            .unwrap_or(a.num_layers);
        let (mlp_class, mlp_weights, idle) = mlp(a, loc, kind, p)?;
        m.add_idle(mul(idle, end - start, loc, "parameter count")?)?;
        let mut block = vec![
            ("self_attn".to_string(), attn_class.as_str(), attn.clone()),
            ("mlp".to_string(), mlp_class.as_str(), mlp_weights),
        ];
        for name in norm_names {
            block.push((name.to_string(), norm_class.as_str(), layer_norm.clone()));
        }
        m.add_blocks(
            end - start,
            |j| format!("{root}layers.{}.", start + j),
            &block,
        )?;
        start = end;
    }
    norm_row(m, format!("{root}norm"), &norm_class, a.hidden_size, a.norm)?;
    if a.head.has_lm_head() {
        lm_head(m, "lm_head", a, &format!("{embed_path}.weight"))?;
        return Ok(format!("{p}ForCausalLM"));
    }
    Ok(format!("{p}Model"))
}

/// One layer's MLP module (sparse: the MoE block): its class, weights and the routed-expert
/// parameters a token does not use.
fn mlp(
    a: &TransformerArch,
    loc: &str,
    sparse: bool,
    p: &str,
) -> Result<(String, Vec<Weight>, u64)> {
    let hidden = dim(a.hidden_size, "hidden");
    let mut w = Vec::new();
    match &a.moe {
        Some(moe) if sparse => {
            let experts = dim(moe.num_experts, "experts");
            let inter = moe.expert_intermediate_size;
            w.push(Weight::new(
                "gate.weight",
                vec![experts.clone(), hidden.clone()],
            ));
            let gate_up = times(2, inter, "2×expert_intermediate", loc)?;
            w.push(Weight::new(
                "experts.gate_up_proj",
                vec![experts.clone(), gate_up, hidden.clone()],
            ));
            let down = vec![experts, hidden.clone(), dim(inter, "expert_intermediate")];
            w.push(Weight::new("experts.down_proj", down));
            // w: the router, then the two stacked expert tensors
            let idle = super::moe::idle_expert_params(
                &w[1..],
                moe.num_experts,
                moe.experts_per_token,
                loc,
            )?;
            if moe.shared_expert_intermediate_size > 0 {
                let shared = dim(moe.shared_expert_intermediate_size, "shared_intermediate");
                linear(
                    &mut w,
                    "shared_expert.gate_proj.",
                    hidden.clone(),
                    shared.clone(),
                    false,
                );
                linear(
                    &mut w,
                    "shared_expert.up_proj.",
                    hidden.clone(),
                    shared.clone(),
                    false,
                );
                linear(
                    &mut w,
                    "shared_expert.down_proj.",
                    shared,
                    hidden.clone(),
                    false,
                );
            }
            if moe.shared_expert_gate {
                linear(&mut w, "shared_expert_gate.", hidden, dim(1, "gate"), false);
            }
            Ok((format!("{p}SparseMoeBlock"), w, idle))
        }
        _ => {
            let inter = dim(a.intermediate_size, "intermediate");
            if a.model_type == "phi3" {
                let gate_up = times(2, a.intermediate_size, "2×intermediate", loc)?;
                linear(&mut w, "gate_up_proj.", hidden.clone(), gate_up, false);
            } else {
                linear(
                    &mut w,
                    "gate_proj.",
                    hidden.clone(),
                    inter.clone(),
                    a.mlp_bias,
                );
                linear(
                    &mut w,
                    "up_proj.",
                    hidden.clone(),
                    inter.clone(),
                    a.mlp_bias,
                );
            }
            linear(&mut w, "down_proj.", inter, hidden, a.mlp_bias);
            // Qwen2.5-VL's text layers keep qwen2's MLP class
            let class = match a.model_type.as_str() {
                "qwen2_5_vl_text" => "Qwen2MLP".to_string(),
                _ => format!("{p}MLP"),
            };
            Ok((class, w, 0))
        }
    }
}
