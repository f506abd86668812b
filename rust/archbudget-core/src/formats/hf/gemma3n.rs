//! gemma3n_text: Gemma 3n's text model (`Gemma3nTextModel`, `Gemma3nForCausalLM`).
//!
//! Computes (diff with gemma3_text): the hidden state is `altup_num_inputs` streams (the
//! scaled token embedding and `n - 1` magnitude-matched projections of it); each layer
//! runs AltUp's `predict` (router norm, `modality_router`, `prediction_coefs`, a
//! batched n×n mix of the streams), gemma3's sandwich-normed attention and MLP on the
//! active stream beside Laurel's low-rank residual (`linear_left` → `linear_right` →
//! norm), AltUp's `correct`, then gates the per-layer input (`per_layer_input_gate`,
//! activation, times that layer's slice of the per-layer inputs, `per_layer_projection`,
//! norm) into the other streams. The per-layer inputs are a second scaled token
//! embedding (`vocab_size_per_layer_input` × layers·`hidden_size_per_layer_input`) plus
//! `per_layer_model_projection` of the embeddings, normed. After the layers the streams
//! are unembedded (`n - 1` projections), averaged and normed; the LM head's logits are
//! soft-capped (`final_logit_softcapping`). The last `num_kv_shared_layers` layers reuse
//! the k and v of the last earlier layer of their kind and have no k/v projections;
//! the MLPs of the layers with `activation_sparsity_pattern > 0` cut their gate at a
//! gaussian top-k. MLP widths are per layer (`intermediate_size` may be a list).
//! Weights: as above; v's norm has no scale; `correct_output_scale` (hidden) always.
//! Buffers: the two embeddings' `embed_scale`, each layer's `router_input_scale`,
//! `per_layer_projection_scale`, `per_layer_input_scale` (scalars) and an `inv_freq`,
//! `original_inv_freq` pair (`head_dim / 2`) per layer type.
//! Mirrors: `modeling_gemma3n.py` / `Gemma3nTextConfig` of transformers 5.24.
use crate::arch::{
    AttentionSpan, BlockDetails, HeadKind, LayerAttention, NormKind, Position, QkNorm,
    TransformerArch,
};
use crate::error::Result;
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::layer_kinds::layer_types;
use super::modules::{embedding_row, heads_dim, linear, lm_head, norm_row, Modules};

/// What Gemma 3n's text model adds to gemma3's layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gemma3n {
    /// The MLP width of each layer.
    pub intermediate_sizes: Vec<u64>,
    /// Each layer's MLP cuts its gate at a gaussian top-k (`activation_sparsity_pattern`
    /// above 0).
    pub sparse_layers: Vec<bool>,
    /// AltUp's streams (`altup_num_inputs`).
    pub altup_inputs: u64,
    pub laurel_rank: u64,
    /// `hidden_size_per_layer_input`.
    pub per_layer_width: u64,
    /// `vocab_size_per_layer_input`.
    pub per_layer_vocab: u64,
    /// The last layers reusing an earlier layer's k and v (`num_kv_shared_layers`).
    pub kv_shared_layers: u64,
    /// `altup_correct_scale`: the active stream is scaled by `correct_output_scale`.
    pub correct_scale: bool,
    /// `altup_coef_clip` is set: training clamps the correction coefficients (a copy).
    pub coef_clip: bool,
    /// `final_logit_softcapping` is set: the logits go through `tanh` between two scalings.
    pub logit_softcap: bool,
    /// keras-hub's layers (its twin, `formats::keras_hub::gemma3n`): the shared layers
    /// keep k/v projections and a k norm they never run, and `correct_output_scale`
    /// exists only with `altup_correct_scale`.
    pub keras_hub: bool,
}

impl Gemma3n {
    /// Layer `i` reuses an earlier layer's k and v.
    pub fn shares_kv(&self, layers: u64, i: u64) -> bool {
        i >= layers.saturating_sub(self.kv_shared_layers)
    }

    /// Layer `i` owns k/v projections and a k norm (all but transformers' shared ones).
    pub fn has_kv_weights(&self, layers: u64, i: u64) -> bool {
        self.keras_hub || !self.shares_kv(layers, i)
    }

    /// `correct_output_scale` is a parameter.
    pub fn has_correct_scale_param(&self) -> bool {
        !self.keras_hub || self.correct_scale
    }
}

const LAYER_TYPES: &[&str] = &["full_attention", "sliding_attention"];

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let hidden = cfg.dim("hidden_size", 2048)?;
    let heads = cfg.dim("num_attention_heads", 8)?;
    let layers = cfg.layers(&["num_hidden_layers"], 35)?;
    cfg.require_divisible(("hidden_size", hidden), ("num_attention_heads", heads))?;
    let window = cfg.dim("sliding_window", 512)?;
    let spans: Vec<AttentionSpan> = match layer_types(cfg, layers, LAYER_TYPES)? {
        Some(types) => types
            .iter()
            .map(|&t| match t {
                "sliding_attention" => AttentionSpan::Sliding(window),
                _ => AttentionSpan::Full,
            })
            .collect(),
        None => (0..layers)
            .map(|i| match (i + 1) % 5 {
                0 => AttentionSpan::Full,
                _ => AttentionSpan::Sliding(window),
            })
            .collect(),
    };
    let kv_shared_layers = cfg.count("num_kv_shared_layers", 15)?;
    check_kv_sharing(cfg, &spans, kv_shared_layers)?;
    let intermediate_sizes = match cfg.count_list("intermediate_size") {
        Ok(list) if !list.is_empty() => list,
        _ => vec![cfg.dim("intermediate_size", 16_384)?; layers as usize],
    };
    if intermediate_sizes.len() as u64 != layers || intermediate_sizes.contains(&0) {
        return Err(cfg.invalid(format!(
            "key 'intermediate_size' must be one positive width or one per layer ({layers})"
        )));
    }
    let sparse_layers = sparsity(cfg, layers)?;
    let head_dim = cfg.dim("head_dim", 256)?;
    let attention_bias = cfg.flag("attention_bias", false)?;
    let gemma3n = Gemma3n {
        intermediate_sizes,
        sparse_layers,
        altup_inputs: cfg.dim("altup_num_inputs", 4)?,
        laurel_rank: cfg.dim("laurel_rank", 64)?,
        per_layer_width: cfg.dim("hidden_size_per_layer_input", 256)?,
        per_layer_vocab: cfg.dim("vocab_size_per_layer_input", 262_144)?,
        kv_shared_layers,
        correct_scale: cfg.flag("altup_correct_scale", true)?,
        coef_clip: !cfg.is_null("altup_coef_clip"),
        logit_softcap: !cfg.is_null("final_logit_softcapping"),
        keras_hub: false,
    };
    let altup_active = cfg.count("altup_active_idx", 0)?;
    if altup_active >= gemma3n.altup_inputs {
        return Err(cfg.invalid(format!(
            "altup_active_idx ({altup_active}) must be below altup_num_inputs ({})",
            gemma3n.altup_inputs
        )));
    }
    // made before `gemma3n` moves into `details`
    let base = TransformerArch::decoder(
        cfg.model_type,
        hidden,
        layers,
        heads,
        gemma3n.intermediate_sizes[0],
    );
    Ok(TransformerArch {
        head,
        vocab_size: cfg.dim("vocab_size", 262_400)?,
        num_kv_heads: cfg.dim("num_key_value_heads", 2)?,
        head_dim,
        gated_mlp: true,
        activation: cfg.string("hidden_activation", "gelu_pytorch_tanh")?,
        norm: NormKind::RmsNorm,
        norms_per_layer: 4,
        qkv_bias: attention_bias,
        o_bias: attention_bias,
        mlp_bias: false,
        position: Position::Rotary,
        max_positions: cfg.dim("max_position_embeddings", 32_768)?,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", true)?,
        details: BlockDetails {
            layers: spans
                .into_iter()
                .map(|span| LayerAttention { span, rotary: true })
                .collect(),
            qk_norm: Some(QkNorm::rms_per_head(head_dim)),
            gemma3n: Some(Box::new(gemma3n)),
            ..Default::default()
        },
        ..base
    })
}

/// `activation_sparsity_pattern`: one number per layer; by default the first 10 layers
/// are sparse (0.95) when there are more than 10.
fn sparsity(cfg: &Cfg, layers: u64) -> Result<Vec<bool>> {
    let key = "activation_sparsity_pattern";
    let Some(list) = cfg.floats(key)? else {
        let sparse = if layers > 10 { 10 } else { 0 };
        return Ok((0..layers).map(|i| i < sparse).collect());
    };
    if list.len() as u64 != layers {
        return Err(cfg.invalid(format!(
            "key '{key}' has {} entries but the model has {layers} layers",
            list.len()
        )));
    }
    Ok(list.iter().map(|&p| p > 0.0).collect())
}

/// `kv_sharing_modes`' check: every kind of layer in the shared tail has an earlier
/// layer of its kind whose k and v it reuses.
fn check_kv_sharing(cfg: &Cfg, spans: &[AttentionSpan], shared: u64) -> Result<()> {
    let layers = spans.len() as u64;
    if shared > 0 && (shared >= layers || orphan_shared_layer(spans, shared).is_some()) {
        return Err(cfg.invalid(format!(
            "num_kv_shared_layers ({shared}) leaves no earlier layer of each kind in layer_types to share k and v from ({layers} layers)"
        )));
    }
    Ok(())
}

/// The first of the last `shared` layers with no earlier unshared layer of its kind
/// (sliding or full) to reuse k and v from.
pub fn orphan_shared_layer(spans: &[AttentionSpan], shared: u64) -> Option<usize> {
    let first = (spans.len() as u64).saturating_sub(shared) as usize;
    let kind = std::mem::discriminant::<AttentionSpan>;
    (first..spans.len()).find(|&i| !spans[..first].iter().any(|p| kind(p) == kind(&spans[i])))
}

pub fn modules(a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let loc = m.location();
    let g = a
        .details
        .gemma3n
        .as_deref()
        .ok_or_else(|| crate::Error::Internal("gemma3n_text without its details".into()))?;
    let root = if a.head.has_lm_head() { "model." } else { "" };
    let embed_path = format!("{root}embed_tokens");
    let embed_class = "Gemma3nTextScaledWordEmbedding";
    embedding_row(
        m,
        embed_path.clone(),
        embed_class,
        dim(a.vocab_size, "vocab"),
        a.hidden_size,
    )?;
    let h = || dim(a.hidden_size, "hidden");
    let q = heads_dim(a.num_heads, a.head_dim, "heads×head_dim", loc)?;
    let kv = heads_dim(a.num_kv_heads, a.head_dim, "kv_heads×head_dim", loc)?;
    let n = g.altup_inputs;
    let norm_class = "Gemma3nRMSNorm";
    let mut norm = Vec::new();
    super::modules::norm(&mut norm, "", a.hidden_size, NormKind::RmsNorm);
    let mut altup = Vec::new();
    if g.has_correct_scale_param() {
        altup.push(Weight::new("correct_output_scale", vec![h()]));
    }
    linear(
        &mut altup,
        "correction_coefs.",
        dim(n, "n"),
        dim(n, "n"),
        false,
    );
    linear(
        &mut altup,
        "prediction_coefs.",
        dim(n, "n"),
        dim(crate::error::mul(n, n, loc, "altup_num_inputs²")?, "n²"),
        false,
    );
    linear(&mut altup, "modality_router.", h(), dim(n, "n"), false);
    super::modules::norm(&mut altup, "router_norm.", a.hidden_size, NormKind::RmsNorm);
    let rank = dim(g.laurel_rank, "laurel_rank");
    let mut laurel = Vec::new();
    linear(&mut laurel, "linear_left.", h(), rank.clone(), false);
    linear(&mut laurel, "linear_right.", rank, h(), false);
    super::modules::norm(
        &mut laurel,
        "post_laurel_norm.",
        a.hidden_size,
        NormKind::RmsNorm,
    );
    let per_layer = dim(g.per_layer_width, "per_layer");
    let mut gate = Vec::new();
    linear(&mut gate, "", h(), per_layer.clone(), false);
    let mut projection = Vec::new();
    linear(&mut projection, "", per_layer.clone(), h(), false);
    for i in 0..a.num_layers {
        let mut attn = Vec::new();
        linear(&mut attn, "q_proj.", h(), q.clone(), a.qkv_bias);
        if g.has_kv_weights(a.num_layers, i) {
            linear(&mut attn, "k_proj.", h(), kv.clone(), a.qkv_bias);
            linear(&mut attn, "v_proj.", h(), kv.clone(), a.qkv_bias);
        }
        linear(&mut attn, "o_proj.", q.clone(), h(), a.o_bias);
        attn.push(Weight::new(
            "q_norm.weight",
            vec![dim(a.head_dim, "head_dim")],
        ));
        if g.has_kv_weights(a.num_layers, i) {
            attn.push(Weight::new(
                "k_norm.weight",
                vec![dim(a.head_dim, "head_dim")],
            ));
        }
        let inter = dim(g.intermediate_sizes[i as usize], "intermediate");
        let mut mlp = Vec::new();
        linear(&mut mlp, "gate_proj.", h(), inter.clone(), false);
        linear(&mut mlp, "up_proj.", h(), inter.clone(), false);
        linear(&mut mlp, "down_proj.", inter, h(), false);
        let block = [
            ("self_attn".to_string(), "Gemma3nTextAttention", attn),
            ("mlp".to_string(), "Gemma3nTextMLP", mlp),
            ("input_layernorm".to_string(), norm_class, norm.clone()),
            (
                "post_attention_layernorm".to_string(),
                norm_class,
                norm.clone(),
            ),
            (
                "pre_feedforward_layernorm".to_string(),
                norm_class,
                norm.clone(),
            ),
            (
                "post_feedforward_layernorm".to_string(),
                norm_class,
                norm.clone(),
            ),
            ("altup".to_string(), "Gemma3nTextAltUp", altup.clone()),
            (
                "laurel".to_string(),
                "Gemma3nTextLaurelBlock",
                laurel.clone(),
            ),
            ("per_layer_input_gate".to_string(), "Linear", gate.clone()),
            (
                "per_layer_projection".to_string(),
                "Linear",
                projection.clone(),
            ),
            (
                "post_per_layer_input_norm".to_string(),
                norm_class,
                norm.clone(),
            ),
        ];
        m.add_blocks(1, |_| format!("{root}layers.{i}."), &block)?;
    }
    norm_row(m, format!("{root}norm"), norm_class, a.hidden_size, a.norm)?;
    per_layer_input_rows(
        m,
        root,
        embed_class,
        norm_class,
        a,
        g.per_layer_width,
        g.per_layer_vocab,
    )?;
    for kind in ["altup_projections", "altup_unembed_projections"] {
        for j in 0..n - 1 {
            let mut w = Vec::new();
            linear(&mut w, "", h(), h(), false);
            m.add(format!("{root}{kind}.{j}"), "Linear", w)?;
        }
    }
    if a.head.has_lm_head() {
        lm_head(m, "lm_head", a, &embed_path)?;
        return Ok("Gemma3nForCausalLM".to_string());
    }
    Ok("Gemma3nTextModel".to_string())
}

/// The per-layer input rows Gemma 3n and Gemma 4 share: `embed_tokens_per_layer` (every
/// layer's slice of `width`), `per_layer_model_projection` and its norm.
pub(super) fn per_layer_input_rows(
    m: &mut Modules,
    root: &str,
    embed_class: &str,
    norm_class: &str,
    a: &TransformerArch,
    width: u64,
    vocab: u64,
) -> Result<()> {
    let loc = m.location();
    let per_layer_all = dim(
        crate::error::mul(a.num_layers, width, loc, "per-layer input width")?,
        "layers×per_layer",
    );
    embedding_row(
        m,
        format!("{root}embed_tokens_per_layer"),
        embed_class,
        dim(vocab, "per_layer_vocab"),
        per_layer_all.size,
    )?;
    let mut model_projection = Vec::new();
    linear(
        &mut model_projection,
        "",
        dim(a.hidden_size, "hidden"),
        per_layer_all,
        false,
    );
    m.add(
        format!("{root}per_layer_model_projection"),
        "Linear",
        model_projection,
    )?;
    norm_row(
        m,
        format!("{root}per_layer_projection_norm"),
        norm_class,
        width,
        a.norm,
    )
}
