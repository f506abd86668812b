"""A plain `archbudget sweep` (no --top) of 10^9 candidates: time to its first rows, total
time and peak RSS, beside the baseline of collecting rows before printing them (what the
CLI did before it streamed: 4.2 GB of RSS and 3 min 14 s for the 25.6M-candidate mlp
space), measured here as the RSS of collecting the first 2^20 rows of that space through
the API.

    .venv/bin/python benches/bench_stream.py
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPACE = """family = "mlp"
[fixed]
classes = 10
[axes]
input_dim = {start = 1, stop = 1000}
depth = {start = 1, stop = 1000}
width = {start = 1, stop = 1000}
"""
COLLECT = """
import resource, time
from archbudget import api
s = api.search_space({path!r})  # examples/mlp_space.toml
started = time.perf_counter()
columns = s.sweep(start=0, stop=1 << 20)
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a running process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def streamed(path: Path) -> tuple[float, float, float, str]:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "archbudget", "sweep", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_line = proc.stdout.readline()
    first_rows = time.perf_counter() - started
    assert "candidate" in first_line, first_line
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, peak_rss_mb(proc.pid))
        time.sleep(0.05)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    last = [line for line in out.splitlines() if line.strip()][-1]
    return first_rows, time.perf_counter() - started, peak, last


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "space.toml"
        path.write_text(SPACE)
        first_rows, total, peak, last = streamed(path)
        example = Path(__file__).parent.parent / "examples" / "mlp_space.toml"
        proc = subprocess.run([sys.executable, "-c", COLLECT.format(path=str(example))], capture_output=True, text=True, check=True)
        seconds, rss_kb = proc.stdout.split()
    print("plain sweep of 10^9 mlp candidates, no --top")
    print(f"  streamed:  first rows after {first_rows:.2f} s, done in {total:.1f} s, peak RSS {peak:.0f} MB")
    print(f"             {last.strip()}")
    print(f"  baseline:  collecting the first 2^20 rows of examples/mlp_space.toml: {float(seconds):.1f} s, "
          f"peak RSS {int(rss_kb) / 1024:.0f} MB (10^9 rows would need ~{int(rss_kb) / 1024 * 1000 / 1024:.0f} GB)")


if __name__ == "__main__":
    main()
