//! Quantized linear weights: what each format stores on the GPU for one `nn.Linear`
//! weight of `out` × `in` (N × K, n = N·K elements), and which linears a quantizer
//! converts. Every stored tensor is allocated on its own (charged at its allocator
//! block); the count of parameters stays the logical one (transformers'
//! `num_parameters()`, which counts a packed 4-bit weight as its n elements).
//!
//! - `int8`: bitsandbytes LLM.int8 (`Linear8bitLt`, `Int8Params._quantize` →
//!   `functional.int8_vectorwise_quant`): `CB` int8 N × K and `SCB` fp32 per row (N).
//! - `nf4` / `fp4`: bitsandbytes `Linear4bit` (`Params4bit`, `functional.quantize_4bit`):
//!   the packed weight, uint8 of ⌈n/2⌉ (two 4-bit codes a byte), and its `QuantState`:
//!   `absmax` per block of 64 (fp32, ⌈n/64⌉), `code` (the 16-value table,
//!   `get_4bit_type`, a new fp32 tensor per weight). With double quantization
//!   (`bnb_4bit_use_double_quant`, `compress_statistics`): `absmax` becomes uint8
//!   (`quantize_blockwise(absmax - offset, blocksize=256)`), plus `offset` (one fp32,
//!   `absmax.mean()`), `state2.absmax` (fp32 per 256 absmax values) and `state2.code`
//!   (the 256-value fp32 dynamic map, cached in `name2qmap` but copied into each
//!   QuantState: `code.to(A.device, copy=True)`).
//! - `int4`: GPTQ 4-bit (auto-gptq `qlinear_cuda_old.QuantLinear`): `qweight` int32
//!   (K/32·4) × N, `qzeros` int32 ⌈K/g⌉ × (N/32·4), `scales` fp16 ⌈K/g⌉ × N, `g_idx`
//!   int32 K; group size g (128 by default, `group_size` of `quantization_config`).
//!   AWQ (AutoAWQ `WQLinear_GEMM`): `qweight` int32 K × N/8, `qzeros` int32 K/g × N/8,
//!   `scales` fp16 K/g × N.
//! - `fp8`: DeepSeek-V3's block-wise FP8 (transformers `integrations/finegrained_fp8.py`,
//!   `FP8Linear`): `weight` float8_e4m3fn N × K and `weight_scale_inv` fp32
//!   ⌈N/bn⌉ × ⌈K/bk⌉ for `weight_block_size` [bn, bk] ([128, 128]).
//!
//! - `mxfp4`: gpt-oss's experts (transformers `integrations/mxfp4.py`,
//!   `Mxfp4GptOssExperts`, run by the triton kernels' `matmul_ogs`): per stacked
//!   projection of n weights, the packed FP4 values, uint8 of n/2, and one E8M0 scale,
//!   uint8, per 32 weights; the biases stay fp32 parameters. Hopper's swizzled layout
//!   (`swizzle_mxfp4`) keeps these byte counts for the sizes gpt-oss uses. Only the
//!   experts are converted (`replace_with_mxfp4_linear` swaps `GptOssMLP`); every
//!   `nn.Linear` stays in the model's dtype.
//!
//! Which linears: transformers replaces `nn.Linear` (and GPT-2's `Conv1D`) modules except
//! `modules_to_not_convert`, which defaults to `get_keys_to_not_convert`
//! (`quantizers/base.py`: the output embedding, tied weights and the module of the last
//! parameter) plus `llm_int8_skip_modules` / the config's `modules_to_not_convert`.
//! Embeddings, norms, MoE routers and stacked experts are no `nn.Linear` and stay as
//! they are.
use super::lora::{Module, ModuleKind, ModuleSet};
use super::{mul, Result};

/// A quantized storage format and its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quant {
    pub format: QuantFormat,
    /// Linears left unquantized besides the default ones (`modules_to_not_convert`).
    pub skip: ModuleSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantFormat {
    Int8,
    FourBit { nf4: bool, double_quant: bool },
    Gptq { group: u64 },
    Awq { group: u64 },
    Fp8 { block: (u64, u64) },
    Mxfp4,
}

impl Quant {
    fn of(format: QuantFormat) -> Self {
        Quant {
            format,
            skip: ModuleSet::default(),
        }
    }

    /// `--quantize`: `nf4` is QLoRA's storage (NF4 with double quantization), `fp4`
    /// bitsandbytes' default 4-bit config (no double quantization), `int4` GPTQ with
    /// groups of 128, `fp8` DeepSeek-V3's 128 × 128 blocks.
    pub fn parse(s: &str) -> Result<Self> {
        let format = match s {
            "int8" => QuantFormat::Int8,
            "nf4" => QuantFormat::FourBit {
                nf4: true,
                double_quant: true,
            },
            "fp4" => QuantFormat::FourBit {
                nf4: false,
                double_quant: false,
            },
            "int4" => QuantFormat::Gptq { group: 128 },
            "fp8" => QuantFormat::Fp8 { block: (128, 128) },
            "mxfp4" => QuantFormat::Mxfp4,
            _ => {
                return Err(crate::Error::invalid(
                    "quantize",
                    format!("'{s}' is not one of int8, nf4, fp4, int4, fp8, mxfp4"),
                ))
            }
        };
        Ok(Quant::of(format))
    }

    /// A config.json's `quantization_config`, if any.
    pub fn from_config(cfg: &serde_json::Value) -> Result<Option<Self>> {
        let Some(q) = cfg.get("quantization_config") else {
            return Ok(None);
        };
        let at = "quantization_config";
        let text = |k: &str| q.get(k).and_then(|v| v.as_str());
        let flag = |k: &str| q.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
        let int = |k: &str, d: u64| -> Result<u64> {
            match q.get(k) {
                None | Some(serde_json::Value::Null) => Ok(d),
                Some(v) => v.as_u64().filter(|&x| x > 0).ok_or_else(|| {
                    crate::Error::invalid(at, format!("'{k}' must be a positive integer, got {v}"))
                }),
            }
        };
        let method = text("quant_method").unwrap_or("");
        let format = match method {
            "bitsandbytes" if flag("load_in_4bit") => QuantFormat::FourBit {
                nf4: text("bnb_4bit_quant_type") == Some("nf4"),
                double_quant: flag("bnb_4bit_use_double_quant"),
            },
            "bitsandbytes" if flag("load_in_8bit") => QuantFormat::Int8,
            "bitsandbytes" => {
                return Err(crate::Error::invalid(
                    at,
                    "bitsandbytes with neither load_in_4bit nor load_in_8bit set",
                ))
            }
            "gptq" | "awq" => {
                let bits = int("bits", 4)?;
                if bits != 4 {
                    return Err(crate::Error::invalid(
                        at,
                        format!("{bits}-bit {method} is not modelled (4-bit only)"),
                    ));
                }
                let group = match q.get("group_size").and_then(|v| v.as_i64()) {
                    Some(-1) => {
                        return Err(crate::Error::invalid(
                            at,
                            "group_size -1 (one group per column) is not modelled",
                        ))
                    }
                    _ => int("group_size", 128)?,
                };
                if method == "gptq" {
                    QuantFormat::Gptq { group }
                } else {
                    QuantFormat::Awq { group }
                }
            }
            "fp8" => {
                let block =
                    match q.get("weight_block_size").and_then(|v| v.as_array()) {
                        Some(b) if b.len() == 2 => match (b[0].as_u64(), b[1].as_u64()) {
                            (Some(n), Some(k)) if n > 0 && k > 0 => (n, k),
                            _ => {
                                return Err(crate::Error::invalid(
                                    at,
                                    "'weight_block_size' must be two positive integers",
                                ))
                            }
                        },
                        None => return Err(crate::Error::invalid(
                            at,
                            "fp8 without 'weight_block_size' (per-tensor scales) is not modelled",
                        )),
                        _ => {
                            return Err(crate::Error::invalid(
                                at,
                                "'weight_block_size' must be two positive integers",
                            ))
                        }
                    };
                QuantFormat::Fp8 { block }
            }
            // `Mxfp4Config(dequantize=True)` loads the experts in bf16
            "mxfp4" if flag("dequantize") => return Ok(None),
            "mxfp4" => QuantFormat::Mxfp4,
            other => {
                return Err(crate::Error::invalid(
                    at,
                    format!(
                        "quant_method '{other}' is not one of bitsandbytes, gptq, awq, fp8, mxfp4"
                    ),
                ))
            }
        };
        let names: Vec<&str> = ["modules_to_not_convert", "llm_int8_skip_modules"]
            .iter()
            .filter_map(|k| q.get(*k).and_then(|v| v.as_array()))
            .flatten()
            .filter_map(|v| v.as_str())
            // a path's last component is the module name peft and transformers match
            .map(|p| p.rsplit('.').next().unwrap_or(p))
            .filter(|n| super::lora::MODULE_NAMES.contains(n))
            .collect();
        let skip = if names.is_empty() {
            ModuleSet::default()
        } else {
            ModuleSet::parse(&names.join(","), at)?
        };
        Ok(Some(Quant { format, skip }))
    }

    /// Whether the quantizer replaces `module`.
    pub fn converts(&self, module: Module) -> bool {
        module.kind == ModuleKind::Linear
            && self.format != QuantFormat::Mxfp4
            && !self.skip.contains(module.name)
    }

    /// Whether the quantizer replaces the stacked MoE experts (MXFP4 alone does).
    pub fn converts_experts(&self) -> bool {
        self.format == QuantFormat::Mxfp4
    }

    /// Bytes of each tensor stored for one `out` × `in` weight (0: none).
    pub fn weight_tensors(&self, out: u64, inp: u64) -> Result<[u64; 6]> {
        let n = mul(out, inp)?;
        Ok(match self.format {
            QuantFormat::Int8 => [n, mul(out, 4)?, 0, 0, 0, 0],
            QuantFormat::FourBit { double_quant, .. } => {
                let blocks = n.div_ceil(64);
                let code = 16 * 4;
                if double_quant {
                    let dynamic_map = 256 * 4;
                    [
                        n.div_ceil(2),
                        blocks,
                        code,
                        4,
                        mul(blocks.div_ceil(256), 4)?,
                        dynamic_map,
                    ]
                } else {
                    [n.div_ceil(2), mul(blocks, 4)?, code, 0, 0, 0]
                }
            }
            QuantFormat::Gptq { group } => {
                let groups = inp.div_ceil(group);
                let packed_rows = inp / 32 * 4;
                let zero_cols = out / 32 * 4;
                [
                    mul(mul(packed_rows, out)?, 4)?,
                    mul(mul(groups, zero_cols)?, 4)?,
                    mul(mul(groups, out)?, 2)?,
                    mul(inp, 4)?,
                    0,
                    0,
                ]
            }
            QuantFormat::Awq { group } => {
                let groups = inp / group;
                [
                    mul(mul(inp, out / 8)?, 4)?,
                    mul(mul(groups, out / 8)?, 4)?,
                    mul(mul(groups, out)?, 2)?,
                    0,
                    0,
                    0,
                ]
            }
            QuantFormat::Mxfp4 => [n / 2, n / 32, 0, 0, 0, 0],
            QuantFormat::Fp8 { block: (bn, bk) } => [
                n,
                mul(mul(out.div_ceil(bn), inp.div_ceil(bk))?, 4)?,
                0,
                0,
                0,
                0,
            ],
        })
    }
}
