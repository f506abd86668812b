"""`archbudget gpus`: the GPU catalog."""
from rich import box
from rich.console import Console
from rich.table import Table

from archbudget import _core
from archbudget.cli import options
from archbudget.cli.errors import reported
from archbudget.cli.output import print_json
from archbudget.gpu import GPU_COLUMNS
from archbudget.units import human_bytes


def gpus(format: options.Format = options.OutputFormat.table) -> None:
    """The GPUs --gpu accepts: memory as CUDA reports it, dense TFLOPs, bandwidth, sources."""
    with reported():
        rows = _core.gpus()
        if format is options.OutputFormat.json:
            print_json([{k: r[k] for k in GPU_COLUMNS} for r in rows])
            return
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        for name, justify in (("GPU", "left"), ("also", "left"), ("memory", "right"), ("bf16", "right"), ("fp16", "right"),
                              ("fp8", "right"), ("fp32", "right"), ("TB/s", "right")):
            table.add_column(name, justify=justify, no_wrap=True)
        tflops = lambda x: "-" if x is None else f"{x:,.1f}"  # noqa: E731
        for r in rows:
            table.add_row(r["name"], ", ".join(r["aliases"]), human_bytes(r["memory_bytes"]), tflops(r["bf16_tflops"]),
                          tflops(r["fp16_tflops"]), tflops(r["fp8_tflops"]), tflops(r["fp32_tflops"]),
                          f"{r['bandwidth_bytes_per_s'] / 1e12:.2f}")
        console = Console(width=max(Console().width, 150))
        console.print(table)
        console.print(" Dense TFLOPs ('-': the card lacks the precision); memory as CUDA reports it. "
                      "Sources: archbudget gpus --format json.", highlight=False)
