//! D-FINE's constructor arguments the weights depend on, read with errors that name them.
use serde_json::Value;

use super::super::blocks::Args;
use crate::error::{Error, Result};

/// The constructor arguments the weights depend on.
pub(crate) struct Config {
    pub(crate) encoder_hidden: u64,
    pub(crate) hidden: u64,
    /// Levels the hybrid encoder fuses (`encoder_in_channels`).
    pub(crate) levels: usize,
    pub(crate) feature_levels: usize,
    /// The levels the transformer layers encode (`encode_proj_layers`).
    pub(crate) encode_proj_layers: Vec<u64>,
    pub(crate) encoder_heads: u64,
    pub(crate) encoder_layers: u64,
    pub(crate) encoder_ffn: u64,
    pub(crate) hidden_expansion: f64,
    pub(crate) depth_multiplier: f64,
    pub(crate) decoder_layers: u64,
    /// The decoder layer whose heads inference reads (`eval_idx`, made non-negative).
    pub(crate) eval_idx: u64,
    /// `decoder_method == "discrete"`: sampling by rounded indices, not `grid_sample`.
    pub(crate) discrete: bool,
    pub(crate) decoder_heads: u64,
    pub(crate) decoder_ffn: u64,
    pub(crate) points: Vec<u64>,
    pub(crate) lqe_hidden: u64,
    pub(crate) lqe_layers: u64,
    pub(crate) labels: u64,
    /// The decoder's inputs are projected to `hidden_dim` (it is not the encoder's width).
    pub(crate) projects: bool,
    pub(crate) denoising: bool,
    pub(crate) with_labels: bool,
    pub(crate) learn_initial_query: bool,
    pub(crate) queries: u64,
}

impl Config {
    pub(crate) fn of(a: &Args) -> Result<Config> {
        let decoder_in = ints(a, "decoder_in_channels")?;
        let encoder_in = ints(a, "encoder_in_channels")?;
        if decoder_in.len() != encoder_in.len() || decoder_in.is_empty() {
            return Err(bad(
                a,
                format!(
                    "decoder_in_channels ({}) and encoder_in_channels ({}) must list the same levels (one per backbone output)",
                    decoder_in.len(),
                    encoder_in.len()
                ),
            ));
        }
        let hidden = a.dim("hidden_dim")?;
        let decoder_last = decoder_in[decoder_in.len() - 1];
        let feature_levels = a.dim("num_feature_levels")? as usize;
        if feature_levels < decoder_in.len() {
            return Err(bad(
                a,
                format!(
                    "num_feature_levels ({feature_levels}) is fewer than the backbone levels ({})",
                    decoder_in.len()
                ),
            ));
        }
        let points = match a.config.get("decoder_n_points") {
            Some(Value::Array(_)) => ints(a, "decoder_n_points")?,
            _ => vec![a.dim("decoder_n_points")?; feature_levels],
        };
        let decoder_layers = a.dim("num_decoder_layers")?;
        let eval_idx = match a.config.get("eval_idx").and_then(Value::as_i64) {
            Some(i) if i < 0 => decoder_layers as i64 + i,
            Some(i) => i,
            None => return Err(bad(a, "eval_idx must be an integer".to_string())),
        };
        if eval_idx < 0 || eval_idx as u64 >= decoder_layers {
            return Err(bad(
                a,
                format!("eval_idx must index one of the {decoder_layers} decoder layers"),
            ));
        }
        let encoder_hidden = a.dim("encoder_hidden_dim")?;
        let heads = a.dim("num_attention_heads")?;
        a.per_head(
            ("encoder_hidden_dim", encoder_hidden),
            ("num_attention_heads", heads),
        )?;
        let decoder_heads = a.dim("decoder_attention_heads")?;
        a.per_head(
            ("hidden_dim", hidden),
            ("decoder_attention_heads", decoder_heads),
        )?;
        Ok(Config {
            encoder_hidden,
            hidden,
            levels: encoder_in.len(),
            feature_levels,
            encode_proj_layers: a.count_list("encode_proj_layers")?,
            encoder_heads: heads,
            encoder_layers: a.count_or("num_encoder_layers", 0)?,
            encoder_ffn: a.dim("encoder_ffn_dim")?,
            hidden_expansion: a.float_or("hidden_expansion", 1.0)?,
            depth_multiplier: a.float_or("depth_multiplier", 1.0)?,
            decoder_layers,
            eval_idx: eval_idx as u64,
            discrete: a.config.get("decoder_method").and_then(Value::as_str) == Some("discrete"),
            decoder_heads,
            decoder_ffn: a.dim("decoder_ffn_dim")?,
            points,
            lqe_hidden: a.dim("lqe_hidden_dim")?,
            lqe_layers: a.dim("num_lqe_layers")?,
            labels: a.dim("num_labels")?,
            denoising: a.count_or("num_denoising", 0)? > 0,
            with_labels: !matches!(a.config.get("labels"), None | Some(Value::Null)),
            learn_initial_query: a.flag_or("learn_initial_query", false)?,
            queries: a.dim("num_queries")?,
            projects: hidden != decoder_last,
        })
    }
}

pub(super) fn bad(a: &Args, message: String) -> Error {
    Error::invalid(a.location, format!("{} config: {message}", a.class_name))
}

/// A list of positive integers under `key`.
fn ints(a: &Args, key: &str) -> Result<Vec<u64>> {
    let fail = || bad(a, format!("'{key}' must be a list of positive integers"));
    a.config
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(fail)?
        .iter()
        .map(|v| crate::layers::positive_int(v).ok_or_else(fail))
        .collect()
}
