//! falcon, and bloom (falcon-rw's architecture with a LayerNorm on the embeddings).
//!
//! Computes: token embedding, N × (LayerNorm(s) → attention and MLP, in parallel unless
//! `parallel_attn` is false and the architecture is the old one), final LayerNorm, LM head
//! tied by default. Positions are rotary, or ALiBi when `alibi`.
//! Weights: fused `query_key_value` of `(heads + 2·kv) × head_dim` outputs, where kv is
//! `num_kv_heads` with `new_decoder_architecture`, 1 with `multi_query`, else heads;
//! `dense`, `dense_h_to_4h` (`ffn_hidden_size`, default 4 × hidden), `dense_4h_to_h`, all
//! biased when `bias`. Norms per block: `ln_attn` + `ln_mlp` (new architecture,
//! `num_ln_in_parallel_attn` 2), `input_layernorm` (+ `post_attention_layernorm` when not
//! parallel).
//! Mirrors: `modeling_falcon.py` of transformers 5.x; `n_embed` overrides `hidden_size`.
//!
//! bloom (`modeling_bloom.py`): `word_embeddings_layernorm` after the token embedding,
//! then falcon's old sequential architecture with ALiBi, biased fused `query_key_value`
//! over all heads and an MLP fixed at 4 × hidden; `n_layer` / `n_head` name the depth and
//! heads, and the LM head is tied by default. Its attention is its own eager code
//! (`baddbmm` of the ALiBi slopes), with no SDPA path.
use crate::arch::{HeadKind, Position, TransformerArch};
use crate::error::{add, mul, Result};
use crate::weight::dim;

use super::config::Cfg;
use super::modules::{embedding_row, h_to_4h_mlp, heads_dim, linear, lm_head, norm_row, Modules};

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let loc = cfg.location;
    let hidden = cfg.dim_alias(&["n_embed", "hidden_size"], 4544)?;
    let heads = cfg.dim("num_attention_heads", 71)?;
    cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    let new_arch = cfg.flag("new_decoder_architecture", false)?;
    let parallel = cfg.flag("parallel_attn", true)?;
    let kv_heads = if new_arch {
        cfg.dim("num_kv_heads", heads)?
    } else if cfg.flag("multi_query", true)? {
        1
    } else {
        heads
    };
    let ln_in_parallel = match cfg.count_opt("num_ln_in_parallel_attn")? {
        None if new_arch => 2,
        n => n.unwrap_or(1),
    };
    let norms_per_layer = if !parallel || ln_in_parallel == 2 {
        2
    } else {
        1
    };
    let bias = cfg.flag("bias", false)?;
    let intermediate_size = match cfg.dim_opt("ffn_hidden_size")? {
        Some(n) => n,
        None => mul(4, hidden, loc, "ffn_hidden_size")?,
    };
    let alibi = cfg.flag("alibi", false)?;
    let vocab = cfg.dim("vocab_size", 65024)?;
    let layers = cfg.layers(&["num_hidden_layers"], 32)?;
    Ok(TransformerArch {
        head,
        vocab_size: vocab,
        num_kv_heads: kv_heads,
        activation: cfg.string("activation", "gelu")?,
        norms_per_layer,
        qkv_bias: bias,
        o_bias: bias,
        mlp_bias: bias,
        fused_qkv: true,
        position: if alibi {
            Position::Alibi
        } else {
            Position::Rotary
        },
        max_positions: cfg.dim("max_position_embeddings", 2048)?,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", true)?,
        parallel_attn: new_arch || parallel,
        kv_broadcast: new_arch,
        ..TransformerArch::decoder("falcon", hidden, layers, heads, intermediate_size)
    })
}

pub fn bloom(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let loc = cfg.location;
    let hidden = cfg.dim_alias(&["n_embed", "hidden_size"], 64)?;
    let heads = cfg.dim_alias(&["n_head", "num_attention_heads"], 8)?;
    cfg.require_divisible(("hidden_size", hidden), ("n_head", heads))?;
    let vocab = cfg.dim("vocab_size", 250880)?;
    let layers = cfg.layers(&["n_layer", "num_hidden_layers"], 2)?;
    let inter = mul(4, hidden, loc, "4 × hidden_size")?;
    Ok(TransformerArch {
        head,
        vocab_size: vocab,
        activation: "gelu_pytorch_tanh".to_string(),
        fused_qkv: true,
        // ALiBi sets no longest sequence
        position: Position::Alibi,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", true)?,
        details: crate::arch::BlockDetails {
            embed_norm: true,
            ..Default::default()
        },
        ..TransformerArch::decoder("bloom", hidden, layers, heads, inter)
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let loc = m.location();
    let root = if a.head.has_lm_head() {
        "transformer."
    } else {
        ""
    };
    let hidden = dim(a.hidden_size, "hidden");
    let q = heads_dim(a.num_heads, a.head_dim, "heads×head_dim", loc)?;
    let kv2 = mul(
        2,
        heads_dim(a.num_kv_heads, a.head_dim, "", loc)?.size,
        loc,
        "attention width",
    )?;
    let qkv = dim(
        add(q.size, kv2, loc, "attention width")?,
        "(heads+2·kv_heads)×head_dim",
    );
    let norm_names: &[&str] = match (a.norms_per_layer, a.parallel_attn) {
        (1, _) => &["input_layernorm"],
        (_, true) => &["ln_attn", "ln_mlp"],
        (_, false) => &["input_layernorm", "post_attention_layernorm"],
    };
    let class = if a.model_type == "bloom" {
        "Bloom"
    } else {
        "Falcon"
    };
    embedding_row(
        m,
        format!("{root}word_embeddings"),
        "Embedding",
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;
    if a.details.embed_norm {
        norm_row(
            m,
            format!("{root}word_embeddings_layernorm"),
            "LayerNorm",
            a.hidden_size,
            a.norm,
        )?;
    }
    for i in 0..a.num_layers {
        let layer = format!("{root}h.{i}.");
        let mut w = Vec::new();
        linear(
            &mut w,
            "query_key_value.",
            hidden.clone(),
            qkv.clone(),
            a.qkv_bias,
        );
        linear(&mut w, "dense.", hidden.clone(), hidden.clone(), a.o_bias);
        m.add(
            format!("{layer}self_attention"),
            &format!("{class}Attention"),
            w,
        )?;
        let inter = dim(a.intermediate_size, "ffn_hidden_size");
        h_to_4h_mlp(
            m,
            format!("{layer}mlp"),
            &format!("{class}MLP"),
            hidden.clone(),
            inter,
            a.mlp_bias,
        )?;
        for name in norm_names {
            norm_row(
                m,
                format!("{layer}{name}"),
                "LayerNorm",
                a.hidden_size,
                a.norm,
            )?;
        }
    }
    norm_row(m, format!("{root}ln_f"), "LayerNorm", a.hidden_size, a.norm)?;
    if a.head.has_lm_head() {
        lm_head(m, "lm_head", a, "transformer.word_embeddings.weight")?;
        return Ok(format!("{class}ForCausalLM"));
    }
    Ok(format!("{class}Model"))
}
