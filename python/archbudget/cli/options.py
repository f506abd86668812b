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
