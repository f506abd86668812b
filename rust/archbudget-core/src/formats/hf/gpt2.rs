//! gpt2.
//!
//! Computes: token + learned position embeddings, N × (LayerNorm → attention → LayerNorm
//! → [cross-attention] → MLP), final LayerNorm, LM head tied to `wte` by default.
//! Weights: `Conv1D` layers, stored `[in, out]` with a bias: fused `c_attn` (3 × embd),
//! `c_proj`, MLP `c_fc` (n_inner, default 4 × embd) and `c_proj`; with
//! `add_cross_attention` each block adds `q_attn`, a 2 × embd `c_attn`, `c_proj` and a norm.
//! Mirrors: `modeling_gpt2.py` (`GPT2Model`, `GPT2LMHeadModel`) of transformers 5.x.
use crate::arch::{HeadKind, NormKind, Position, TransformerArch};
use crate::error::Result;
use crate::weight::{dim, Dim, Weight};

use super::config::Cfg;
use super::modules::{embedding_row, lm_head, norm_row, times, Modules};

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let embd = cfg.dim_alias(&["n_embd", "hidden_size"], 768)?;
    let heads = cfg.dim_alias(&["n_head", "num_attention_heads"], 12)?;
    cfg.require_divisible(("n_embd", embd), ("n_head", heads))?;
    let inner = match cfg.dim_opt("n_inner")? {
        Some(n) => n,
        None => crate::error::mul(4, embd, cfg.location, "n_inner")?,
    };
    let positions = cfg.dim_alias(&["n_positions", "max_position_embeddings"], 1024)?;
    let vocab = cfg.dim("vocab_size", 50257)?;
    let layers = cfg.layers(&["n_layer", "num_hidden_layers"], 12)?;
    Ok(TransformerArch {
        head,
        vocab_size: vocab,
        activation: cfg.string("activation_function", "gelu_new")?,
        fused_qkv: true,
        position: Position::Learned { rows: positions },
        max_positions: positions,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", true)?,
        cross_attention: cfg.flag("add_cross_attention", false)?,
        ..TransformerArch::decoder("gpt2", embd, layers, heads, inner)
    })
}

/// `Conv1D(nf=out, nx=in)`: weight `[in, out]`, bias `[out]`.
fn conv1d(w: &mut Vec<Weight>, name: &str, d_in: Dim, d_out: Dim) {
    w.push(Weight::new(
        format!("{name}weight"),
        vec![d_in, d_out.clone()],
    ));
    w.push(Weight::new(format!("{name}bias"), vec![d_out]));
}

/// One block's `crossattention` (`q_attn`, a 2 × embd `c_attn`, `c_proj`) and
/// `ln_cross_attn`, named under `layer`.
fn cross_attention(a: &TransformerArch, m: &mut Modules, layer: &str) -> Result<()> {
    let hidden = dim(a.hidden_size, "embd");
    let mut w = Vec::new();
    conv1d(
        &mut w,
        "c_attn.",
        hidden.clone(),
        times(2, a.hidden_size, "2×embd", m.location())?,
    );
    conv1d(&mut w, "q_attn.", hidden.clone(), hidden.clone());
    conv1d(&mut w, "c_proj.", hidden.clone(), hidden);
    m.add(format!("{layer}crossattention"), "GPT2Attention", w)?;
    norm_row(
        m,
        format!("{layer}ln_cross_attn"),
        "LayerNorm",
        a.hidden_size,
        NormKind::LayerNorm { bias: true },
    )
}

/// Parameters of one block's cross-attention and its norm (what [`cross_attention`]
/// declares).
pub fn cross_attention_params(a: &TransformerArch) -> Result<u64> {
    let mut m = Modules::counting("config.json");
    cross_attention(a, &mut m, "")?;
    Ok(m.finish("crossattention")?.total_params)
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let loc = m.location();
    let root = if a.head.has_lm_head() {
        "transformer."
    } else {
        ""
    };
    let hidden = dim(a.hidden_size, "embd");
    let ln = NormKind::LayerNorm { bias: true };
    embedding_row(
        m,
        format!("{root}wte"),
        "Embedding",
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;
    embedding_row(
        m,
        format!("{root}wpe"),
        "Embedding",
        dim(a.max_positions, "positions"),
        a.hidden_size,
    )?;
    for i in 0..a.num_layers {
        let layer = format!("{root}h.{i}.");
        norm_row(m, format!("{layer}ln_1"), "LayerNorm", a.hidden_size, ln)?;
        let mut w = Vec::new();
        conv1d(
            &mut w,
            "c_attn.",
            hidden.clone(),
            times(3, a.hidden_size, "3×embd", loc)?,
        );
        conv1d(&mut w, "c_proj.", hidden.clone(), hidden.clone());
        m.add(format!("{layer}attn"), "GPT2Attention", w)?;
        norm_row(m, format!("{layer}ln_2"), "LayerNorm", a.hidden_size, ln)?;
        if a.cross_attention {
            cross_attention(a, m, &layer)?;
        }
        let mut w = Vec::new();
        let inner = dim(a.intermediate_size, "n_inner");
        conv1d(&mut w, "c_fc.", hidden.clone(), inner.clone());
        conv1d(&mut w, "c_proj.", inner, hidden.clone());
        m.add(format!("{layer}mlp"), "GPT2MLP", w)?;
    }
    norm_row(m, format!("{root}ln_f"), "LayerNorm", a.hidden_size, ln)?;
    if a.head.has_lm_head() {
        lm_head(m, "lm_head", a, "transformer.wte.weight")?;
        return Ok("GPT2LMHeadModel".to_string());
    }
    Ok("GPT2Model".to_string())
}
