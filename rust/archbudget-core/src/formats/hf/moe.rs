//! The mixture-of-experts decoders (qwen3_moe here; deepseek_v2/v3 and glm4_moe in
//! `deepseek`, gpt_oss in `gpt_oss`, llama4_text in `llama4`, qwen3_next in
//! `types/qwen3_next`, whose linear-attention layers hold `linear_attn`): a llama-like skeleton
//! (token embedding, N × (RMSNorm → attention → RMSNorm → dense MLP or sparse MoE),
//! final RMSNorm, LM head) whose attention and MoE blocks vary per type as
//! [`TransformerArch::details`] and [`Moe`] describe them.
//!
//! Weights: attention q/k/v/o projections (grouped kv heads) or MLA's low-rank
//! projections and their norms, qk-norm weights, gpt_oss's per-head `sinks`; routed
//! experts stacked as 3-d tensors (`gate_up_proj`, `down_proj`; gpt_oss and llama4 store
//! them transposed, gpt_oss with biases), the router (`gate` or `router`), shared
//! experts as a gated MLP. Buffers (rotary `inv_freq`, deepseek_v3's
//! `e_score_correction_bias`) are not parameters.
//! Mirrors: `modeling_qwen3_moe.py` of transformers 5.x, head_dim as
//! `getattr(config, "head_dim", hidden // heads)`, layer `i` sparse when
//! `i ∉ mlp_only_layers`, `num_experts > 0` and `(i + 1) % decoder_sparse_step == 0`.
use crate::arch::{
    AttentionSpan, HeadKind, LayerAttention, LayerMixer, Moe, NormKind, Position, QkNorm,
    TransformerArch,
};
use crate::error::{add, mul, Result};
use crate::weight::{dim, totals, Weight};

use super::config::Cfg;
use super::linear_attention;
use super::modules::{
    embedding_row, heads_dim, linear, lm_head, norm, norm_row, qk_norm_weights, times, Modules,
};

/// The llama-like dimensions every MoE type reads, with its own defaults.
pub struct Dims {
    pub vocab: u64,
    pub hidden: u64,
    pub inter: u64,
    pub layers: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub max_pos: u64,
    pub tie: bool,
}

impl Dims {
    /// Reads the common keys; `kv_heads` and `head_dim` of `None` fall back to the head
    /// count and hidden / heads, as the types' `__post_init__` or modeling code do.
    #[allow(clippy::too_many_arguments)]
    pub fn read(
        cfg: &Cfg,
        vocab: u64,
        hidden: u64,
        inter: u64,
        layers: u64,
        heads: u64,
        kv_heads: Option<u64>,
        head_dim: Option<u64>,
        max_pos: u64,
    ) -> Result<Dims> {
        let hidden = cfg.dim("hidden_size", hidden)?;
        let heads = cfg.dim("num_attention_heads", heads)?;
        let kv_heads = match cfg.dim_opt("num_key_value_heads")? {
            Some(n) => n,
            None if cfg.is_null("num_key_value_heads") => heads,
            None => kv_heads.unwrap_or(heads),
        };
        let head_dim = match cfg.dim_opt("head_dim")? {
            Some(n) => n,
            None => head_dim
                .filter(|_| !cfg.is_null("head_dim"))
                .unwrap_or(hidden / heads),
        };
        if head_dim == 0 {
            return Err(cfg.invalid(format!(
                "hidden_size ({hidden}) is smaller than num_attention_heads ({heads})"
            )));
        }
        Ok(Dims {
            vocab: cfg.dim("vocab_size", vocab)?,
            hidden,
            inter: cfg.dim("intermediate_size", inter)?,
            layers: cfg.layers(&["num_hidden_layers"], layers)?,
            heads,
            kv_heads,
            head_dim,
            max_pos: cfg.dim("max_position_embeddings", max_pos)?,
            tie: cfg.flag("tie_word_embeddings", false)?,
        })
    }

    /// A pre-norm RMSNorm decoder with rotary positions and a gated MLP, no biases.
    pub fn decoder(&self, cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
        Ok(TransformerArch {
            head,
            vocab_size: self.vocab,
            num_kv_heads: self.kv_heads,
            head_dim: self.head_dim,
            gated_mlp: true,
            activation: cfg.string("hidden_act", "silu")?,
            norm: NormKind::RmsNorm,
            qkv_bias: false,
            o_bias: false,
            mlp_bias: false,
            position: Position::Rotary,
            max_positions: self.max_pos,
            tie_word_embeddings: self.tie,
            ..TransformerArch::decoder(
                cfg.model_type,
                self.hidden,
                self.layers,
                self.heads,
                self.inter,
            )
        })
    }
}

pub fn qwen3_moe(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 151936, 2048, 6144, 24, 32, Some(4), None, 32768)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.details.qk_norm = Some(QkNorm::rms_per_head(d.head_dim));
    // `sliding_window` is kept only with `use_sliding_window`; then every layer slides
    if cfg.flag("use_sliding_window", false)? && !cfg.is_null("sliding_window") {
        let layer = LayerAttention {
            span: AttentionSpan::Sliding(cfg.dim("sliding_window", 4096)?),
            rotary: true,
        };
        a.details.layers = vec![layer; d.layers as usize];
    }
    a.moe = qwen3_sparse(cfg, d.layers, (128, 8, 768), None)?;
    Ok(a)
}

/// qwen3_moe's sparse layers (also qwen3_vl_moe_text's): layer `i` routes through
/// experts unless it is in `mlp_only_layers`, experts are 0, or `(i + 1)` is not a
/// multiple of `decoder_sparse_step`. `defaults` are (experts, top-k, expert width);
/// `renormalize` fixes what `norm_topk_prob` would say (`None`: read it).
pub(super) fn qwen3_sparse(
    cfg: &Cfg,
    layers: u64,
    defaults: (u64, u64, u64),
    renormalize: Option<bool>,
) -> Result<Option<Moe>> {
    let num_experts = cfg.count_alias(&["num_experts", "num_local_experts"], defaults.0)?;
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
        experts_per_token: cfg.dim("num_experts_per_tok", defaults.1)?,
        expert_intermediate_size: cfg.dim("moe_intermediate_size", defaults.2)?,
        dense_layers,
        renormalize: match renormalize {
            Some(fixed) => fixed,
            None => cfg.flag("norm_topk_prob", false)?,
        },
        weights_in_logits_dtype: true,
        ..Moe::softmax_router()
    }))
}

/// Module names and classes of one MoE type.
pub(super) struct Names {
    /// Class-name prefix (`Qwen3Moe`, `DeepseekV3`, ...).
    prefix: &'static str,
    /// The block's MLP attribute (`mlp`, llama4 `feed_forward`).
    mlp: &'static str,
    /// The sparse block's class.
    moe_class: &'static str,
    /// The router attribute (`gate`, gpt_oss and llama4 `router`).
    router: &'static str,
    /// The shared expert attribute (`shared_expert`, deepseek/glm `shared_experts`).
    shared: &'static str,
    /// Experts stored as `[E, hidden, 2·inter]` / `[E, inter, hidden]` (gpt_oss, llama4).
    transposed: bool,
    /// The shared expert is the layer's own module beside the sparse block, a
    /// `<prefix>MLP` (granitemoeshared `shared_mlp`), not inside it.
    shared_beside: bool,
    base_class: &'static str,
    lm_class: &'static str,
}

pub(super) fn names(model_type: &str) -> Names {
    let n = |prefix, mlp, moe_class, router, shared, transposed, base_class, lm_class| Names {
        prefix,
        mlp,
        moe_class,
        router,
        shared,
        transposed,
        shared_beside: false,
        base_class,
        lm_class,
    };
    match model_type {
        "deepseek_v3" => n(
            "DeepseekV3",
            "mlp",
            "DeepseekV3MoE",
            "gate",
            "shared_experts",
            false,
            "DeepseekV3Model",
            "DeepseekV3ForCausalLM",
        ),
        "deepseek_v2" => n(
            "DeepseekV2",
            "mlp",
            "DeepseekV2Moe",
            "gate",
            "shared_experts",
            false,
            "DeepseekV2Model",
            "DeepseekV2ForCausalLM",
        ),
        "glm4_moe" => n(
            "Glm4Moe",
            "mlp",
            "Glm4MoeMoE",
            "gate",
            "shared_experts",
            false,
            "Glm4MoeModel",
            "Glm4MoeForCausalLM",
        ),
        "gpt_oss" => n(
            "GptOss",
            "mlp",
            "GptOssMLP",
            "router",
            "",
            true,
            "GptOssModel",
            "GptOssForCausalLM",
        ),
        "falcon_h1" => n(
            "FalconH1",
            "feed_forward",
            "",
            "",
            "",
            false,
            "FalconH1Model",
            "FalconH1ForCausalLM",
        ),
        "jamba" => n(
            "Jamba",
            "feed_forward",
            "JambaSparseMoeBlock",
            "router",
            "",
            false,
            "JambaModel",
            "JambaForCausalLM",
        ),
        "llama4_text" | "llama4" => n(
            "Llama4Text",
            "feed_forward",
            "Llama4TextMoe",
            "router",
            "shared_expert",
            true,
            "Llama4TextModel",
            "Llama4ForCausalLM",
        ),
        "olmoe" => n(
            "Olmoe",
            "mlp",
            "OlmoeSparseMoeBlock",
            "gate",
            "",
            false,
            "OlmoeModel",
            "OlmoeForCausalLM",
        ),
        "granitemoe" => n(
            "GraniteMoe",
            "block_sparse_moe",
            "GraniteMoeMoE",
            "router",
            "",
            false,
            "GraniteMoeModel",
            "GraniteMoeForCausalLM",
        ),
        "qwen3_5_text" => n(
            "Qwen3_5",
            "mlp",
            "",
            "gate",
            "shared_expert",
            false,
            "Qwen3_5TextModel",
            "Qwen3_5ForCausalLM",
        ),
        "qwen3_5_moe_text" => n(
            "Qwen3_5Moe",
            "mlp",
            "Qwen3_5MoeSparseMoeBlock",
            "gate",
            "shared_expert",
            false,
            "Qwen3_5MoeTextModel",
            "Qwen3_5MoeForCausalLM",
        ),
        "granitemoeshared" => Names {
            shared_beside: true,
            ..n(
                "GraniteMoeShared",
                "block_sparse_moe",
                "GraniteMoeSharedMoE",
                "router",
                "shared_mlp",
                false,
                "GraniteMoeSharedModel",
                "GraniteMoeSharedForCausalLM",
            )
        },
        "glm4_moe_lite" => n(
            "Glm4MoeLite",
            "mlp",
            "Glm4MoeLiteMoE",
            "gate",
            "shared_experts",
            false,
            "Glm4MoeLiteModel",
            "Glm4MoeLiteForCausalLM",
        ),
        "dots1" => n(
            "Dots1",
            "mlp",
            "Dots1MoE",
            "gate",
            "shared_experts",
            false,
            "Dots1Model",
            "Dots1ForCausalLM",
        ),
        "phimoe" => n(
            "Phimoe",
            "mlp",
            "PhimoeSparseMoeBlock",
            "router",
            "",
            false,
            "PhimoeModel",
            "PhimoeForCausalLM",
        ),
        "flex_olmo" => n(
            "FlexOlmo",
            "mlp",
            "FlexOlmoSparseMoeBlock",
            "gate",
            "",
            false,
            "FlexOlmoModel",
            "FlexOlmoForCausalLM",
        ),
        "qwen3_vl_moe_text" => n(
            "Qwen3VLMoeText",
            "mlp",
            "Qwen3VLMoeTextSparseMoeBlock",
            "gate",
            "shared_expert",
            false,
            "Qwen3VLMoeTextModel",
            "Qwen3VLMoeTextModel",
        ),
        "qwen3_next" => n(
            "Qwen3Next",
            "mlp",
            "Qwen3NextSparseMoeBlock",
            "gate",
            "shared_expert",
            false,
            "Qwen3NextModel",
            "Qwen3NextForCausalLM",
        ),
        _ => n(
            "Qwen3Moe",
            "mlp",
            "Qwen3MoeSparseMoeBlock",
            "gate",
            "shared_expert",
            false,
            "Qwen3MoeModel",
            "Qwen3MoeForCausalLM",
        ),
    }
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let n = names(&a.model_type);
    let loc = m.location();
    let (root, lm_head_path) = match a.head.has_lm_head() {
        true => ("model.", Some("lm_head")),
        false => ("", None),
    };
    let embed_path = format!("{root}embed_tokens");
    embedding_row(
        m,
        embed_path.clone(),
        "Embedding",
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;
    let norm_class = match a.norm {
        NormKind::RmsNorm => format!("{}RMSNorm", n.prefix),
        _ => "LayerNorm".to_string(),
    };
    // olmo's post-branch norms (flex_olmo) sit on each branch's output
    let norm_names = match a.details.post_branch_norms {
        true => ["post_attention_layernorm", "post_feedforward_layernorm"],
        false => ["input_layernorm", "post_attention_layernorm"],
    };
    let rows = !m.counting_only();
    if !rows {
        // the sweep's totals: blocks differ only in dense or sparse MLP, so each kind is
        // declared once and counted as many times as it occurs
        // (sparse MLP, linear attention) → layers of that kind
        let mut kinds = [[0u64; 2]; 2];
        for i in 0..a.num_layers {
            let sparse = a.moe.as_ref().is_some_and(|moe| moe.is_moe_layer(i));
            let linear = a.layer_mixer(i) == LayerMixer::LinearAttention;
            kinds[sparse as usize][linear as usize] += 1;
        }
        for (is_sparse, is_linear, times) in [
            (true, false, kinds[1][0]),
            (false, false, kinds[0][0]),
            (true, true, kinds[1][1]),
            (false, true, kinds[0][1]),
        ] {
            if times > 0 {
                let (_, mut w, idle) = mlp(a, &n, is_sparse, loc)?;
                w.extend(mixer(a, is_linear, loc)?.1);
                for name in norm_names {
                    norm(&mut w, &format!("{name}."), a.hidden_size, a.norm);
                }
                m.count_repeated(&w, times)?;
                m.add_idle(mul(idle, times, loc, "parameter count")?)?;
            }
        }
    }
    for i in (0..a.num_layers).filter(|_| rows) {
        let layer = format!("{root}layers.{i}.");
        let linear = a.layer_mixer(i) == LayerMixer::LinearAttention;
        let (path, w) = mixer(a, linear, loc)?;
        let class = match linear {
            true => format!("{}GatedDeltaNet", n.prefix),
            false => format!("{}Attention", n.prefix),
        };
        m.add(format!("{layer}{path}"), &class, w)?;
        let is_sparse = a.moe.as_ref().is_some_and(|moe| moe.is_moe_layer(i));
        let (class, w, idle) = mlp(a, &n, is_sparse, loc)?;
        m.add_idle(idle)?;
        let shared_prefix = format!("{}.", n.shared);
        let (beside, w): (Vec<Weight>, Vec<Weight>) = w
            .into_iter()
            .partition(|w| n.shared_beside && w.name.starts_with(&shared_prefix));
        m.add(format!("{layer}{}", n.mlp), &class, w)?;
        if !beside.is_empty() {
            let class = format!("{}MLP", n.prefix);
            m.add(format!("{layer}{}", n.shared), &class, beside)?;
        }
        for name in norm_names {
            norm_row(
                m,
                format!("{layer}{name}"),
                &norm_class,
                a.hidden_size,
                a.norm,
            )?;
        }
    }
    norm_row(m, format!("{root}norm"), &norm_class, a.hidden_size, a.norm)?;
    if let Some(path) = lm_head_path {
        lm_head(m, path, a, &format!("{embed_path}.weight"))?;
    }
    Ok(match lm_head_path {
        Some(_) => n.lm_class,
        None => n.base_class,
    }
    .to_string())
}

/// The token mixer of a layer: its attribute and weights (attention, or qwen3_next's
/// linear attention).
fn mixer(a: &TransformerArch, linear: bool, loc: &str) -> Result<(&'static str, Vec<Weight>)> {
    match (linear, a.details.linear_attention) {
        (true, Some(la)) => Ok((
            "linear_attn",
            linear_attention::weights(
                &la,
                a.hidden_size,
                loc,
                a.model_type.starts_with("qwen3_5"),
            )?,
        )),
        _ => Ok(("self_attn", attention(a, loc)?)),
    }
}

/// The weights of one layer's attention module (llama4's qk-norm has none).
pub(super) fn attention(a: &TransformerArch, loc: &str) -> Result<Vec<Weight>> {
    let hidden = dim(a.hidden_size, "hidden");
    let mut w = Vec::new();
    if let Some(mla) = a.details.mla {
        let qk_head = add(
            mla.qk_nope_head_dim,
            mla.qk_rope_head_dim,
            loc,
            "qk head dim",
        )?;
        let q_out = heads_dim(a.num_heads, qk_head, "heads×qk_head_dim", loc)?;
        match mla.q_lora_rank {
            None => linear(&mut w, "q_proj.", hidden.clone(), q_out, false),
            Some(r) => {
                let rank = dim(r, "q_lora_rank");
                linear(
                    &mut w,
                    "q_a_proj.",
                    hidden.clone(),
                    rank.clone(),
                    a.qkv_bias,
                );
                w.push(Weight::new("q_a_layernorm.weight", vec![rank.clone()]));
                linear(&mut w, "q_b_proj.", rank, q_out, false);
            }
        }
        let kv_a = add(mla.kv_lora_rank, mla.qk_rope_head_dim, loc, "kv_a width")?;
        linear(
            &mut w,
            "kv_a_proj_with_mqa.",
            hidden.clone(),
            dim(kv_a, "kv_lora_rank+qk_rope_head_dim"),
            a.qkv_bias,
        );
        let rank = dim(mla.kv_lora_rank, "kv_lora_rank");
        w.push(Weight::new("kv_a_layernorm.weight", vec![rank.clone()]));
        let kv_b = add(mla.qk_nope_head_dim, mla.v_head_dim, loc, "kv_b width")?;
        let kv_b = heads_dim(a.num_heads, kv_b, "heads×(nope+v head dims)", loc)?;
        linear(&mut w, "kv_b_proj.", rank, kv_b, false);
        let o_in = heads_dim(a.num_heads, mla.v_head_dim, "heads×v_head_dim", loc)?;
        linear(&mut w, "o_proj.", o_in, hidden, a.o_bias);
        return Ok(w);
    }
    let q = heads_dim(a.num_heads, a.head_dim, "heads×head_dim", loc)?;
    let kv = heads_dim(a.num_kv_heads, a.head_dim, "kv_heads×head_dim", loc)?;
    // qwen3_next's q_proj also computes the output gate
    let q_out = match a.details.attn_output_gate {
        true => times(2, q.size, "2×heads×head_dim", loc)?,
        false => q.clone(),
    };
    linear(&mut w, "q_proj.", hidden.clone(), q_out, a.qkv_bias);
    linear(&mut w, "k_proj.", hidden.clone(), kv.clone(), a.qkv_bias);
    linear(&mut w, "v_proj.", hidden.clone(), kv, a.qkv_bias);
    linear(&mut w, "o_proj.", q, hidden, a.o_bias);
    qk_norm_weights(&mut w, a.details.qk_norm);
    if a.details.attn_sinks {
        w.push(Weight::new("sinks", vec![dim(a.num_heads, "heads")]));
    }
    Ok(w)
}

/// A gated MLP's three projections under `prefix`.
fn gated(w: &mut Vec<Weight>, prefix: &str, hidden: u64, inter: u64, bias: bool) {
    let (h, i) = (dim(hidden, "hidden"), dim(inter, "intermediate"));
    linear(
        w,
        &format!("{prefix}gate_proj."),
        h.clone(),
        i.clone(),
        bias,
    );
    linear(w, &format!("{prefix}up_proj."), h.clone(), i.clone(), bias);
    linear(w, &format!("{prefix}down_proj."), i, h, bias);
}

/// The MLP module of a dense or sparse layer: its class, weights, and the routed-expert
/// parameters a token does not use.
pub(super) fn mlp(
    a: &TransformerArch,
    n: &Names,
    sparse: bool,
    loc: &str,
) -> Result<(String, Vec<Weight>, u64)> {
    let mut w = Vec::new();
    let Some(moe) = a.moe.as_ref().filter(|_| sparse) else {
        gated(&mut w, "", a.hidden_size, a.intermediate_size, a.mlp_bias);
        return Ok((format!("{}MLP", n.prefix), w, 0));
    };
    let experts = dim(moe.num_experts, "experts");
    let hidden = dim(a.hidden_size, "hidden");
    let inter = dim(moe.expert_intermediate_size, "expert_intermediate");
    let gate_up = times(
        2,
        moe.expert_intermediate_size,
        "2×expert_intermediate",
        loc,
    )?;
    let mut routed = Vec::new();
    let (gu, down) = if n.transposed {
        (
            vec![experts.clone(), hidden.clone(), gate_up.clone()],
            vec![experts.clone(), inter, hidden.clone()],
        )
    } else {
        (
            vec![experts.clone(), gate_up.clone(), hidden.clone()],
            vec![experts.clone(), hidden.clone(), inter],
        )
    };
    routed.push(Weight::new("experts.gate_up_proj", gu));
    if moe.expert_bias {
        routed.push(Weight::new(
            "experts.gate_up_proj_bias",
            vec![experts.clone(), gate_up],
        ));
    }
    routed.push(Weight::new("experts.down_proj", down));
    if moe.expert_bias {
        routed.push(Weight::new(
            "experts.down_proj_bias",
            vec![experts.clone(), hidden.clone()],
        ));
    }
    let idle = idle_expert_params(&routed, moe.num_experts, moe.experts_per_token, loc)?;
    linear(
        &mut w,
        &format!("{}.", n.router),
        hidden,
        experts,
        moe.router_bias,
    );
    w.extend(routed);
    if moe.shared_expert_intermediate_size > 0 {
        gated(
            &mut w,
            &format!("{}.", n.shared),
            a.hidden_size,
            moe.shared_expert_intermediate_size,
            moe.shared_expert_bias,
        );
        if moe.shared_expert_gate {
            linear(
                &mut w,
                "shared_expert_gate.",
                dim(a.hidden_size, "hidden"),
                dim(1, "1"),
                false,
            );
        }
    }
    Ok((n.moe_class.to_string(), w, idle))
}

/// Parameters of one layer's routed experts that a token does not use: (E − k) / E of
/// them (`top_k` 0 when unset: none used).
pub fn idle_expert_params(routed: &[Weight], experts: u64, top_k: u64, loc: &str) -> Result<u64> {
    let (params, _, _) = totals(routed, loc)?;
    let per_expert = params / experts.max(1);
    mul(
        per_expert,
        experts.saturating_sub(top_k),
        loc,
        "parameter count",
    )
}
