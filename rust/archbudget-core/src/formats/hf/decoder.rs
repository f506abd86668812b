//! The declarative decoder types ([`TypeSpec`], one per file in `types/`): a spec read
//! against a config gives the [`TransformerArch`] that FLOPs and memory lower, and the
//! summary rows, each module with its weights.
use crate::arch::{
    AttentionSpan, BlockDetails, HeadKind, LayerAttention, NormKind, Position, QkNorm, QkNormKind,
    TransformerArch,
};
use crate::error::{mul, Result};
use crate::weight::{dim, Weight};

use super::config::Cfg;
use super::layer_kinds::{layer_types, rope_layers};
use super::modules::{
    embedding_row, heads_dim, linear, lm_head, norm, norm_row, qk_norm_weights, times, Modules,
};
use super::spec::{
    Block, Flag, HeadDim, KvHeads, Norm, Placement, Positions, Projections, QkNormShape, Rotary,
    TypeSpec, Windows,
};

fn flag(cfg: &Cfg, f: Flag) -> Result<bool> {
    match f {
        Flag::Fixed(b) => Ok(b),
        Flag::Key(key, default) => cfg.flag(key, default),
    }
}

fn norm_kind(n: Norm) -> NormKind {
    match n {
        Norm::Rms => NormKind::RmsNorm,
        Norm::LayerNorm { bias } => NormKind::LayerNorm { bias },
    }
}

pub fn arch(spec: &TypeSpec, cfg: &Cfg, head: HeadKind) -> Result<TransformerArch> {
    let (d, k, at) = (&spec.defaults, spec.keys, &spec.attention);
    let hidden = cfg.dim_alias(k.hidden, d.hidden)?;
    let heads = cfg.dim_alias(k.heads, d.heads)?;
    let layers = cfg.layers(k.layers, d.layers)?;
    let kv_heads = match at.kv_heads {
        KvHeads::Key => match cfg.dim_opt("num_key_value_heads")? {
            Some(n) => n,
            None if cfg.is_null("num_key_value_heads") => heads,
            None => d.kv_heads.unwrap_or(heads),
        },
        KvHeads::MultiQueryFlag if cfg.flag("multi_query", true)? => 1,
        KvHeads::MultiQueryFlag => heads,
    };
    let head_dim = match at.head_dim {
        HeadDim::Key => match cfg.dim_opt("head_dim")? {
            Some(n) => n,
            None => d
                .head_dim
                .filter(|_| !cfg.is_null("head_dim"))
                .unwrap_or(hidden / heads),
        },
        HeadDim::HiddenOverHeads => {
            cfg.require_divisible((k.hidden[0], hidden), (k.heads[0], heads))?;
            hidden / heads
        }
    };
    if head_dim == 0 {
        return Err(cfg.invalid(format!(
            "hidden_size ({hidden}) is smaller than num_attention_heads ({heads})"
        )));
    }
    if cfg.flag("add_cross_attention", false)? {
        return Err(cfg.invalid(format!(
            "add_cross_attention is not supported for model_type '{}'",
            spec.model_type
        )));
    }
    let four_wide = mul(4, hidden, cfg.location, "intermediate size")?;
    let intermediate = cfg.dim_alias(
        k.intermediate,
        if d.intermediate == 0 {
            four_wide
        } else {
            d.intermediate
        },
    )?;
    let parallel = match spec.block {
        Block::Sequential => false,
        Block::Parallel => true,
        Block::ParallelWhen(f) => flag(cfg, f)?,
    };
    let max_positions = cfg.dim_alias(k.max_positions, d.max_positions)?;
    let (position, rotary_dim) = match spec.positions {
        Positions::Learned(_) => (
            Position::Learned {
                rows: max_positions,
            },
            0,
        ),
        Positions::Rotary(r) => (Position::Rotary, rotary_dim(cfg, r, head_dim)?),
    };
    let qk_norm = match at.qk_norm {
        Some(q) if flag(cfg, q.when)? => {
            let (dim, q_width, k_width) = match q.shape {
                QkNormShape::SharedPerHead => (head_dim, head_dim, head_dim),
                QkNormShape::SharedHiddenOverHeads => {
                    (hidden / heads, hidden / heads, hidden / heads)
                }
                QkNormShape::WholeProjection | QkNormShape::EachHead => {
                    let qw = mul(heads, head_dim, cfg.location, "q norm")?;
                    let kw = mul(kv_heads, head_dim, cfg.location, "k norm")?;
                    let whole = matches!(q.shape, QkNormShape::WholeProjection);
                    (if whole { qw } else { head_dim }, qw, kw)
                }
            };
            if dim == 0 {
                return Err(cfg.invalid(format!(
                    "hidden_size ({hidden}) is smaller than num_attention_heads ({heads}): \
                     the q/k norms would have no width"
                )));
            }
            Some(QkNorm {
                kind: QkNormKind::Learned(norm_kind(q.kind)),
                dim,
                q_width,
                k_width,
            })
        }
        _ => None,
    };
    let layer_attention = layer_attention(spec, cfg, layers, position == Position::Rotary)?;
    Ok(TransformerArch {
        head,
        vocab_size: cfg.dim("vocab_size", d.vocab)?,
        num_kv_heads: kv_heads,
        head_dim,
        gated_mlp: spec.mlp.gate.is_some() || spec.mlp.fused_gate_up,
        activation: cfg.string(k.activation, d.activation)?,
        norm: norm_kind(spec.norms.kind),
        norms_per_layer: match (parallel, spec.norms.placement) {
            (true, _) => 1,
            (false, Placement::Sandwich) => 4,
            (false, _) => 2,
        },
        qkv_bias: flag(cfg, at.qkv_bias)?,
        o_bias: flag(cfg, at.o_bias)?,
        mlp_bias: flag(cfg, spec.mlp.bias)?,
        fused_qkv: matches!(at.projections, Projections::Fused { .. }),
        position,
        max_positions,
        tie_word_embeddings: cfg.flag("tie_word_embeddings", d.tie)?,
        parallel_attn: parallel,
        details: BlockDetails {
            layers: layer_attention,
            qk_norm,
            post_branch_norms: matches!(spec.norms.placement, Placement::PostBranch),
            rotary_dim,
            lm_head_bias: spec.lm_head_bias,
            logit_scale: spec.logit_scale,
            ..BlockDetails::default()
        },
        ..TransformerArch::decoder(spec.model_type, hidden, layers, heads, intermediate)
    })
}

/// Dimensions of a head that rotary embeddings rotate, 0 for all of them.
pub fn rotary_dim(cfg: &Cfg, r: Rotary, head_dim: u64) -> Result<u64> {
    Ok(match r {
        Rotary::Full => 0,
        // `int(head_dim * partial_rotary_factor)`
        Rotary::Factor(default) => {
            let f = cfg.float("partial_rotary_factor", Some("rope_parameters"), default)?;
            if !(f > 0.0 && f <= 1.0) {
                return Err(cfg.invalid(format!(
                    "key 'partial_rotary_factor' must be a number between 0 and 1 (above 0), got {f}"
                )));
            }
            (head_dim as f64 * f) as u64
        }
        Rotary::DimKey(key, default) => match cfg.dim_opt(key)? {
            Some(n) => n.min(head_dim),
            None if cfg.is_null(key) => 0,
            None => default.min(head_dim),
        },
    })
}

/// The attention kind of every layer: `layer_types` when the config lists them, else the
/// type's default pattern (transformers' `__post_init__`).
fn layer_attention(
    spec: &TypeSpec,
    cfg: &Cfg,
    layers: u64,
    rotary: bool,
) -> Result<Vec<LayerAttention>> {
    let window = cfg
        .dim_opt("sliding_window")?
        .or(if cfg.is_null("sliding_window") {
            None
        } else {
            spec.defaults.sliding_window
        });
    let use_sliding = cfg.flag("use_sliding_window", false)?;
    let rope = match spec.attention.windows {
        Windows::NoRopeLayers => rope_layers(cfg, layers)?,
        _ => vec![rotary; layers as usize],
    };
    let known = ["full_attention", "sliding_attention"];
    let sliding: Vec<bool> = match layer_types(cfg, layers, &known)? {
        Some(types) => types.iter().map(|&t| t == "sliding_attention").collect(),
        None => (0..layers)
            .map(|i| match spec.attention.windows {
                Windows::None => Ok(false),
                Windows::AllWhenSet => Ok(window.is_some()),
                Windows::Pattern { key, every } => {
                    let n = match key {
                        Some(key) => cfg.dim(key, every)?,
                        None => every,
                    };
                    Ok((i + 1) % n != 0)
                }
                Windows::PatternFullNoRope { key, every } => {
                    Ok((i + 1) % cfg.dim(key, every)? != 0)
                }
                Windows::FromLayer => Ok(use_sliding
                    && window.is_some()
                    && i >= cfg.count("max_window_layers", 28)?),
                Windows::NoRopeLayers => Ok(use_sliding && window.is_some() && !rope[i as usize]),
            })
            .collect::<Result<_>>()?,
    };
    // exaone4: "global NoPE" where the model also has sliding layers
    let rope: Vec<bool> = match spec.attention.windows {
        Windows::PatternFullNoRope { .. } if window.is_some() => {
            rope.iter().zip(&sliding).map(|(&r, &s)| r && s).collect()
        }
        _ => rope,
    };
    let span = |s: bool| match (s, window) {
        (true, Some(w)) => Ok(AttentionSpan::Sliding(w)),
        (true, None) => {
            Err(cfg.invalid("sliding layers need 'sliding_window' (a positive integer)"))
        }
        (false, _) => Ok(AttentionSpan::Full),
    };
    sliding
        .into_iter()
        .zip(rope)
        .map(|(s, rotary)| {
            Ok(LayerAttention {
                span: span(s)?,
                rotary,
            })
        })
        .collect()
}

pub fn modules(spec: &TypeSpec, a: &TransformerArch, m: &mut Modules) -> Result<String> {
    let loc = m.location();
    let root = if a.head.has_lm_head() {
        spec.paths.root
    } else {
        ""
    };
    let embed_path = format!("{root}{}", spec.paths.embed);
    let vocab = dim(a.vocab_size, "vocab");
    embedding_row(
        m,
        embed_path.clone(),
        spec.embed_class,
        vocab.clone(),
        a.hidden_size,
    )?;
    if let Positions::Learned(name) = spec.positions {
        let rows = dim(a.max_positions, "positions");
        embedding_row(m, format!("{root}{name}"), "Embedding", rows, a.hidden_size)?;
    }
    let hidden = dim(a.hidden_size, "hidden");
    let q = heads_dim(a.num_heads, a.head_dim, "heads×head_dim", loc)?;
    let kv = heads_dim(a.num_kv_heads, a.head_dim, "kv_heads×head_dim", loc)?;
    let norm_names = if a.parallel_attn {
        &spec.norms.names[..1]
    } else {
        spec.norms.names
    };
    // every layer has the same weights (window and rotary change no parameter)
    let mut block = Vec::new();
    let mut w = Vec::new();
    let o = match spec.attention.projections {
        Projections::Separate { q: qn, k, v, o } => {
            let bias = a.qkv_bias;
            linear(&mut w, &format!("{qn}."), hidden.clone(), q.clone(), bias);
            linear(&mut w, &format!("{k}."), hidden.clone(), kv.clone(), bias);
            linear(&mut w, &format!("{v}."), hidden.clone(), kv.clone(), bias);
            o
        }
        Projections::Fused { qkv, o } => {
            let width = crate::error::add(q.size, mul(2, kv.size, loc, "qkv")?, loc, "qkv")?;
            let out = dim(width, "(heads+2·kv_heads)×head_dim");
            linear(&mut w, &format!("{qkv}."), hidden.clone(), out, a.qkv_bias);
            o
        }
    };
    linear(
        &mut w,
        &format!("{o}."),
        q.clone(),
        hidden.clone(),
        a.o_bias,
    );
    qk_norm_weights(&mut w, a.details.qk_norm);
    block.push((spec.paths.attention.to_string(), spec.attention.class, w));
    block.push(("mlp".to_string(), spec.mlp.class, mlp(spec, a, loc)?));
    for name in norm_names {
        let mut w = Vec::new();
        norm(&mut w, "", a.hidden_size, a.norm);
        block.push((name.to_string(), spec.norms.class, w));
    }
    let layers = spec.paths.layers;
    m.add_blocks(a.num_layers, |i| format!("{root}{layers}.{i}."), &block)?;
    let final_path = format!("{root}{}", spec.norms.final_name);
    norm_row(m, final_path, spec.norms.class, a.hidden_size, a.norm)?;
    if !a.head.has_lm_head() {
        return Ok(spec.base_class.to_string());
    }
    lm_head(m, "lm_head", a, &format!("{embed_path}.weight"))?;
    Ok(spec.lm_class.to_string())
}

fn mlp(spec: &TypeSpec, a: &TransformerArch, loc: &str) -> Result<Vec<Weight>> {
    let hidden = dim(a.hidden_size, "hidden");
    let inter = times(1, a.intermediate_size, "intermediate", loc)?;
    let s = &spec.mlp;
    let mut w = Vec::new();
    if s.fused_gate_up {
        let gate_up = times(2, a.intermediate_size, "2×intermediate", loc)?;
        linear(
            &mut w,
            &format!("{}.", s.up),
            hidden.clone(),
            gate_up,
            a.mlp_bias,
        );
        linear(&mut w, &format!("{}.", s.down), inter, hidden, a.mlp_bias);
        return Ok(w);
    }
    if let Some(gate) = s.gate {
        linear(
            &mut w,
            &format!("{gate}."),
            hidden.clone(),
            inter.clone(),
            a.mlp_bias,
        );
    }
    linear(
        &mut w,
        &format!("{}.", s.up),
        hidden.clone(),
        inter.clone(),
        a.mlp_bias,
    );
    linear(&mut w, &format!("{}.", s.down), inter, hidden, a.mlp_bias);
    Ok(w)
}
