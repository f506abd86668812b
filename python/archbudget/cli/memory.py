"""`archbudget memory MODEL`: peak GPU memory and FLOPs of one step."""
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from archbudget import api
from archbudget.cli import options
from archbudget.cli.errors import reported
from archbudget.cli.input import read_model
from archbudget.cli.output import print_gpu, print_json
from archbudget.gpu import DEFAULT_MFU
from archbudget.units import human_bytes


def memory(
    model: options.Model,
    mode: Annotated[options.Mode, typer.Option(help="train: forward + loss + backward + optimizer step; infer: one forward; generate: prefill + --new-tokens decoding steps.")],
    batch: options.Batch,
    seq: options.Seq = None,
    precision: options.PrecisionOption = options.Precision.fp32,
    optimizer: options.Optimizer = options.OptimizerChoice.adamw,
    attn: options.AttnOption = options.Attn.sdpa,
    grad_ckpt: options.GradCkpt = False,
    head: options.Head = None,
    new_tokens: options.NewTokens = 0,
    gpus: options.Gpus = 1,
    zero_stage: options.ZeroStage = 0,
    gpu: options.Gpu = None,
    headroom: options.Headroom = None,
    mfu: options.Mfu = DEFAULT_MFU,
    custom_layers: options.CustomLayers = None,
    lora_rank: options.LoraRank = None,
    lora_targets: options.LoraTargets = None,
    lora_dropout: options.LoraDropout = None,
    quantize: options.Quantize = None,
    format: options.Format = options.OutputFormat.table,
) -> None:
    """Peak GPU memory of one step of MODEL in PyTorch, what is alive at the peak, and FLOPs.

    With --gpu, also whether the peak fits that GPU and estimates of the step's time."""
    with reported():
        if custom_layers:
            api.register_layers_file(custom_layers)
        data, location = read_model(model)
        m = api.memory_bytes(
            data, location, mode=mode.value, batch=batch, seq=seq, precision=precision.value,
            optimizer=optimizer.value, attn=attn.value, grad_ckpt=grad_ckpt, head=head.value if head else None,
            new_tokens=new_tokens, gpus=gpus, zero_stage=zero_stage, gpu=gpu, headroom=headroom, mfu=mfu,
            lora_rank=lora_rank, lora_targets=lora_targets, lora_dropout=lora_dropout or 0.0,
            quantize=quantize.value if quantize else None,
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
        # The settings as a line of their own: a table title would wrap at the table's width.
        table = Table()
        table.add_column("At the peak")
        table.add_column("Bytes", justify="right")
        table.add_column("", justify="right")
        for name, n in m.breakdown.items():
            if n:
                table.add_row(name.replace("_", " "), f"{n:,}", human_bytes(n))
        table.add_section()
        table.add_row("peak", f"{m.peak_bytes:,}", human_bytes(m.peak_bytes), style="bold")
        console = Console()
        console.print(", ".join(setting), highlight=False, soft_wrap=True)
        console.print(table)
        trainable = f"   Trainable: {m.trainable_params:,}" if lora_rank else ""
        console.print(f" Parameters: {m.params:,}{trainable}   Buffers: {m.buffers:,}", highlight=False)
        flops = f" FLOPs: forward {m.flops_fwd:,}"
        if mode is options.Mode.train:
            flops += f", forward + backward {m.flops_fwd_bwd:,}"
        console.print(flops, highlight=False)
        if m.gpu is not None:
            print_gpu(console, m)
