"""What `summary` and `memory` do, without typer: the typer commands (cli/summary.py,
cli/memory.py) and the fast start (cli/fast.py) both run these."""
from __future__ import annotations

from archbudget import api
from archbudget.cli.input import read_model
from archbudget.cli.output import print_json, print_memory, print_summary
from archbudget.errors import UnknownLayerError


def show_summary(model: str, head: str | None, explain: bool, custom_layers: str | None, format: str) -> None:
    if custom_layers:
        api.register_layers_file(custom_layers)
    data, location = read_model(model)
    try:
        s = api.summary_bytes(data, location, head)
    except UnknownLayerError as e:
        # Every other row still shown, totals as lower bounds; then the error line and
        # exit status 2.
        if hasattr(e, "summary"):
            show(e.summary, format, explain)
        raise
    show(s, format, explain)


def show(s: "api.Summary", format: str, explain: bool) -> None:
    if format == "json":
        document = s.to_dict()
        if explain:
            for row, full in zip(document["layers"], s.rows):
                row["explain"] = full["explain"]
        print_json(document)
    else:
        print_summary(s, explain)


def show_memory(model: str, *, mode: str, batch: int, seq: int | None, precision: str, optimizer: str, attn: str,
                grad_ckpt: bool, head: str | None, new_tokens: int, gpus: int, zero_stage: int, gpu: str | None,
                headroom: str | None, mfu: float, custom_layers: str | None, lora_rank: int | None,
                lora_targets: str | None, lora_dropout: float | None, quantize: str | None, format: str) -> None:
    if custom_layers:
        api.register_layers_file(custom_layers)
    data, location = read_model(model)
    m = api.memory_bytes(
        data, location, mode=mode, batch=batch, seq=seq, precision=precision, optimizer=optimizer, attn=attn,
        grad_ckpt=grad_ckpt, head=head, new_tokens=new_tokens, gpus=gpus, zero_stage=zero_stage, gpu=gpu,
        headroom=headroom, mfu=mfu, lora_rank=lora_rank, lora_targets=lora_targets, lora_dropout=lora_dropout or 0.0,
        quantize=quantize,
    )
    if format == "json":
        print_json(m.to_dict())
        return
    setting = [mode, f"batch {batch}"]
    setting += [f"seq {seq}"] if seq else []
    setting += [f"+{new_tokens} tokens"] if mode == "generate" and new_tokens else []
    setting.append(precision)
    if mode == "train":
        setting.append(optimizer)
        setting += ["grad-ckpt"] if grad_ckpt else []
    setting += [f"per GPU of {gpus}, ZeRO-{zero_stage}"] if gpus > 1 else []
    setting += [f"LoRA r={lora_rank} on {lora_targets or 'peft default targets'}"] if lora_rank else []
    setting += [f"{quantize} weights"] if quantize else []
    print_memory(m, ", ".join(setting), show_trainable=bool(lora_rank), show_backward=mode == "train")
