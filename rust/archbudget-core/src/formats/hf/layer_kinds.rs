//! Per-layer attention kinds as configs state them, read once for every type:
//! `layer_types` (transformers 5's list of "full_attention" / "sliding_attention" /
//! "chunked_attention" per layer) and `no_rope_layers` (smollm3, llama4: 1 where the
//! layer uses rotary embeddings). The types map the names onto
//! [`crate::arch::AttentionSpan`]s with their windows.
use crate::error::Result;

use super::config::Cfg;

/// `layer_types`, checked against the layer count and the names `known` (those the
/// type's modeling code handles); `None` when the config has no list.
pub fn layer_types<'a>(cfg: &Cfg<'a>, layers: u64, known: &[&str]) -> Result<Option<Vec<&'a str>>> {
    let Some(types) = cfg.strings("layer_types")? else {
        return Ok(None);
    };
    if types.len() as u64 != layers {
        return Err(cfg.invalid(format!(
            "key 'layer_types' has {} entries but the model has {layers} layers",
            types.len()
        )));
    }
    if let Some(other) = types.iter().find(|t| !known.contains(t)) {
        return Err(cfg.invalid(format!(
            "key 'layer_types' holds '{other}', which {} does not have ({})",
            cfg.model_type,
            known.join(", ")
        )));
    }
    Ok(Some(types))
}

/// Whether each layer applies rotary embeddings: `no_rope_layers[i] != 0`, or, when the
/// list is empty or absent, every layer but each `no_rope_layer_interval`-th (default
/// 4). The modeling code indexes the list by layer, so a longer one is accepted.
pub fn rope_layers(cfg: &Cfg, layers: u64) -> Result<Vec<bool>> {
    let listed = cfg.count_list("no_rope_layers")?;
    if listed.is_empty() {
        let every = cfg.dim("no_rope_layer_interval", 4)?;
        return Ok((0..layers).map(|i| (i + 1) % every != 0).collect());
    }
    if (listed.len() as u64) < layers {
        return Err(cfg.invalid(format!(
            "key 'no_rope_layers' has {} entries but the model has {layers} layers",
            listed.len()
        )));
    }
    Ok(listed[..layers as usize].iter().map(|&r| r != 0).collect())
}
