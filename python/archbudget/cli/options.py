"""Options shared by several commands, declared once."""
from enum import Enum
from typing import Annotated, Optional

import typer


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


class HeadChoice(str, Enum):
    base = "base"
    causal_lm = "causal_lm"


Model = Annotated[
    str,
    typer.Argument(help="Keras JSON, .keras archive or transformers config.json; '-' reads standard input.", show_default=False),
]
CustomLayers = Annotated[
    Optional[str],
    typer.Option("--custom-layers", help="TOML declaring custom Keras layers' weights and output shapes (for a JSON without its .keras archive).", show_default=False),
]
Format = Annotated[OutputFormat, typer.Option("--format", help="table for people, json for programs (to stdout).")]
Head = Annotated[
    Optional[HeadChoice],
    typer.Option("--head", help="transformers: base (AutoModel) or causal_lm (with the LM head; default where the type has one)."),
]


class Mode(str, Enum):
    train = "train"
    infer = "infer"
    generate = "generate"


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"
    amp_bf16 = "amp_bf16"


class OptimizerChoice(str, Enum):
    sgd = "sgd"
    sgd_momentum = "sgd_momentum"
    adam = "adam"
    adamw = "adamw"


class Attn(str, Enum):
    sdpa = "sdpa"
    eager = "eager"


class Vary(str, Enum):
    batch = "batch"
    seq = "seq"
    new_tokens = "new-tokens"
    gpus = "gpus"


# Run settings, shared by `memory` and `fit`.
Batch = Annotated[int, typer.Option(help="Samples per step (per GPU).", min=1)]
Seq = Annotated[Optional[int], typer.Option(help="Tokens per sequence (transformers; a Keras input's unknown time axis).", min=1)]
PrecisionOption = Annotated[Precision, typer.Option(help="fp32; bf16 weights and state; amp_bf16 = fp32 weights under autocast.")]
Optimizer = Annotated[OptimizerChoice, typer.Option(help="The optimizer whose state is held.")]
AttnOption = Annotated[Attn, typer.Option(help="Attention kernel of transformers.")]
GradCkpt = Annotated[bool, typer.Option("--grad-ckpt", help="Gradient checkpointing per transformer layer.")]
NewTokens = Annotated[int, typer.Option(help="generate: tokens decoded after the prompt (--seq).", min=0)]
Gpus = Annotated[int, typer.Option(help="Data parallelism: GPUs sharing the work (per-GPU bytes).", min=1)]
ZeroStage = Annotated[int, typer.Option(help="ZeRO stage 0-3: shard optimizer state (1), gradients (2), weights (3).", min=0, max=3)]

# A named GPU: a budget and, for time estimates, a peak.
Gpu = Annotated[Optional[str], typer.Option("--gpu", help="A GPU of 'archbudget gpus' (h100-sxm, \"RTX 4090\"): its memory is the budget.")]
Headroom = Annotated[
    Optional[str],
    typer.Option(help="Memory kept free on the GPU besides the CUDA context: a share (0.05, 5%) or a size (2GiB). Default 5%."),
]
Mfu = Annotated[float, typer.Option(help="Time estimates: the share of the GPU's peak FLOP/s a step reaches (model FLOPs utilisation).")]

class Backend(str, Enum):
    local = "local"
    ray = "ray"


class QuantizeChoice(str, Enum):
    int8 = "int8"
    nf4 = "nf4"
    fp4 = "fp4"
    int4 = "int4"
    fp8 = "fp8"
    mxfp4 = "mxfp4"


LoraRank = Annotated[
    Optional[int],
    typer.Option("--lora-rank", help="LoRA fine-tuning as peft builds it: adapters of rank R, the base frozen.", min=1),
]
LoraTargets = Annotated[
    Optional[str],
    typer.Option("--lora-targets", help="Modules that get adapters: names such as q_proj,v_proj, or all-linear (default: peft's for the model type)."),
]
LoraDropout = Annotated[
    Optional[float], typer.Option("--lora-dropout", help="peft's lora_dropout on the adapters' input (default 0).", min=0.0, max=1.0)
]
Quantize = Annotated[
    Optional[QuantizeChoice],
    typer.Option("--quantize", help="Linear weights stored as int8, nf4 (QLoRA), fp4, int4 (GPTQ) or fp8 (block scales); default: the config's quantization_config."),
]
