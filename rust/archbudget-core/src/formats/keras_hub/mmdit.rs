//! keras-hub's `MMDiT`, the denoiser of Stable Diffusion 3 (the backbone's `diffuser`
//! layer, built from its `mmdit_*` arguments).
//!
//! Computes: the latent cut into `patch × patch` patches (a strided conv) plus learned
//! positions, the text context through a Dense, the pooled CLIP projection and the
//! timestep (256 sinusoidal frequencies) each through a two-Dense SiLU MLP and summed into
//! one conditioning vector; then N joint blocks, each a latent `x_block` and a text
//! `context_block` attending together over both token sets (the last block's context
//! side only gives keys and values), an adaptive LayerNorm and a Dense back to patches.
//! Weights (keras_hub/src/models/stable_diffusion_3/mmdit.py): every Dense is biased; a
//! `DismantledBlock` holds its adaptive norm's Dense (hidden → 6 × hidden, 9 × with dual
//! attention, 2 × in the last context block), a fused `attention_qkv` (hidden → 3 ×
//! hidden), with `qk_norm="rms_norm"` a `q_norm` and `k_norm` scale of one head's width,
//! and (all but the last context block) `attention_proj` and a 4× gelu MLP; a dual
//! attention block (SD3.5's MMDiT-X) adds `attention_qkv2`, its norms and
//! `attention_proj2`.
use super::blocks::{dense, Args};
use crate::error::{Error, Result};
use crate::weight::{dim, Weight};

/// keras-hub's `TimestepEmbedding` frequency width (fixed by the backbone).
const FREQUENCIES: u64 = 256;
/// `mlp_ratio`: the backbone never sets it, so MMDiT's default.
const MLP_RATIO: u64 = 4;

/// The sizes of one MMDiT.
#[derive(Clone, Debug)]
pub struct Mmdit {
    pub patch: u64,
    pub hidden: u64,
    pub layers: u64,
    pub heads: u64,
    pub position_size: u64,
    pub qk_norm: bool,
    pub dual: Vec<u64>,
    /// The latent it denoises: `(height, width, channels)`.
    pub latent: [u64; 3],
    /// Width of the text context (T5's hidden width, or 4096 without T5).
    pub context: u64,
    /// Width of the pooled CLIP projection.
    pub pooled: u64,
}

impl Mmdit {
    pub fn head_dim(&self) -> u64 {
        self.hidden / self.heads
    }

    pub fn mlp_hidden(&self) -> u64 {
        self.hidden * MLP_RATIO
    }

    /// Patches of the latent: the image tokens the blocks see.
    pub fn tokens(&self) -> u64 {
        (self.latent[0] / self.patch) * (self.latent[1] / self.patch)
    }

    pub fn is_dual(&self, i: u64) -> bool {
        self.dual.contains(&i)
    }

    /// Read from the backbone's `mmdit_*` arguments.
    pub fn read(a: &Args, latent: [u64; 3], context: u64, pooled: u64) -> Result<Mmdit> {
        let hidden = a.dim("mmdit_hidden_dim")?;
        let heads = a.dim("mmdit_num_heads")?;
        a.per_head(("mmdit_hidden_dim", hidden), ("mmdit_num_heads", heads))?;
        let qk_norm = match a.config.get("mmdit_qk_norm") {
            None | Some(serde_json::Value::Null) => false,
            Some(v) if v == "rms_norm" => true,
            Some(v) => {
                return Err(Error::invalid(
                    a.location,
                    format!(
                        "{} config key 'mmdit_qk_norm' must be null or \"rms_norm\", got {v}",
                        a.class_name
                    ),
                ))
            }
        };
        let m = Mmdit {
            patch: a.dim("mmdit_patch_size")?,
            hidden,
            layers: a.dim("mmdit_num_layers")?,
            heads,
            position_size: a.dim("mmdit_position_size")?,
            qk_norm,
            dual: a.count_list("mmdit_dual_attention_indices")?,
            latent,
            context,
            pooled,
        };
        let side = |s: u64| s / m.patch;
        if side(latent[0]) == 0 || side(latent[1]) == 0 {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config: the latent ({}×{}, image_shape / 8) must be at least mmdit_patch_size ({}) on each side",
                    a.class_name, latent[0], latent[1], m.patch
                ),
            ));
        }
        if side(latent[0]).max(side(latent[1])) > m.position_size {
            return Err(Error::invalid(
                a.location,
                format!(
                    "{} config: mmdit_position_size ({}) must cover the latent's patches ({}×{}): the position table is cropped to them",
                    a.class_name,
                    m.position_size,
                    side(latent[0]),
                    side(latent[1])
                ),
            ));
        }
        Ok(m)
    }

    /// Every weight of the `diffuser` layer, with paths under its layers' names.
    pub fn weights(&self) -> Vec<Weight> {
        let (h, p, c) = (self.hidden, self.patch, self.latent[2]);
        let mut w = vec![
            Weight::new(
                "patch_embedding/patch_embedding/kernel",
                vec![
                    dim(p, "patch"),
                    dim(p, "patch"),
                    dim(c, "channels"),
                    dim(h, "hidden"),
                ],
            ),
            Weight::new(
                "patch_embedding/patch_embedding/bias",
                vec![dim(h, "hidden")],
            ),
            Weight::new(
                "position_embedding/embeddings",
                vec![
                    dim(self.position_size * self.position_size, "positions"),
                    dim(h, "hidden"),
                ],
            ),
        ];
        dense(&mut w, "context_embedding", self.context, h, true);
        dense(&mut w, "vector_embedding/dense1", self.pooled, h, true);
        dense(&mut w, "vector_embedding/dense2", h, h, true);
        dense(
            &mut w,
            "timestep_embedding/mlp/dense1",
            FREQUENCIES,
            h,
            true,
        );
        dense(&mut w, "timestep_embedding/mlp/dense2", h, h, true);
        for i in 0..self.layers {
            let last = i + 1 == self.layers;
            let block = format!("joint_block_{i}");
            self.dismantled(&mut w, &format!("{block}/x_block"), true, self.is_dual(i));
            self.dismantled(&mut w, &format!("{block}/context_block"), !last, false);
        }
        dense(&mut w, "output_ada_layer_norm/dense", h, 2 * h, true);
        dense(&mut w, "output_dense", h, p * p * c, true);
        w
    }

    /// One `DismantledBlock`; `projection`: it has the post-attention half.
    fn dismantled(&self, w: &mut Vec<Weight>, name: &str, projection: bool, dual: bool) {
        let h = self.hidden;
        let modulations = match (projection, dual) {
            (false, _) => 2,
            (true, false) => 6,
            (true, true) => 9,
        };
        dense(
            w,
            &format!("{name}/ada_layer_norm/dense"),
            h,
            modulations * h,
            true,
        );
        self.attention(w, name, "", projection);
        if projection {
            dense(w, &format!("{name}/mlp/dense1"), h, self.mlp_hidden(), true);
            dense(w, &format!("{name}/mlp/dense2"), self.mlp_hidden(), h, true);
        }
        if dual {
            self.attention(w, name, "2", projection);
        }
    }

    /// The fused q/k/v Dense, its norms, and the output projection (`suffix` "2": the
    /// dual attention's).
    fn attention(&self, w: &mut Vec<Weight>, name: &str, suffix: &str, projection: bool) {
        let h = self.hidden;
        dense(w, &format!("{name}/attention_qkv{suffix}"), h, 3 * h, true);
        if self.qk_norm {
            for norm in ["q_norm", "k_norm"] {
                w.push(Weight::new(
                    format!("{name}/{norm}{suffix}/scale"),
                    vec![dim(self.head_dim(), "head_dim")],
                ));
            }
        }
        if projection {
            dense(w, &format!("{name}/attention_proj{suffix}"), h, h, true);
        }
    }
}
