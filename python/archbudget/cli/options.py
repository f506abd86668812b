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
