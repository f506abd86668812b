//! gemma4_text: Gemma 4's text model (`Gemma4TextModel`, `Gemma4ForCausalLM`).
//!
//! Computes (diff with gemma3n_text, without AltUp and Laurel): gemma3's sandwich-normed
//! layers on one stream, each ending in the per-layer input gate (as gemma3n's) and a
//! product with its `layer_scalar` buffer. What differs by layer kind: the full-attention
//! layers take `global_head_dim` (default 512) and, with `attention_k_eq_v`, have
//! `num_global_key_value_heads` k heads and no v projection (v is k's projection). The
//! last `num_kv_shared_layers` layers reuse the k and v of the last earlier layer of
//! their kind (no k/v projections, no k norm) and, with `use_double_wide_mlp`, have an
//! MLP twice as wide. With `enable_moe_block` each layer adds a routed expert bank beside
//! the dense MLP: a scale-free norm, `router.scale`, `router.proj`, softmax top-k
//! renormalised and scaled by `router.per_expert_scale`, the experts (`gate_up_proj`,
//! `down_proj`) and three more norms. The per-layer inputs (a positive
//! `hidden_size_per_layer_input`) are a second scaled token embedding plus
//! `per_layer_model_projection` of the embeddings, normed. transformers forces the last layer to full attention; the LM
//! head's logits are soft-capped with `final_logit_softcapping`.
//! Weights: as above; v's norm has no scale. Buffers: the embeddings' `embed_scale`
//! scalars, each layer's `layer_scalar` and an `inv_freq`, `original_inv_freq` pair
//! (half the head dim of that kind) per layer kind.
//! Mirrors: `modeling_gemma4.py` / `Gemma4TextConfig` of transformers 5.24.
use crate::arch::{
    AttentionSpan, BlockDetails, HeadKind, LayerAttention, NormKind, Position, QkNorm,
    TransformerArch,
};
use crate::error::{mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::gemma3n::per_layer_input_rows;
use super::layer_kinds::layer_types;
use super::modules::{embedding_row, heads_dim, linear, lm_head, norm_row, Modules};

/// The routed experts beside each layer's dense MLP (`enable_moe_block`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gemma4Experts {
    pub experts: u64,
    pub top_k: u64,
    /// `moe_intermediate_size`.
    pub inter: u64,
}

/// What Gemma 4's text model adds to gemma3's layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gemma4 {
    /// Each layer is of the full-attention kind (global head dim, k=v, its own rotary
    /// table and KV-sharing source); its span (`details.layers`) says how far it looks.
    pub global: Vec<bool>,
    /// Each layer reuses the k and v of the last earlier unshared layer of its kind.
    pub kv_shared: Vec<bool>,
    pub global_head_dim: u64,
    pub global_kv_heads: u64,
    /// The full-attention layers have no v projection (`attention_k_eq_v`).
    pub k_eq_v: bool,
    /// The KV-shared layers' MLPs are twice as wide.
    pub double_wide: bool,
    /// `hidden_size_per_layer_input` (0: no per-layer inputs).
    pub per_layer_width: u64,
    pub per_layer_vocab: u64,
    pub moe: Option<Gemma4Experts>,
    pub logit_softcap: bool,
    /// `use_bidirectional_attention == "all"`: no causal mask.
    pub bidirectional: bool,
    /// keras-hub's expert bank (its twin, `formats::keras_hub::gemma4`): every expert runs
    /// on every token, the routing weights zero for the unchosen ones.
    pub dense_experts: bool,
    /// keras-hub's `attention_logit_soft_cap`: its attention then runs unfused, as
    /// transformers' eager code does, whatever `--attn` says.
    pub attention_softcap: bool,
    /// keras-hub's `is_embedding_model` head on the final norm (transformers has none):
    /// mean pooling, two bias-free Dense layers of these widths
    /// (`pooling_intermediate_dim`, `embedding_dim`) and a unit norm.
    pub embedding_head: Option<(u64, u64)>,
}

impl Gemma4 {
    pub fn head_dim(&self, a: &TransformerArch, i: u64) -> u64 {
        match self.global[i as usize] {
            true => self.global_head_dim,
            false => a.head_dim,
        }
    }

    pub fn kv_heads(&self, a: &TransformerArch, i: u64) -> u64 {
        match self.global[i as usize] {
            true => self.global_kv_heads,
            false => a.num_kv_heads,
        }
    }

    /// Layer `i` projects v (k=v full-attention layers do not).
    pub fn has_v_proj(&self, i: u64) -> bool {
        !(self.k_eq_v && self.global[i as usize])
    }

    pub fn intermediate(&self, a: &TransformerArch, i: u64) -> u64 {
        match self.double_wide && self.kv_shared[i as usize] {
            true => 2 * a.intermediate_size,
            false => a.intermediate_size,
        }
    }

    /// The layer whose k and v layer `i` reuses: the last earlier unshared layer of its
    /// kind (`None` where none is, as when every layer shares: the assistant models read
    /// their target model's).
    pub fn kv_source(&self, i: u64) -> Option<u64> {
        let kind = self.global[i as usize];
        (0..i)
            .rev()
            .find(|&k| !self.kv_shared[k as usize] && self.global[k as usize] == kind)
    }
}

/// The multimodal `gemma4` wrapper: its vision and audio towers are not described yet.
pub fn wrapper_refusal(cfg: &Cfg) -> crate::Error {
    cfg.invalid(
        "model_type 'gemma4' (the multimodal wrapper) is not read yet: its vision and audio towers are not described; read its text_config (model_type 'gemma4_text') for the text model",
    )
}

const LAYER_TYPES: &[&str] = &["full_attention", "sliding_attention"];

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let hidden = cfg.dim("hidden_size", 2304)?;
    let heads = cfg.dim("num_attention_heads", 8)?;
    let layers = cfg.layers(&["num_hidden_layers"], 30)?;
    let bidirectional = match cfg.string("use_bidirectional_attention", "")?.as_str() {
        "" | "vision" => false,
        "all" => true,
        other => {
            return Err(cfg.invalid(format!(
                "key 'use_bidirectional_attention' must be \"all\", \"vision\" or null, got \"{other}\""
            )))
        }
    };
    let window = match cfg.dim("sliding_window", 512)? {
        w if bidirectional => w / 2 + 1,
        w => w,
    };
    let mut global: Vec<bool> = match layer_types(cfg, layers, LAYER_TYPES)? {
        Some(types) => types.iter().map(|&t| t == "full_attention").collect(),
        None => (0..layers).map(|i| (i + 1) % 6 == 0).collect(),
    };
    // `Gemma4TextConfig.__post_init__` forces the last layer to full attention
    if let Some(last) = global.last_mut() {
        *last = true;
    }
    let shared = cfg.count("num_kv_shared_layers", 0)?;
    if shared > layers {
        return Err(cfg.invalid(format!(
            "num_kv_shared_layers ({shared}) exceeds num_hidden_layers ({layers})"
        )));
    }
    let first_shared = layers - shared;
    if first_shared > 0 {
        let producers = &global[..first_shared as usize];
        if let Some(i) = (first_shared..layers).find(|&i| !producers.contains(&global[i as usize]))
        {
            return Err(cfg.invalid(format!(
                "num_kv_shared_layers ({shared}) leaves layer {i} no earlier layer of its kind in layer_types to reuse k and v from (transformers refuses it)"
            )));
        }
    }
    let head_dim = cfg.dim("head_dim", 256)?;
    let kv_heads = cfg.dim("num_key_value_heads", 4)?;
    let k_eq_v = cfg.flag("attention_k_eq_v", false)?;
    let global_kv_heads = match k_eq_v {
        true => cfg.dim("num_global_key_value_heads", kv_heads)?,
        false => kv_heads,
    };
    let moe = match cfg.flag("enable_moe_block", false)? {
        false => None,
        true => {
            let need = |key: &str| {
                cfg.dim_opt(key)?.ok_or_else(|| {
                    cfg.invalid(format!(
                        "enable_moe_block needs '{key}' (a positive integer)"
                    ))
                })
            };
            Some(Gemma4Experts {
                experts: need("num_experts")?,
                top_k: need("top_k_experts")?,
                inter: need("moe_intermediate_size")?,
            })
        }
    };
    let gemma4 = Gemma4 {
        kv_shared: (0..layers).map(|i| i >= first_shared).collect(),
        global: global.clone(),
        global_head_dim: cfg.dim("global_head_dim", 512)?,
        global_kv_heads,
        k_eq_v,
        double_wide: cfg.flag("use_double_wide_mlp", false)?,
        per_layer_width: cfg.count("hidden_size_per_layer_input", 256)?,
        per_layer_vocab: cfg.dim("vocab_size_per_layer_input", 262_144)?,
        moe,
        logit_softcap: cfg.has("final_logit_softcapping"),
        bidirectional,
        dense_experts: false,
        attention_softcap: false,
        embedding_head: None,
    };
    let attention_bias = cfg.flag("attention_bias", false)?;
    let vocab = cfg.dim("vocab_size", 262_144)?;
    let inter = cfg.dim("intermediate_size", 9216)?;
    Ok(TransformerArch {
        head,
        vocab_size: vocab,
        num_kv_heads: kv_heads,
        head_dim,
        gated_mlp: true,
        activation: cfg.string("hidden_activation", "gelu_pytorch_tanh")?,
        norm: NormKind::RmsNorm,
        norms_per_layer: 4,
        qkv_bias: attention_bias,
        o_bias: attention_bias,
        mlp_bias: false,
        position: Position::Rotary,
        max_positions: cfg.dim("max_position_embeddings", 131_072)?,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", true)?,
        details: BlockDetails {
            layers: global
                .iter()
                .map(|&g| LayerAttention {
                    span: match g {
                        true => AttentionSpan::Full,
                        false => AttentionSpan::Sliding(window),
                    },
                    rotary: true,
                })
                .collect(),
            qk_norm: Some(QkNorm::rms_per_head(head_dim)),
            gemma4: Some(Box::new(gemma4)),
            ..Default::default()
        },
        ..TransformerArch::decoder(cfg.model_type, hidden, layers, heads, inter)
    })
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let loc = m.location();
    let g = a
        .details
        .gemma4
        .as_deref()
        .ok_or_else(|| crate::Error::Internal("gemma4_text without its details".into()))?;
    let root = if a.head.has_lm_head() { "model." } else { "" };
    let embed_path = format!("{root}embed_tokens");
    let embed_class = "Gemma4TextScaledWordEmbedding";
    embedding_row(
        m,
        embed_path.clone(),
        embed_class,
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;
    let h = || dim(a.hidden_size, "hidden");
    let norm_class = "Gemma4RMSNorm";
    let mut norm = Vec::new();
    super::modules::norm(&mut norm, "", a.hidden_size, NormKind::RmsNorm);
    let per_layer = dim(g.per_layer_width, "per_layer");
    for i in 0..a.num_layers {
        let hd = g.head_dim(a, i);
        let q = heads_dim(a.num_heads, hd, "heads×head_dim", loc)?;
        let kv = heads_dim(g.kv_heads(a, i), hd, "kv_heads×head_dim", loc)?;
        let mut attn = Vec::new();
        linear(&mut attn, "q_proj.", h(), q.clone(), a.qkv_bias);
        attn.push(Weight::new("q_norm.weight", vec![dim(hd, "head_dim")]));
        if !g.kv_shared[i as usize] {
            attn.push(Weight::new("k_norm.weight", vec![dim(hd, "head_dim")]));
            linear(&mut attn, "k_proj.", h(), kv.clone(), a.qkv_bias);
            if g.has_v_proj(i) {
                linear(&mut attn, "v_proj.", h(), kv, a.qkv_bias);
            }
        }
        linear(&mut attn, "o_proj.", q, h(), a.o_bias);
        let inter = dim(g.intermediate(a, i), "intermediate");
        let mut mlp = Vec::new();
        linear(&mut mlp, "gate_proj.", h(), inter.clone(), false);
        linear(&mut mlp, "up_proj.", h(), inter.clone(), false);
        linear(&mut mlp, "down_proj.", inter, h(), false);
        let mut block = vec![
            ("self_attn".to_string(), "Gemma4TextAttention", attn),
            ("mlp".to_string(), "Gemma4TextMLP", mlp),
        ];
        for name in [
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ] {
            block.push((name.to_string(), norm_class, norm.clone()));
        }
        if g.per_layer_width > 0 {
            let mut gate = Vec::new();
            linear(&mut gate, "", h(), per_layer.clone(), false);
            let mut projection = Vec::new();
            linear(&mut projection, "", per_layer.clone(), h(), false);
            block.push(("per_layer_input_gate".to_string(), "Linear", gate));
            block.push(("per_layer_projection".to_string(), "Linear", projection));
            block.push((
                "post_per_layer_input_norm".to_string(),
                norm_class,
                norm.clone(),
            ));
        }
        if let Some(moe) = &g.moe {
            let e = || dim(moe.experts, "experts");
            let mut router = Vec::new();
            router.push(Weight::new("scale", vec![h()]));
            router.push(Weight::new("per_expert_scale", vec![e()]));
            linear(&mut router, "proj.", h(), e(), false);
            let up = mul(2, moe.inter, loc, "2×moe_intermediate_size")?;
            let experts = vec![
                Weight::new(
                    "gate_up_proj",
                    vec![e(), dim(up, "2×moe_intermediate"), h()],
                ),
                Weight::new(
                    "down_proj",
                    vec![e(), h(), dim(moe.inter, "moe_intermediate")],
                ),
            ];
            let (_, expert_params, _) = crate::weight::totals(&experts, loc)?;
            m.add_idle(expert_params / moe.experts * (moe.experts - moe.top_k.min(moe.experts)))?;
            block.push(("router".to_string(), "Gemma4TextRouter", router));
            block.push(("experts".to_string(), "Gemma4TextExperts", experts));
            for name in [
                "post_feedforward_layernorm_1",
                "post_feedforward_layernorm_2",
                "pre_feedforward_layernorm_2",
            ] {
                block.push((name.to_string(), norm_class, norm.clone()));
            }
        }
        m.add_blocks(1, |_| format!("{root}layers.{i}."), &block)?;
    }
    norm_row(m, format!("{root}norm"), norm_class, a.hidden_size, a.norm)?;
    if g.per_layer_width > 0 {
        per_layer_input_rows(
            m,
            root,
            embed_class,
            norm_class,
            a,
            g.per_layer_width,
            g.per_layer_vocab,
        )?;
    }
    if a.head.has_lm_head() {
        lm_head(m, "lm_head", a, &embed_path)?;
        return Ok("Gemma4ForCausalLM".to_string());
    }
    Ok("Gemma4TextModel".to_string())
}
