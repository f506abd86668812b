"""`archbudget fit MODEL`: the largest batch (longest sequence, most new tokens, fewest
GPUs) that fits a GPU or a memory budget."""
from typing import Annotated, Optional

import typer
from rich.console import Console

from archbudget.cli import options
from archbudget.cli.errors import reported
from archbudget.cli.input import read_model
from archbudget.cli.output import print_gpu, print_json
from archbudget.gpu import DEFAULT_MFU, fit_bytes
from archbudget.units import human_bytes


def fit(
    model: options.Model,
    mode: Annotated[options.Mode, typer.Option(help="train, infer or generate (prefill + --new-tokens decoding steps).")],
    gpu: options.Gpu = None,
    max_memory: Annotated[Optional[str], typer.Option(help="The budget of the peak itself (24GiB, 80GB), instead of or besides --gpu.")] = None,
    vary: Annotated[options.Vary, typer.Option(help="What to push: the largest batch, seq or new-tokens, or the fewest gpus (with --zero-stage).")] = options.Vary.batch,
    batch: options.Batch = 1,
    seq: options.Seq = None,
    precision: options.PrecisionOption = options.Precision.fp32,
    optimizer: options.Optimizer = options.OptimizerChoice.adamw,
    attn: options.AttnOption = options.Attn.sdpa,
    grad_ckpt: options.GradCkpt = False,
    head: options.Head = None,
    new_tokens: options.NewTokens = 0,
    gpus: options.Gpus = 1,
    zero_stage: options.ZeroStage = 0,
    lora_rank: options.LoraRank = None,
    lora_targets: options.LoraTargets = None,
    lora_dropout: options.LoraDropout = None,
    quantize: options.Quantize = None,
    headroom: options.Headroom = None,
    mfu: options.Mfu = DEFAULT_MFU,
    format: options.Format = options.OutputFormat.table,
) -> None:
    """The largest batch (--vary seq: sequence; new-tokens; gpus: the fewest GPUs) at which
    MODEL's peak fits --gpu or --max-memory. Exit status 3 when even the smallest does not."""
    with reported():
        data, location = read_model(model)
        f = fit_bytes(
            data, location, gpu=gpu, max_memory=max_memory, mode=mode.value, vary=vary.value, headroom=headroom,
            mfu=mfu, batch=batch, seq=seq, precision=precision.value, optimizer=optimizer.value, attn=attn.value,
            grad_ckpt=grad_ckpt, head=head.value if head else None, new_tokens=new_tokens, gpus=gpus,
            zero_stage=zero_stage, lora_rank=lora_rank, lora_targets=lora_targets, lora_dropout=lora_dropout or 0.0,
            quantize=quantize.value if quantize else None,
        )
        if format is options.OutputFormat.json:
            print_json(f.to_dict())
            return
        console = Console()
        what = {"batch": "Largest batch that fits", "seq": "Longest sequence that fits",
                "new-tokens": "Most new tokens that fit", "gpus": "Fewest GPUs that fit"}[f.vary]
        target = f.memory.gpu["name"] if f.memory.gpu else f"{human_bytes(f.budget_bytes)} of peak"
        console.print(f" {what} {target}: {f.value:,}", style="bold", highlight=False)
        console.print(f"   peak at {f.value:,}: {human_bytes(f.peak_bytes)} <= budget {human_bytes(f.budget_bytes)}",
                      highlight=False)
        if f.next_peak_bytes is None:
            console.print(f"   {f.value:,} is the limit of --vary {f.vary}", highlight=False)
        else:
            beyond = f.value - 1 if f.vary == "gpus" else f.value + 1
            console.print(f"   peak at {beyond:,}: {human_bytes(f.next_peak_bytes)}, over by "
                          f"{human_bytes(f.next_peak_bytes - f.budget_bytes)}", highlight=False)
        if f.memory.gpu is not None:
            print_gpu(console, f.memory)
