"""The fast start of `summary` and `memory`: their command lines read without typer, which
with click and pydantic takes longer to import than the command takes to run.

Only a well-formed command line is taken: the command, one MODEL and known options with
valid values. Anything else (--help, a bad or repeated option, a value typer might read
otherwise, shell completion, another command) returns None, and the typer app runs it, so
help, errors and their exit statuses are typer's own. The options below are those that
cli/summary.py and cli/memory.py declare through cli/options.py;
tests/test_cli_start.py checks that the two agree."""
from __future__ import annotations

import os

# option -> (parameter, kind, least, most): kind is "str", "int", "float", "flag" or
# the tuple of the values allowed
_FORMAT = ("--format", ("format", ("table", "json"), None, None))
_HEAD = ("--head", ("head", ("base", "causal_lm"), None, None))
_CUSTOM_LAYERS = ("--custom-layers", ("custom_layers", "str", None, None))
SUMMARY = dict([
    _HEAD,
    ("--explain", ("explain", "flag", None, None)),
    ("--no-explain", ("explain", "no-flag", None, None)),
    _CUSTOM_LAYERS,
    _FORMAT,
])
SUMMARY_DEFAULTS = {"head": None, "explain": False, "custom_layers": None, "format": "table"}
MEMORY = dict([
    ("--mode", ("mode", ("train", "infer", "generate"), None, None)),
    ("--batch", ("batch", "int", 1, None)),
    ("--seq", ("seq", "int", 1, None)),
    ("--precision", ("precision", ("fp32", "bf16", "amp_bf16"), None, None)),
    ("--optimizer", ("optimizer", ("sgd", "sgd_momentum", "adam", "adamw"), None, None)),
    ("--attn", ("attn", ("sdpa", "eager"), None, None)),
    ("--grad-ckpt", ("grad_ckpt", "flag", None, None)),
    _HEAD,
    ("--new-tokens", ("new_tokens", "int", 0, None)),
    ("--gpus", ("gpus", "int", 1, None)),
    ("--zero-stage", ("zero_stage", "int", 0, 3)),
    ("--gpu", ("gpu", "str", None, None)),
    ("--headroom", ("headroom", "str", None, None)),
    ("--mfu", ("mfu", "float", None, None)),
    _CUSTOM_LAYERS,
    ("--lora-rank", ("lora_rank", "int", 1, None)),
    ("--lora-targets", ("lora_targets", "str", None, None)),
    ("--lora-dropout", ("lora_dropout", "float", 0.0, 1.0)),
    ("--quantize", ("quantize", ("int8", "nf4", "fp4", "int4", "fp8", "mxfp4"), None, None)),
    _FORMAT,
])
MEMORY_REQUIRED = ("mode", "batch")
MEMORY_DEFAULTS = {
    "seq": None, "precision": "fp32", "optimizer": "adamw", "attn": "sdpa", "grad_ckpt": False, "head": None,
    "new_tokens": 0, "gpus": 1, "zero_stage": 0, "gpu": None, "headroom": None, "mfu": 0.4,
    "custom_layers": None, "lora_rank": None, "lora_targets": None, "lora_dropout": None, "quantize": None,
    "format": "table",
}


def _number(text: str, kind: str, least, most):
    """An int or float written plainly (digits, one point), inside its range; else None."""
    digits = text.replace(".", "", 1) if kind == "float" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18 or (kind == "int" and text[0] == "0" != text):
        return None
    value = float(text) if kind == "float" else int(text)
    if (least is not None and value < least) or (most is not None and value > most):
        return None
    return value


def parse(args: list[str], spec: dict, required: tuple = ()) -> dict | None:
    """The parameters of a well-formed command line (MODEL as `model`), or None."""
    found: dict = {}
    model = None
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "-" or not arg.startswith("-"):
            if model is not None:
                return None
            model = arg
            continue
        name, eq, value = arg.partition("=")
        option = spec.get(name)
        if option is None:
            return None
        dest, kind, least, most = option
        if dest in found:
            return None  # repeated (or --explain with --no-explain): typer's rules
        if kind in ("flag", "no-flag"):
            if eq:
                return None
            found[dest] = kind == "flag"
            continue
        if not eq:
            if i == len(args):
                return None
            value = args[i]
            i += 1
            if value.startswith("-") and value != "-":
                return None  # click might read it as an option
        if isinstance(kind, tuple):
            if value not in kind:
                return None
        elif kind != "str":
            value = _number(value, kind, least, most)
            if value is None:
                return None
        found[dest] = value
    if model is None or any(r not in found for r in required):
        return None
    found["model"] = model
    return found


def run(argv: list[str]) -> int | None:
    """Run `summary` or `memory` and return the exit status; None: not for the fast start."""
    if not argv or argv[0] not in ("summary", "memory") or "_ARCHBUDGET_COMPLETE" in os.environ:
        return None
    command, args = argv[0], argv[1:]
    if command == "summary":
        found = parse(args, SUMMARY)
        if found is None:
            return None
        from archbudget.cli.errors import run_reported
        from archbudget.cli.run import show_summary

        values = {**SUMMARY_DEFAULTS, **found}
        return run_reported(lambda: show_summary(**values))
    found = parse(args, MEMORY, MEMORY_REQUIRED)
    if found is None:
        return None
    from archbudget.cli.errors import run_reported
    from archbudget.cli.run import show_memory

    values = {**MEMORY_DEFAULTS, **found}
    return run_reported(lambda: show_memory(**values))
