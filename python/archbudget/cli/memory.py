"""`archbudget memory MODEL`: peak GPU memory and FLOPs of one step."""
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from archbudget import api
from archbudget.cli import options
from archbudget.cli.errors import reported
from archbudget.cli.input import read_model
from archbudget.cli.output import print_json
from archbudget.units import human_bytes


def memory(
    model: options.Model,
    mode: Annotated[options.Mode, typer.Option(help="train: forward + loss + backward + optimizer step; infer: one forward; generate: prefill + --new-tokens decoding steps.")],
    batch: Annotated[int, typer.Option(help="Samples per step.", min=1)],
    seq: Annotated[Optional[int], typer.Option(help="Tokens per sequence (transformers; a Keras input's unknown time axis).", min=1)] = None,
    precision: Annotated[options.Precision, typer.Option(help="fp32; bf16 weights and state; amp_bf16 = fp32 weights under autocast.")] = options.Precision.fp32,
    optimizer: Annotated[options.OptimizerChoice, typer.Option(help="The optimizer whose state is held.")] = options.OptimizerChoice.adamw,
    attn: Annotated[options.Attn, typer.Option(help="Attention kernel of transformers.")] = options.Attn.sdpa,
    grad_ckpt: Annotated[bool, typer.Option("--grad-ckpt", help="Gradient checkpointing per transformer layer.")] = False,
    head: options.Head = None,
    new_tokens: Annotated[int, typer.Option(help="generate: tokens decoded after the prompt (--seq).", min=0)] = 0,
    gpus: Annotated[int, typer.Option(help="Data parallelism: GPUs sharing the work (per-GPU bytes).", min=1)] = 1,
    zero_stage: Annotated[int, typer.Option(help="ZeRO stage 0-3: shard optimizer state (1), gradients (2), weights (3).", min=0, max=3)] = 0,
    lora_rank: options.LoraRank = None,
    lora_targets: options.LoraTargets = None,
    lora_dropout: options.LoraDropout = None,
    quantize: options.Quantize = None,
    format: options.Format = options.OutputFormat.table,
) -> None:
    """Peak GPU memory of one step of MODEL in PyTorch, what is alive at the peak, and FLOPs."""
    with reported():
        data, location = read_model(model)
        m = api.memory_bytes(
            data, location, mode=mode.value, batch=batch, seq=seq, precision=precision.value,
            optimizer=optimizer.value, attn=attn.value, grad_ckpt=grad_ckpt, head=head.value if head else None,
            new_tokens=new_tokens, gpus=gpus, zero_stage=zero_stage, lora_rank=lora_rank,
            lora_targets=lora_targets, lora_dropout=lora_dropout or 0.0, quantize=quantize.value if quantize else None,
        )
        if format is options.OutputFormat.json:
            print_json(m.to_dict())
            return
        setting = [mode.value, f"batch {batch}"]
        setting += [f"seq {seq}"] if seq else []
        setting += [f"+{new_tokens} tokens"] if mode is options.Mode.generate and new_tokens else []
        setting.append(precision.value)
        if mode is options.Mode.train:
            setting.append(optimizer.value)
            setting += ["grad-ckpt"] if grad_ckpt else []
        setting += [f"per GPU of {gpus}, ZeRO-{zero_stage}"] if gpus > 1 else []
        setting += [f"LoRA r={lora_rank} on {lora_targets or 'peft default targets'}"] if lora_rank else []
        setting += [f"{quantize.value} weights"] if quantize else []
        table = Table(title=", ".join(setting), title_justify="left")
        table.add_column("At the peak")
        table.add_column("Bytes", justify="right")
        table.add_column("", justify="right")
        for name, n in m.breakdown.items():
            if n:
                table.add_row(name.replace("_", " "), f"{n:,}", human_bytes(n))
        table.add_section()
        table.add_row("peak", f"{m.peak_bytes:,}", human_bytes(m.peak_bytes), style="bold")
        console = Console()
        console.print(table)
        trainable = f"   Trainable: {m.trainable_params:,}" if lora_rank else ""
        console.print(f" Parameters: {m.params:,}{trainable}   Buffers: {m.buffers:,}", highlight=False)
        flops = f" FLOPs: forward {m.flops_fwd:,}"
        if mode is options.Mode.train:
            flops += f", forward + backward {m.flops_fwd_bwd:,}"
        console.print(flops, highlight=False)
