//! LoRA adapters as peft builds them, and the transformers linears they attach to.
//!
//! peft (`tuners/lora/layer.py`, `Linear.forward`) wraps each targeted `nn.Linear` /
//! GPT-2 `Conv1D` of `in` → `out` features:
//!
//! `result = base_layer(x); x = x.to(lora_A.weight.dtype);
//!  result = result + lora_B(lora_A(dropout(x))) * scaling`
//!
//! with `lora_A` an `nn.Linear(in, r, bias=False)` and `lora_B` an `nn.Linear(r, out,
//! bias=False)`, both trainable, and `dropout` an `nn.Dropout(lora_dropout)` (an
//! `nn.Identity` when it is 0). `get_peft_model` freezes every base parameter
//! (`requires_grad=False`): no gradient, no optimizer state, and the base linears skip
//! their weight-gradient work. Each adapter adds 2·r·(in + out) FLOPs per token to the
//! forward. Which linears: peft's `check_target_module_exists` matches a listed name
//! against the module path's last component (`key == t or key.endswith("." + t)`);
//! `all-linear` (`tuners_utils._maybe_include_all_linear_layers`) takes every
//! `nn.Linear` and `Conv1D` except the output layer (`get_output_embeddings()`).
//!
//! transformers 5's MoE experts are stacked parameters, not linears: peft
//! (`utils/transformers_weight_conversion.py`, `_MOE_TARGET_MODULE_MAPPING`) targets
//! mixtral's router weight (`gate`), the experts' `gate_up_proj` (w1 + w3 fused: rank
//! 2r) and `down_proj` (w2) as `ParamWrapper`s instead; see [`ExpertsLora`].
use super::graph::{DType, Graph, ValueId};
use super::ops::{Add, Cast, Dropout, Linear, LoraLinear, Op, QuantLinear};
use super::quant::Quant;
use super::Result;

/// Every module name a lowered transformers linear can have (the last component of its
/// path), so that a target list is a bit mask; peft ignores names the model lacks.
pub const MODULE_NAMES: [&str; 48] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "qkv_proj",
    "gate_up_proj",
    "c_attn",
    "c_proj",
    "c_fc",
    "query_key_value",
    "dense",
    "dense_h_to_4h",
    "dense_4h_to_h",
    "out_proj",
    "fc1",
    "fc2",
    "project_in",
    "project_out",
    "query",
    "key",
    "value",
    "q_lin",
    "k_lin",
    "v_lin",
    "out_lin",
    "lin1",
    "lin2",
    "vocab_transform",
    "shared_expert_gate",
    "lm_head",
    "decoder",
    "vocab_projector",
    "embed_out",
    "gate",
    "w1",
    "w2",
    "w3",
    "q",
    "k",
    "v",
    "o",
    "wi",
    "wi_0",
    "wi_1",
    "wo",
];

/// A set of module names (bits of [`MODULE_NAMES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModuleSet(u64);

impl ModuleSet {
    /// `q_proj,v_proj`: names as peft's `target_modules` list takes them.
    pub fn parse(list: &str, what: &str) -> Result<Self> {
        let mut bits = 0u64;
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let Some(i) = MODULE_NAMES.iter().position(|m| *m == name) else {
                return Err(crate::Error::invalid(
                    what,
                    format!(
                        "'{name}' is not a linear module of any supported transformers type; give module names such as q_proj, v_proj (known: {})",
                        MODULE_NAMES.join(", ")
                    ),
                ));
            };
            bits |= 1 << i;
        }
        if bits == 0 {
            return Err(crate::Error::invalid(what, "names no module"));
        }
        Ok(ModuleSet(bits))
    }

    pub fn contains(self, name: &str) -> bool {
        MODULE_NAMES
            .iter()
            .position(|m| *m == name)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }
}

/// Which modules get adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoraTargets {
    /// peft's default for the model type (`target_modules=None`:
    /// `TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`, `utils/constants.py`).
    TypeDefault,
    /// peft's `all-linear`: every linear but the output layer (and mixtral's experts
    /// and router, as peft maps them for transformers 5).
    AllLinear,
    Names(ModuleSet),
}

impl LoraTargets {
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "all-linear" => Ok(LoraTargets::AllLinear),
            list => ModuleSet::parse(list, "lora targets").map(LoraTargets::Names),
        }
    }

    pub(crate) fn matches(self, m: Module) -> bool {
        match self {
            LoraTargets::AllLinear => m.kind.in_all_linear(),
            LoraTargets::Names(set) => set.contains(m.name),
            LoraTargets::TypeDefault => false,
        }
    }

    /// [`LoraTargets::TypeDefault`] made the names peft picks for `model_type`.
    fn resolve(self, model_type: &str) -> Result<Self> {
        if self != LoraTargets::TypeDefault {
            return Ok(self);
        }
        let names = match model_type {
            "llama" | "mistral" | "mixtral" | "qwen2" | "gemma" | "gemma2" | "opt" => {
                "q_proj,v_proj"
            }
            "gpt2" => "c_attn",
            "gpt_neox" | "falcon" | "bloom" => "query_key_value",
            "bert" | "roberta" | "xlm-roberta" => "query,value",
            "t5" => "q,v",
            _ => {
                return Err(crate::Error::invalid(
                    "lora targets",
                    format!(
                        "peft has no default target modules for {model_type}: give --lora-targets"
                    ),
                ))
            }
        };
        LoraTargets::parse(names)
    }
}

/// LoRA fine-tuning (`peft.LoraConfig(r, target_modules, lora_dropout)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lora {
    pub rank: u64,
    pub targets: LoraTargets,
    pub dropout: f64,
}

impl Lora {
    /// `targets` None: peft's default for the model type (q_proj, v_proj for llama).
    pub fn new(rank: u64, targets: Option<&str>, dropout: f64) -> Result<Self> {
        if rank == 0 {
            return Err(crate::Error::invalid(
                "lora rank",
                "must be a positive integer",
            ));
        }
        if !(0.0..1.0).contains(&dropout) {
            return Err(crate::Error::invalid(
                "lora dropout",
                format!("{dropout} is not a probability in [0, 1)"),
            ));
        }
        Ok(Lora {
            rank,
            targets: match targets {
                Some(t) => LoraTargets::parse(t)?,
                None => LoraTargets::TypeDefault,
            },
            dropout,
        })
    }
}

/// A linear module of a transformers model: its name (the last component of its path)
/// and what it is to peft's `all-linear` and to the quantizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Module {
    pub name: &'static str,
    pub kind: ModuleKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// An `nn.Linear` (or GPT-2 `Conv1D`).
    Linear,
    /// The output layer (`get_output_embeddings()`): left out of `all-linear`, and kept
    /// unquantized (transformers' `get_keys_to_not_convert`).
    Output,
    /// A transformers 5 MoE router (`MixtralTopKRouter`, `Qwen2MoeTopKRouter`): a weight,
    /// not an `nn.Linear`, so never quantized; `all-linear` reaches it only where peft
    /// maps it (mixtral's `gate.weight`).
    Router { in_all_linear: bool },
}

impl ModuleKind {
    fn in_all_linear(self) -> bool {
        match self {
            ModuleKind::Linear => true,
            ModuleKind::Output => false,
            ModuleKind::Router { in_all_linear } => in_all_linear,
        }
    }
}

impl Module {
    pub const fn linear(name: &'static str) -> Self {
        Module {
            name,
            kind: ModuleKind::Linear,
        }
    }
    pub const fn output(name: &'static str) -> Self {
        Module {
            name,
            kind: ModuleKind::Output,
        }
    }
}

/// Pushes a model's linears: each quantized (stored as `quant` says) or not, each with
/// its LoRA adapter when targeted, and freezes the base model when LoRA is on.
pub struct Linears {
    lora: Option<Lora>,
    /// dtype of the base linears' outputs, which the adapted result is cast back to.
    result_dtype: DType,
    quant: Option<Quant>,
    /// Node indices of the adapters' ops (trainable; everything else is frozen).
    adapter_nodes: Vec<usize>,
}

impl Linears {
    /// Fails where LoRA takes peft's default targets and peft has none for `model_type`.
    pub fn new(
        model_type: &str,
        lora: Option<Lora>,
        quant: Option<Quant>,
        result_dtype: DType,
    ) -> Result<Self> {
        let lora = match lora {
            Some(l) => Some(Lora {
                targets: l.targets.resolve(model_type)?,
                ..l
            }),
            None => None,
        };
        Ok(Linears {
            lora,
            result_dtype,
            quant,
            adapter_nodes: Vec::new(),
        })
    }

    pub fn lora(&self) -> Option<Lora> {
        self.lora
    }

    pub fn quant(&self) -> Option<Quant> {
        self.quant
    }

    /// `module` (`lin`) applied to `x`, with its adapter if targeted.
    pub fn push(
        &mut self,
        g: &mut Graph,
        module: Module,
        lin: Linear,
        x: ValueId,
    ) -> Result<ValueId> {
        self.push_part(g, module, lin, x, None)
    }

    /// One piece of a fused module that the lowering splits (phi3's `gate_up_proj` as
    /// its gate and up halves): `fused_out` is the whole module's output width. The
    /// adapter's A (r × in) is declared by the first piece and shared by the others
    /// (each piece computes `A·x` again: r-wide, small), each piece has its rows of B.
    pub fn push_part(
        &mut self,
        g: &mut Graph,
        module: Module,
        lin: Linear,
        x: ValueId,
        part: Option<bool>,
    ) -> Result<ValueId> {
        let y = match self.quant.filter(|q| q.converts(module)) {
            Some(quant) => g.push(
                Op::QuantLinear(QuantLinear {
                    linear: lin.clone(),
                    quant,
                }),
                &[x],
            ),
            None => g.push(Op::Linear(lin.clone()), &[x]),
        };
        let Some(lora) = self.lora.filter(|l| l.targets.matches(module)) else {
            return Ok(y);
        };
        let first = g.nodes.len();
        let rows = lin.rows;
        // `x.to(lora_A.weight.dtype)`: adapters are fp32 ([`LoraLinear`]), so a bf16
        // activation is copied
        let x = g.push(Op::Cast(Cast { to: DType::F32 }), &[x]);
        let x = g.push(Op::Dropout(Dropout { p: lora.dropout }), &[x]);
        let a = g.push(
            Op::LoraLinear(LoraLinear(Linear {
                rows,
                in_features: lin.in_features,
                out_features: lora.rank,
                bias: false,
                tied_weight: part == Some(false),
            })),
            &[x],
        );
        let b = g.push(
            Op::LoraLinear(LoraLinear(Linear {
                rows,
                in_features: lora.rank,
                out_features: lin.out_features,
                bias: false,
                tied_weight: false,
            })),
            &[a],
        );
        // `* scaling`: a scalar multiply, a new tensor, nothing saved
        let scaled = g.push(Op::Add(Add), &[b]);
        let sum = g.push(Op::Add(Add), &[y, scaled]);
        // `result.to(torch_result_dtype)`: an fp32 sum back to a bf16 model's dtype
        let out = g.push(
            Op::Cast(Cast {
                to: self.result_dtype,
            }),
            &[sum],
        );
        self.adapter_nodes.extend(first..g.nodes.len());
        Ok(out)
    }

    /// Whether LoRA adapts the stacked experts' (`gate_up_proj`, `down_proj`): peft maps
    /// mixtral's w1 + w3 (both needed: they are fused; rank 2r) and w2, and `all-linear`
    /// to all of them (`transformers_weight_conversion._MOE_TARGET_MODULE_MAPPING`).
    pub fn experts_targets(&self, model_type: &str) -> Result<(bool, bool)> {
        Ok(match self.lora.map(|l| l.targets) {
            Some(_) if model_type != "mixtral" => (false, false),
            Some(LoraTargets::AllLinear) => (true, true),
            Some(LoraTargets::Names(set)) => {
                let (w1, w3) = (set.contains("w1"), set.contains("w3"));
                if w1 != w3 {
                    return Err(crate::Error::invalid(
                        "lora targets",
                        "mixtral fuses w1 and w3 into the experts' gate_up_proj: target both or neither",
                    ));
                }
                (w1, set.contains("w2"))
            }
            // resolved to names by `Linears::new`; peft's defaults never name experts
            Some(LoraTargets::TypeDefault) | None => (false, false),
        })
    }

    /// Mark `nodes` as an adapter's (trainable) ops.
    pub fn adapter(&mut self, nodes: std::ops::Range<usize>) {
        self.adapter_nodes.extend(nodes);
    }

    /// With LoRA on, freeze every node but the adapters' (`get_peft_model`); fails when
    /// no module was targeted, as peft does ("Target modules ... not found in the base
    /// model").
    pub fn finish(self, g: &mut Graph, model_type: &str) -> Result<()> {
        if self.lora.is_none() {
            return Ok(());
        }
        if self.adapter_nodes.is_empty() {
            return Err(crate::Error::invalid(
                "lora targets",
                format!("none of the target modules is a linear of this {model_type} model"),
            ));
        }
        let mut adapter = vec![false; g.nodes.len()];
        for &k in &self.adapter_nodes {
            adapter[k] = true;
        }
        g.frozen.extend((0..g.nodes.len()).filter(|&k| !adapter[k]));
        Ok(())
    }
}
