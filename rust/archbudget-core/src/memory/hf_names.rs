//! The module names transformers gives each linear of a model type (the last component
//! of the module path: `model.layers.0.self_attn.q_proj` → `q_proj`), which peft's
//! `target_modules` and the quantizers' `modules_to_not_convert` match.
use super::lora::{Module, ModuleKind};

#[derive(Debug, Clone, Copy)]
pub struct HfNames {
    pub q: &'static str,
    pub k: &'static str,
    pub v: &'static str,
    /// The fused q/k/v projection (gpt2 `c_attn`, phi3 `qkv_proj`, gpt_neox and falcon
    /// `query_key_value`).
    pub qkv: &'static str,
    pub o: &'static str,
    pub gate: &'static str,
    pub up: &'static str,
    /// phi3 fuses gate and up into one `gate_up_proj` (which the lowering splits).
    pub fused_gate_up: bool,
    pub down: &'static str,
    /// The LM head (`get_output_embeddings()`).
    pub lm_head: &'static str,
    /// The dense transform of a BERT-style LM head, and the pooler's dense.
    pub head_dense: &'static str,
}

const LLAMA: HfNames = HfNames {
    q: "q_proj",
    k: "k_proj",
    v: "v_proj",
    qkv: "qkv_proj",
    o: "o_proj",
    gate: "gate_proj",
    up: "up_proj",
    fused_gate_up: false,
    down: "down_proj",
    lm_head: "lm_head",
    head_dense: "dense",
};

impl HfNames {
    pub fn of(model_type: &str) -> HfNames {
        match model_type {
            "phi3" | "glm" | "glm4" => HfNames {
                up: "gate_up_proj",
                gate: "gate_up_proj",
                fused_gate_up: true,
                ..LLAMA
            },
            // `Conv1D` modules, which peft adapts like linears (`fan_in_fan_out`)
            "gpt2" => HfNames {
                qkv: "c_attn",
                o: "c_proj",
                up: "c_fc",
                down: "c_proj",
                ..LLAMA
            },
            "gpt_neox" | "falcon" | "bloom" => HfNames {
                qkv: "query_key_value",
                o: "dense",
                up: "dense_h_to_4h",
                down: "dense_4h_to_h",
                lm_head: if model_type == "gpt_neox" {
                    "embed_out"
                } else {
                    "lm_head"
                },
                ..LLAMA
            },
            "opt" => HfNames {
                o: "out_proj",
                up: "fc1",
                down: "fc2",
                ..LLAMA
            },
            "bert" | "roberta" | "xlm-roberta" | "camembert" | "data2vec-text" | "vit" | "deit" => {
                HfNames {
                    q: "query",
                    k: "key",
                    v: "value",
                    o: "dense",
                    up: "dense",
                    down: "dense",
                    lm_head: "decoder",
                    ..LLAMA
                }
            }
            "distilbert" => HfNames {
                q: "q_lin",
                k: "k_lin",
                v: "v_lin",
                o: "out_lin",
                up: "lin1",
                down: "lin2",
                lm_head: "vocab_projector",
                head_dense: "vocab_transform",
                ..LLAMA
            },
            _ => LLAMA,
        }
    }

    pub fn lm_head(&self) -> Module {
        Module::output(self.lm_head)
    }

    /// The MoE router of mixtral / qwen2_moe (`gate`): peft's `all-linear` maps it
    /// (`gate.weight`) for mixtral only.
    pub fn router(model_type: &str) -> Module {
        Module {
            name: "gate",
            kind: ModuleKind::Router {
                in_all_linear: model_type == "mixtral",
            },
        }
    }
}
