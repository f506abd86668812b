//! The weights of D-FINE's composite layers (`DFineHybridEncoder`, `DFineDecoder` and
//! their blocks), with the paths keras-hub gives them.
use super::super::blocks::{dense, layer_norm};
use super::config::Config;
use crate::weight::{dim, Weight};

/// `DFineDecoder`'s fixed `max_num_bins` (its box heads predict `4 * (bins + 1)`).
pub(crate) const MAX_NUM_BINS: u64 = 32;
/// `DFineLQE`'s fixed `top_prob_values` (its MLP reads `4 * (top + 1)` features).
pub(crate) const TOP_PROB_VALUES: u64 = 4;

/// A `DFineConvNormLayer` (or a bare Conv2D + BatchNormalization pair under `name`):
/// a bias-free `k`x`k` convolution (`groups` groups) and a BatchNorm.
fn conv_norm(w: &mut Vec<Weight>, name: &str, c_in: u64, c_out: u64, k: u64, groups: u64) {
    w.push(Weight::new(
        format!("{name}/convolution/kernel"),
        vec![
            dim(k, "kernel"),
            dim(k, "kernel"),
            dim(c_in / groups, "in/groups"),
            dim(c_out, "filters"),
        ],
    ));
    batch_norm(w, &format!("{name}/normalization"), c_out);
}

/// `keras.layers.BatchNormalization` (`name` empty: the layer itself): gamma and beta,
/// and the frozen moving statistics.
pub(super) fn batch_norm(w: &mut Vec<Weight>, name: &str, c: u64) {
    for (leaf, trainable) in [
        ("gamma", true),
        ("beta", true),
        ("moving_mean", false),
        ("moving_variance", false),
    ] {
        let path = match name {
            "" => leaf.to_string(),
            _ => format!("{name}/{leaf}"),
        };
        let weight = Weight::new(path, vec![dim(c, "channels")]);
        w.push(if trainable { weight } else { weight.frozen() });
    }
}

/// `DFineCSPRepLayer`: two 1x1 ConvNorms into `c` channels and `blocks` RepVGG blocks
/// (a 3x3 and a 1x1 ConvNorm each); its `conv3` is an identity (expansion 1).
fn csp_rep(w: &mut Vec<Weight>, name: &str, c_in: u64, c: u64, blocks: u64) {
    conv_norm(w, &format!("{name}/conv1"), c_in, c, 1, 1);
    conv_norm(w, &format!("{name}/conv2"), c_in, c, 1, 1);
    for i in 0..blocks {
        conv_norm(w, &format!("{name}/bottleneck_{i}/conv1"), c, c, 3, 1);
        conv_norm(w, &format!("{name}/bottleneck_{i}/conv2"), c, c, 1, 1);
    }
}

/// `DFineFeatureAggregationBlock` on the concatenation of two `e`-wide maps.
fn aggregation_block(w: &mut Vec<Weight>, name: &str, e: u64, expansion: f64, blocks: u64) {
    let c4 = aggregation_width(e, expansion);
    conv_norm(w, &format!("{name}/conv1"), 2 * e, 2 * e, 1, 1);
    csp_rep(w, &format!("{name}/csp_rep1"), e, c4, blocks);
    conv_norm(w, &format!("{name}/conv2"), c4, c4, 3, 1);
    csp_rep(w, &format!("{name}/csp_rep2"), c4, c4, blocks);
    conv_norm(w, &format!("{name}/conv3"), c4, c4, 3, 1);
    conv_norm(w, &format!("{name}/conv4"), 2 * e + 2 * c4, e, 1, 1);
}

/// The width of a `DFineFeatureAggregationBlock`'s branches:
/// `int(hidden_expansion * encoder_hidden_dim / 2)`, truncated as Python's int().
pub(crate) fn aggregation_width(e: u64, expansion: f64) -> u64 {
    (expansion * e as f64 / 2.0) as u64
}

/// RepVGG blocks per CSP layer: `round(3 * depth_multiplier)`, half to even as Python's.
pub(crate) fn csp_blocks(c: &Config) -> u64 {
    round_half_even(3.0 * c.depth_multiplier)
}

/// `DFineMultiheadAttention`: biased q, k, v and output projections of `width`.
fn attention(w: &mut Vec<Weight>, name: &str, width: u64) {
    for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
        dense(w, &format!("{name}/{proj}"), width, width, true);
    }
}

/// The `DFineHybridEncoder`'s weights.
pub(super) fn hybrid_encoder(c: &Config) -> Vec<Weight> {
    let e = c.encoder_hidden;
    let mut w = Vec::new();
    for i in 0..c.encode_proj_layers.len() {
        for j in 0..c.encoder_layers {
            let layer = format!("d_fine_encoder_{i}/layers_{j}");
            attention(&mut w, &format!("{layer}/self_attn"), e);
            layer_norm(&mut w, &format!("{layer}/self_attn_layer_norm"), e);
            dense(&mut w, &format!("{layer}/fc1"), e, c.encoder_ffn, true);
            dense(&mut w, &format!("{layer}/fc2"), c.encoder_ffn, e, true);
            layer_norm(&mut w, &format!("{layer}/final_layer_norm"), e);
        }
    }
    let blocks = csp_blocks(c);
    for i in (1..c.levels).rev() {
        conv_norm(&mut w, &format!("lateral_conv_{i}"), e, e, 1, 1);
        aggregation_block(
            &mut w,
            &format!("fpn_block_{i}"),
            e,
            c.hidden_expansion,
            blocks,
        );
    }
    for i in 0..c.levels - 1 {
        let name = format!("downsample_conv_{i}");
        conv_norm(&mut w, &format!("{name}/conv1"), e, e, 1, 1);
        conv_norm(&mut w, &format!("{name}/conv2"), e, e, 3, e);
        aggregation_block(
            &mut w,
            &format!("pan_block_{i}"),
            e,
            c.hidden_expansion,
            blocks,
        );
    }
    w
}

fn round_half_even(x: f64) -> u64 {
    let floor = x.floor();
    let frac = x - floor;
    let up = frac > 0.5 || (frac == 0.5 && floor as u64 % 2 == 1);
    floor as u64 + u64::from(up)
}

/// `DFineMLPPredictionHead` / `DFineMLP`: `layers` Dense layers `input → hidden … → out`.
pub(super) fn mlp(
    w: &mut Vec<Weight>,
    name: &str,
    layer: &str,
    dims: (u64, u64, u64),
    layers: u64,
) {
    let (input, hidden, out) = dims;
    for i in 0..layers {
        let d_in = if i == 0 { input } else { hidden };
        let d_out = if i + 1 == layers { out } else { hidden };
        let path = match name {
            "" => format!("{layer}_{i}"),
            _ => format!("{name}/{layer}_{i}"),
        };
        dense(w, &path, d_in, d_out, true);
    }
}

/// The `DFineDecoder`'s weights.
pub(super) fn decoder(c: &Config) -> Vec<Weight> {
    let h = c.hidden;
    let points: u64 = c.points.iter().sum();
    let heads = c.decoder_heads;
    let mut w = Vec::new();
    for i in 0..c.decoder_layers {
        let layer = format!("decoder_layer_{i}");
        attention(&mut w, &format!("{layer}/self_attn"), h);
        layer_norm(&mut w, &format!("{layer}/self_attn_layer_norm"), h);
        let cross = format!("{layer}/encoder_attn");
        w.push(Weight::new(
            format!("{cross}/sampling_offsets/kernel"),
            vec![
                dim(h, "hidden"),
                dim(heads, "heads"),
                dim(points, "points"),
                dim(2, "xy"),
            ],
        ));
        w.push(Weight::new(
            format!("{cross}/sampling_offsets/bias"),
            vec![dim(heads, "heads"), dim(points, "points"), dim(2, "xy")],
        ));
        w.push(Weight::new(
            format!("{cross}/attention_weights/kernel"),
            vec![dim(h, "hidden"), dim(heads, "heads"), dim(points, "points")],
        ));
        w.push(Weight::new(
            format!("{cross}/attention_weights/bias"),
            vec![dim(heads, "heads"), dim(points, "points")],
        ));
        w.push(
            Weight::new(
                format!("{cross}/num_points_scale"),
                vec![dim(points, "points")],
            )
            .frozen(),
        );
        dense(&mut w, &format!("{layer}/fc1"), h, c.decoder_ffn, true);
        dense(&mut w, &format!("{layer}/fc2"), c.decoder_ffn, h, true);
        layer_norm(&mut w, &format!("{layer}/final_layer_norm"), h);
        dense(&mut w, &format!("{layer}/gateway/gate"), 2 * h, 2 * h, true);
        layer_norm(&mut w, &format!("{layer}/gateway/norm"), h);
    }
    mlp(&mut w, "query_pos_head", "linear", (4, 2 * h, h), 2);
    for i in 0..c.decoder_layers {
        dense(&mut w, &format!("class_embed_{i}"), h, c.labels, true);
    }
    // layer_scale is 1: the heads after eval_idx are as wide as those before it
    for i in 0..c.decoder_layers {
        mlp(
            &mut w,
            &format!("bbox_embed_{i}"),
            "linear",
            (h, h, 4 * (MAX_NUM_BINS + 1)),
            3,
        );
    }
    mlp(&mut w, "pre_bbox_head", "mlp_dense_layer", (h, h, 4), 3);
    for i in 0..c.decoder_layers {
        mlp(
            &mut w,
            &format!("lqe_layer_{i}/reg_conf"),
            "mlp_dense_layer",
            (4 * (TOP_PROB_VALUES + 1), c.lqe_hidden, 1),
            c.lqe_layers,
        );
    }
    for scalar in ["reg_scale", "upsampling_factor"] {
        w.push(Weight::new(scalar, vec![dim(1, "1")]).frozen());
    }
    w
}
