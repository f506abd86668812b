"""Cold start of the CLI beside the interpreter's own: `archbudget summary small.json` (and
`memory`) against `python -c pass`, run alternately, median of many runs each. The goal
(issue 14): the summary table within 60 ms of `python -c pass`. CPU time (user + system)
is shown too: on a busy machine it varies less than wall time.

usage: python benches/bench_cli_start.py [--runs N] [--model PATH]
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--model", default=str(ROOT / "examples" / "mlp_keras.json"))
    args = parser.parse_args()
    script = shutil.which("archbudget", path=str(Path(sys.executable).parent)) or shutil.which("archbudget")
    if script is None:
        sys.exit("no archbudget script next to this interpreter: pip install -e . first")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "archbudget summary": [script, "summary", args.model],
        "archbudget memory": [script, "memory", args.model, "--mode", "train", "--batch", "32"],
        "archbudget summary --help": [script, "summary", "--help"],
    }
    # a terminal-less run at 80 columns, as a script or a pipe sees it
    env = {**os.environ, "COLUMNS": "80"}
    wall = {name: [] for name in commands}
    cpu = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():  # alternately, so that load hits all alike
            c0, t0 = children_cpu(), time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, env=env, check=True)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(children_cpu() - c0)
    base_wall = statistics.median(wall["python -c pass"])
    base_cpu = statistics.median(cpu["python -c pass"])
    print(f"{args.runs} runs each, median; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'command':<28}{'wall':>10}{'- pass':>10}{'cpu':>10}{'- pass':>10}")
    for name in commands:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:<28}{w * 1e3:8.1f}ms{(w - base_wall) * 1e3:8.1f}ms{c * 1e3:8.1f}ms{(c - base_cpu) * 1e3:8.1f}ms")


if __name__ == "__main__":
    main()
