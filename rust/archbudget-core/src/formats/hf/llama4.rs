//! llama4_text: llama attention with NoPE layers (`no_rope_layers[i] == 0`: no rotary
//! embedding, full attention, query temperature tuning) among rotary layers (chunked
//! attention over `attention_chunk_size` tokens, parameter-free L2 qk-norm when
//! `use_qk_norm`); MoE layers (`moe_layers`, default every `interleave_moe_layer_step`-th)
//! hold a `router` Linear, transposed experts of `intermediate_size` and a shared expert
//! of the same size, dense layers an MLP of `intermediate_size_mlp`. The router keeps
//! the top-k logits, sigmoid of them, and every expert runs on every token (weight 0
//! where not chosen).
//! Mirrors: `modeling_llama4.py`, `configuration_llama4.py` (`Llama4TextConfig`) of
//! transformers 5.x; the module is `feed_forward`, not `mlp`.
//! `llama4` wraps the text model (`language_model`) with a vision tower (unfold patch
//! projection, class and position embeddings, pre/post LayerNorms, biased attention and
//! GELU MLP blocks, a pixel-shuffle MLP) and a projector onto the text width.
use crate::arch::{
    AttentionSpan, HeadKind, LayerAttention, Llama4Vision, Moe, NormKind, QkNorm, RouterScoring,
    TransformerArch,
};
use crate::error::{add, mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::layer_kinds::{layer_types, rope_layers};
use super::modules::{heads_dim, linear, norm, norm_row, Modules};
use super::moe::Dims;

pub fn arch(cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let d = Dims::read(cfg, 202048, 5120, 8192, 48, 40, Some(8), Some(128), 131072)?;
    let mut a = d.decoder(cfg, head)?;
    let bias = cfg.flag("attention_bias", false)?;
    (a.qkv_bias, a.o_bias) = (bias, bias);
    a.intermediate_size = cfg.dim("intermediate_size_mlp", 16384)?;
    // NoPE layers: full attention, no rotary embedding, q scaled by a temperature
    let uses_rope = rope_layers(cfg, d.layers)?;
    if cfg.flag("use_qk_norm", true)? {
        a.details.qk_norm = Some(QkNorm::l2(d.head_dim));
    }
    a.details.nope_temperature = cfg.flag("attn_temperature_tuning", true)?;
    let chunk = match cfg.is_null("attention_chunk_size") {
        true => None,
        false => Some(cfg.dim("attention_chunk_size", 8192)?),
    };
    let known: &[&str] = match chunk {
        Some(_) => &["full_attention", "chunked_attention"],
        None => &["full_attention"],
    };
    let chunked: Vec<bool> = match layer_types(cfg, d.layers, known)? {
        Some(types) => types.iter().map(|&t| t == "chunked_attention").collect(),
        None => uses_rope.clone(),
    };
    a.details.layers = chunked
        .into_iter()
        .zip(uses_rope)
        .map(|(chunked, rotary)| LayerAttention {
            span: match (chunked, chunk) {
                (true, Some(c)) => AttentionSpan::Chunked(c),
                _ => AttentionSpan::Full,
            },
            rotary,
        })
        .collect();
    let moe_layers = match cfg.has("moe_layers") {
        true => cfg.count_list("moe_layers")?,
        false => {
            let step = cfg.dim("interleave_moe_layer_step", 1)?;
            (step - 1..d.layers).step_by(step as usize).collect()
        }
    };
    let dense_layers: Vec<u64> = (0..d.layers).filter(|i| !moe_layers.contains(i)).collect();
    if (dense_layers.len() as u64) < d.layers {
        a.moe = Some(Moe {
            num_experts: cfg.dim("num_local_experts", 16)?,
            experts_per_token: cfg.dim("num_experts_per_tok", 1)?,
            expert_intermediate_size: d.inter,
            shared_expert_intermediate_size: d.inter,
            dense_layers,
            scoring: RouterScoring::DenseSigmoid,
            ..Moe::softmax_router()
        });
    }
    Ok(a)
}

/// `llama4` (`Llama4ForConditionalGeneration`, which `AutoModel` maps to as well): the
/// vision tower (`vision_config`), the projector and `Llama4ForCausalLM` of
/// `text_config`, whatever the head.
pub fn wrapper(cfg: &Cfg) -> Result<TransformerArch> {
    let text = cfg.nested("text_config", "llama4_text")?;
    let mut a = arch(&text, HeadKind::CausalLm)?;
    a.model_type = cfg.model_type.to_string();
    let v = cfg.nested("vision_config", "llama4_vision_model")?;
    a.details.llama4_vision = Some(Llama4Vision {
        hidden_size: v.dim("hidden_size", 768)?,
        intermediate_size: v.dim("intermediate_size", 5632)?,
        num_layers: v.layers(&["num_hidden_layers"], 34)?,
        num_heads: v.dim("num_attention_heads", 16)?,
        num_channels: v.dim("num_channels", 3)?,
        image_size: v.dim("image_size", 448)?,
        patch_size: v.dim("patch_size", 14)?,
        vision_output_dim: v.dim("vision_output_dim", 7680)?,
        projector_input_dim: v.dim("projector_input_dim", 4096)?,
        projector_output_dim: v.dim("projector_output_dim", 4096)?,
    });
    Ok(a)
}

/// The rows of the vision tower and the projector onto `text_hidden`.
pub fn vision_modules(v: &Llama4Vision, text_hidden: u64, m: &mut Modules) -> Result<()> {
    let loc = m.location();
    let hidden = dim(v.hidden_size, "vision_hidden");
    let per_side = v.image_size / v.patch_size;
    let positions = add(mul(per_side, per_side, loc, "patches")?, 1, loc, "patches")?;
    m.add(
        "vision_model".into(),
        "Llama4VisionModel",
        vec![
            Weight::new("class_embedding", vec![hidden.clone()]),
            Weight::new(
                "positional_embedding_vlm",
                vec![dim(positions, "patches+1"), hidden.clone()],
            ),
        ],
    )?;
    let patch_in = mul(
        v.num_channels,
        mul(v.patch_size, v.patch_size, loc, "patch")?,
        loc,
        "patch",
    )?;
    let mut w = Vec::new();
    linear(
        &mut w,
        "linear.",
        dim(patch_in, "channels×patch²"),
        hidden.clone(),
        false,
    );
    m.add(
        "vision_model.patch_embedding".into(),
        "Llama4UnfoldConvolution",
        w,
    )?;
    let ln = NormKind::LayerNorm { bias: true };
    for name in ["layernorm_pre", "layernorm_post"] {
        norm_row(
            m,
            format!("vision_model.{name}"),
            "LayerNorm",
            v.hidden_size,
            ln,
        )?;
    }
    let heads = heads_dim(
        v.num_heads,
        v.hidden_size / v.num_heads,
        "heads×head_dim",
        loc,
    )?;
    let inter = dim(v.intermediate_size, "vision_intermediate");
    let mut attn = Vec::new();
    for p in ["q_proj.", "k_proj.", "v_proj."] {
        linear(&mut attn, p, hidden.clone(), heads.clone(), true);
    }
    linear(&mut attn, "o_proj.", heads.clone(), hidden.clone(), true);
    let mut mlp = Vec::new();
    linear(&mut mlp, "fc1.", hidden.clone(), inter.clone(), true);
    linear(&mut mlp, "fc2.", inter.clone(), hidden.clone(), true);
    let mut layer_norm = Vec::new();
    norm(&mut layer_norm, "", v.hidden_size, ln);
    let block = [
        ("self_attn".to_string(), "Llama4VisionAttention", attn),
        ("mlp".to_string(), "Llama4VisionMLP", mlp),
        (
            "input_layernorm".to_string(),
            "LayerNorm",
            layer_norm.clone(),
        ),
        (
            "post_attention_layernorm".to_string(),
            "LayerNorm",
            layer_norm,
        ),
    ];
    // identical encoder layers: declared once (counting only: summed once, multiplied)
    m.add_blocks(
        v.num_layers,
        |i| format!("vision_model.model.layers.{i}."),
        &block,
    )?;
    let mut w = Vec::new();
    let proj_out = dim(v.projector_output_dim, "projector_output");
    linear(
        &mut w,
        "mlp.fc1.",
        inter,
        dim(v.projector_input_dim, "projector_input"),
        false,
    );
    linear(&mut w, "mlp.fc2.", proj_out.clone(), proj_out, false);
    m.add(
        "vision_model.vision_adapter".into(),
        "Llama4VisionPixelShuffleMLP",
        w,
    )?;
    let mut w = Vec::new();
    linear(
        &mut w,
        "linear_1.",
        dim(v.vision_output_dim, "vision_output"),
        dim(text_hidden, "hidden"),
        false,
    );
    m.add(
        "multi_modal_projector".into(),
        "Llama4MultiModalProjector",
        w,
    )
}
