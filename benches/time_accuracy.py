"""archbudget's step-time estimate on an H100 SXM (`memory --gpu h100`, default MFU 0.4)
against the step times the oracle measured on an H100 80GB HBM3 (tests/data/
gpu_memory_dev.json, `step_ms`), per family x mode: cases, median estimated/measured
ratio, and the median MFU the measurement implies (archbudget's FLOPs over the measured
time and the card's dense peak at the run's precision). The estimate is a planning
figure, not a prediction of small kernels' launch overheads: small models reach a far
lower MFU than 0.4, and the table shows by how much.

usage: python benches/time_accuracy.py
"""
import json
import statistics
from collections import defaultdict
from pathlib import Path

import archbudget

DATA = Path(__file__).parent.parent / "tests" / "data" / "gpu_memory_dev.json"
RUN_KEYS = ("mode", "batch", "seq", "precision", "optimizer", "attn", "grad_ckpt", "head")


def main() -> None:
    groups = defaultdict(list)
    for c in json.loads(DATA.read_text())["cases"]:
        measured = c["measured"]
        if "step_ms" not in measured or "peak_bytes" not in measured:
            continue
        run = {k: c["run"][k] for k in RUN_KEYS if k in c["run"]}
        model = c["model"]["model_json"] if c["model"]["format"] == "keras_json" else c["model"]["config"]
        try:
            m = archbudget.memory(model, gpu="h100", **run)
        except archbudget.ArchBudgetError:
            continue
        if m.estimates is None:
            continue
        estimated, actual = m.estimates["step_time_s"], measured["step_ms"] / 1e3
        # the MFU at which the estimate would equal the measurement
        implied = m.estimates["mfu"] * estimated / actual
        groups[(c["family"], run["mode"])].append((estimated / actual, implied))
    print(f"{'family':<6} {'mode':<6} {'cases':>5} {'median est/measured':>20} {'implied MFU (median, max)':>27}")
    for (family, mode), rows in sorted(groups.items()):
        ratio = statistics.median(r for r, _ in rows)
        mfu = [m for _, m in rows]
        print(f"{family:<6} {mode:<6} {len(rows):>5} {ratio:>20.3f} {statistics.median(mfu):>18.3f}, {max(mfu):.3f}")


if __name__ == "__main__":
    main()
