//! keras-hub's Gemma4AudioEncoder (gemma4_audio_encoder.py) as a Gemma4Backbone's
//! `audio_encoder`: one row holding every weight.
//!
//! Weights: the subsampling convolutions (two bias-free Conv2D
//! `[kt, kf, in, channels_i]`, each with a LayerNorm scale `[channels_i]`) and `input_proj`
//! `[channels_1 × f_1, hidden]`, where each convolution takes the mel axis `f` to
//! `(f + 2 - kf) // sf + 1`; per `conformer_i` two feed-forward halves (`[hidden, 4·hidden]`
//! and back), attention (q/k/v/out `[hidden, hidden]`, the relative positions' `pos_proj`
//! `[hidden, hidden]`, `per_dim_scale` `[hidden / heads]`) and the light convolution
//! (`[hidden, 2·hidden]`, a depthwise kernel `[conv_kernel_size, hidden, 1]`,
//! `[hidden, hidden]`); then `output_proj` (`[hidden, output_proj_dims]` with a bias, when
//! set) and `audio_output_projection` to `output_dim`.
//!
//! Non-trainable: a conformer's nine RMS norm scales `[hidden]` (`Gemma4FrozenNorm`) and
//! four scalar clip bounds on each of its ten linears.
use serde_json::Value;

use super::blocks::{dense, Args, Row};
use super::{config_of, registered_class};
use crate::error::{Error, Result};
use crate::weight::{dim, Weight};

const CLASS: &str = "Gemma4AudioEncoder";

/// An audio encoder's row and its mel-bin count (the width of the `audio_mel` input).
pub struct Encoder {
    pub row: Row,
    pub mel_bins: u64,
}

/// The `audio_encoder` a Gemma4Backbone holds, if any.
pub fn nested(a: &Args) -> Result<Option<Encoder>> {
    let Some(value) = a.config.get("audio_encoder").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    if registered_class(value) != Some(CLASS) {
        return Err(Error::invalid(
            a.location,
            format!(
                "{} config key 'audio_encoder' must be a serialized keras-hub {CLASS}",
                a.class_name
            ),
        ));
    }
    let config = config_of(value, CLASS, a.location)?;
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("gemma4_audio_encoder")
        .to_string();
    let args = Args {
        config,
        class_name: CLASS,
        location: a.location,
    };
    read(&args, name).map(Some)
}

fn read(a: &Args, name: String) -> Result<Encoder> {
    let mel_bins = a.dim_or("input_feat_size", 128)?;
    let hidden = a.dim_or("hidden_size", 1024)?;
    let heads = a.dim_or("num_heads", 8)?;
    let layers = a.count_or("num_layers", 12)?;
    let kernel = a.dim_or("conv_kernel_size", 5)?;
    let out = a.dim_or("output_dim", 2048)?;
    let proj = match a.config.get("output_proj_dims") {
        None => Some(1536),
        Some(Value::Null) => None,
        Some(_) => a.dim_opt("output_proj_dims")?,
    };
    let channels = pair(a, "sscp_conv_channels", [128, 32])?;
    let kernels = pairs(a, "sscp_kernel_sizes", [[3, 3], [3, 3]])?;
    let strides = pairs(a, "sscp_stride_sizes", [[2, 2], [2, 2]])?;

    let mut w = Vec::new();
    let (mut f, mut inputs) = (mel_bins, 1);
    for i in 0..2 {
        let [kt, kf] = kernels[i];
        w.push(Weight::new(
            format!("subsample_conv_projection/conv_{i}/conv/kernel"),
            vec![
                dim(kt, "kernel_t"),
                dim(kf, "kernel_f"),
                dim(inputs, "inputs"),
                dim(channels[i], "filters"),
            ],
        ));
        w.push(Weight::new(
            format!("subsample_conv_projection/conv_{i}/norm/gamma"),
            vec![dim(channels[i], "features")],
        ));
        f = (f + 2).checked_sub(kf).ok_or_else(|| {
            Error::invalid(
                a.location,
                format!("{CLASS} config: sscp_kernel_sizes leave no mel bins of input_feat_size {mel_bins}"),
            )
        })? / strides[i][1]
            + 1;
        inputs = channels[i];
    }
    dense(
        &mut w,
        "subsample_conv_projection/input_proj",
        channels[1] * f,
        hidden,
        false,
    );
    let head_dim = a.per_head(("hidden_size", hidden), ("num_heads", heads))?;
    let inter = 4 * hidden;
    for i in 0..layers {
        let b = format!("conformer_{i}");
        let linear = |w: &mut Vec<Weight>, name: &str, d_in: u64, d_out: u64| {
            dense(w, &format!("{b}/{name}/dense"), d_in, d_out, false);
            for bound in ["input_min", "input_max", "output_min", "output_max"] {
                w.push(Weight::new(format!("{b}/{name}/{bound}"), Vec::new()).frozen());
            }
        };
        let norm = |w: &mut Vec<Weight>, name: &str| {
            w.push(
                Weight::new(format!("{b}/{name}/scale"), vec![dim(hidden, "features")]).frozen(),
            );
        };
        for half in ["ffw_start", "ffw_end"] {
            norm(&mut w, &format!("{half}/pre_norm"));
            linear(&mut w, &format!("{half}/ffw_1"), hidden, inter);
            linear(&mut w, &format!("{half}/ffw_2"), inter, hidden);
            norm(&mut w, &format!("{half}/post_norm"));
        }
        norm(&mut w, "attention/pre_attn_norm");
        w.push(Weight::new(
            format!("{b}/attention/per_dim_scale"),
            vec![dim(head_dim, "head_dim")],
        ));
        for p in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            linear(&mut w, &format!("attention/{p}"), hidden, hidden);
        }
        dense(
            &mut w,
            &format!("{b}/attention/rpe/pos_proj"),
            hidden,
            hidden,
            false,
        );
        norm(&mut w, "attention/post_norm");
        norm(&mut w, "lconv/pre_norm");
        linear(&mut w, "lconv/linear_start", hidden, 2 * hidden);
        w.push(Weight::new(
            format!("{b}/lconv/depthwise_conv/kernel"),
            vec![
                dim(kernel, "kernel"),
                dim(hidden, "channels"),
                dim(1, "multiplier"),
            ],
        ));
        norm(&mut w, "lconv/conv_norm");
        linear(&mut w, "lconv/linear_end", hidden, hidden);
        norm(&mut w, "norm");
    }
    let mut width = hidden;
    if let Some(p) = proj {
        dense(&mut w, "output_proj", hidden, p, true);
        width = p;
    }
    dense(&mut w, "audio_output_projection", width, out, false);
    let row = Row::new(name, CLASS, vec![None, None, None, Some(out)], w);
    Ok(Encoder { row, mel_bins })
}

/// A two-entry list of positive integers (`sscp_conv_channels`).
fn pair(a: &Args, key: &str, default: [u64; 2]) -> Result<[u64; 2]> {
    let Some(v) = a.config.get(key).filter(|v| !v.is_null()) else {
        return Ok(default);
    };
    two(v, crate::layers::positive_int).ok_or_else(|| bad(a, key, "2 positive integers"))
}

/// A two-entry list of two positive integers each (`sscp_kernel_sizes`).
fn pairs(a: &Args, key: &str, default: [[u64; 2]; 2]) -> Result<[[u64; 2]; 2]> {
    let Some(v) = a.config.get(key).filter(|v| !v.is_null()) else {
        return Ok(default);
    };
    two(v, |x| two(x, crate::layers::positive_int))
        .ok_or_else(|| bad(a, key, "2 pairs of positive integers"))
}

fn two<T>(v: &Value, item: impl Fn(&Value) -> Option<T>) -> Option<[T; 2]> {
    match v.as_array()?.as_slice() {
        [x, y] => Some([item(x)?, item(y)?]),
        _ => None,
    }
}

fn bad(a: &Args, key: &str, what: &str) -> Error {
    Error::invalid(
        a.location,
        format!(
            "{} config key '{key}' must be a list of {what}",
            a.class_name
        ),
    )
}
