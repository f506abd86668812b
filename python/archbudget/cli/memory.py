"""`archbudget memory MODEL`: peak GPU memory and FLOPs of one step."""
from typing import Annotated

import typer

from archbudget.cli import options
from archbudget.cli.errors import reported
from archbudget.cli.run import show_memory
from archbudget.gpu import DEFAULT_MFU


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
        show_memory(
            model, mode=mode.value, batch=batch, seq=seq, precision=precision.value, optimizer=optimizer.value,
            attn=attn.value, grad_ckpt=grad_ckpt, head=head.value if head else None, new_tokens=new_tokens, gpus=gpus,
            zero_stage=zero_stage, gpu=gpu, headroom=headroom, mfu=mfu, custom_layers=custom_layers,
            lora_rank=lora_rank, lora_targets=lora_targets, lora_dropout=lora_dropout,
            quantize=quantize.value if quantize else None, format=format.value,
        )
