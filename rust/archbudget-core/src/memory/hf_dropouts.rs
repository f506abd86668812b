//! The dropout probabilities a transformers config runs with: which keys each model type
//! reads, and transformers' defaults where a key is left out.

/// Dropout probabilities of a config, with transformers' defaults per model type.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Dropouts {
    /// After the embeddings.
    pub embed: f64,
    /// On the attention probabilities.
    pub attn: f64,
    /// After the attention output projection and after the MLP.
    pub resid: f64,
    /// On the MLP's inner activation (t5's `dropout_rate`, bart's `activation_dropout`);
    /// read by the encoder-decoder lowering only.
    pub activation: f64,
}

impl Dropouts {
    pub fn from_config(cfg: &serde_json::Value) -> Self {
        let f = |k: &str, d: f64| cfg.get(k).and_then(|v| v.as_f64()).unwrap_or(d);
        if let Some(text) = crate::formats::hf::wrapped_text_config(cfg) {
            return Dropouts::from_config(&text);
        }
        let model_type = cfg.get("model_type").and_then(|v| v.as_str()).unwrap_or("");
        if let Some(spec) = crate::formats::hf::type_spec(model_type) {
            return super::hf_decoder::dropouts(spec, cfg);
        }
        match model_type {
            "gpt2" => Dropouts {
                embed: f("embd_pdrop", 0.1),
                attn: f("attn_pdrop", 0.1),
                resid: f("resid_pdrop", 0.1),
                ..Dropouts::default()
            },
            "segformer" => Dropouts {
                attn: f("attention_probs_dropout_prob", 0.0),
                resid: f("hidden_dropout_prob", 0.0),
                ..Dropouts::default()
            },
            "dinov3_vit" | "gemma3n_text" | "gemma4_text" => Dropouts {
                attn: f("attention_dropout", 0.0),
                ..Dropouts::default()
            },
            "vit" | "deit" | "dinov2" | "dinov2_with_registers" | "swin" => Dropouts {
                embed: f("hidden_dropout_prob", 0.0),
                attn: f("attention_probs_dropout_prob", 0.0),
                resid: f("hidden_dropout_prob", 0.0),
                ..Dropouts::default()
            },
            "bert" | "roberta" | "xlm-roberta" | "camembert" | "data2vec-text" | "electra"
            | "deberta-v2" => {
                let h = f("hidden_dropout_prob", 0.1);
                Dropouts {
                    embed: h,
                    attn: f("attention_probs_dropout_prob", 0.1),
                    resid: h,
                    ..Dropouts::default()
                }
            }
            // albert's defaults are 0; fnet has no attention
            "albert" => Dropouts {
                embed: f("hidden_dropout_prob", 0.0),
                attn: f("attention_probs_dropout_prob", 0.0),
                resid: f("hidden_dropout_prob", 0.0),
                ..Dropouts::default()
            },
            "fnet" => Dropouts {
                embed: f("hidden_dropout_prob", 0.1),
                attn: 0.0,
                resid: f("hidden_dropout_prob", 0.1),
                ..Dropouts::default()
            },
            "gpt_neox" => Dropouts {
                embed: 0.0,
                attn: f("attention_dropout", 0.0),
                resid: f("hidden_dropout", 0.0),
                ..Dropouts::default()
            },
            // The rotary path passes `dropout_p=0.0` to SDPA and its eager path drops
            // nothing; with ALiBi both apply `attention_dropout` (default 0).
            // `hidden_dropout` (default 0) is not charged.
            "falcon" => Dropouts {
                attn: match cfg.get("alibi").and_then(|v| v.as_bool()) {
                    Some(true) => f("attention_dropout", 0.0),
                    _ => 0.0,
                },
                ..Dropouts::default()
            },
            // transformers' moonshine drops only attention probabilities; `dropout` after
            // the audio stem and the token embedding is keras-hub's (its twin's config
            // carries it; transformers ignores the key)
            "moonshine" => Dropouts {
                embed: f("dropout", 0.0),
                attn: f("attention_dropout", 0.0),
                ..Dropouts::default()
            },
            // `dropout_add` after the attention's `dense` and after the MLP
            "bloom" => Dropouts {
                attn: f("attention_dropout", 0.0),
                resid: f("hidden_dropout", 0.0),
                ..Dropouts::default()
            },
            // one `dropout_rate` everywhere (embeddings, attention probabilities, each
            // sub-layer's output, the feed-forward's inner activation, after each stack)
            "t5" => {
                let p = f("dropout_rate", 0.1);
                Dropouts {
                    embed: p,
                    attn: p,
                    resid: p,
                    activation: p,
                }
            }
            // `dropout_rate` (default 0) after the embeddings, each sub-layer, the MLP's
            // inner activation and each stack
            "t5gemma" => {
                let p = f("dropout_rate", 0.0);
                Dropouts {
                    embed: p,
                    attn: f("attention_dropout", 0.0),
                    resid: p,
                    activation: p,
                }
            }
            "bart" => Dropouts {
                embed: f("dropout", 0.1),
                attn: f("attention_dropout", 0.0),
                resid: f("dropout", 0.1),
                activation: f("activation_dropout", 0.0),
            },
            // one `dropout` after the embeddings and each sub-layer (default 0)
            "whisper" => Dropouts {
                embed: f("dropout", 0.0),
                attn: f("attention_dropout", 0.0),
                resid: f("dropout", 0.0),
                activation: f("activation_dropout", 0.0),
            },
            "opt" => Dropouts {
                embed: f("dropout", 0.1),
                attn: f("attention_dropout", 0.0),
                resid: f("dropout", 0.1),
                ..Dropouts::default()
            },
            _ => Dropouts {
                embed: 0.0,
                attn: f("attention_dropout", 0.0),
                resid: 0.0,
                ..Dropouts::default()
            },
        }
    }
}
