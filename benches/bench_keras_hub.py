"""`summary` of KerasHub vision models (their constructor arguments, translated into the
layer graph keras-hub builds) beside the same-sized keras.applications model read from
its full `model.to_json()` (the baseline: the Keras reader alone), in-process, and the
`archbudget summary` command end to end.

usage: python benches/bench_keras_hub.py [--repeat N]
"""
import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import archbudget

DATA = Path(__file__).parent.parent / "tests" / "data"
# KerasHub model -> keras.applications model of the same architecture family and size
PAIRS = [
    ("resnet_50_imagenet", "ResNet50"),
    ("resnet_v2_50_imagenet", "ResNet50V2"),
    ("densenet_121_imagenet", "DenseNet121"),
    ("vgg_16_imagenet", "VGG16"),
    ("efficientnet_b0", None),
    ("mobilenetv3_small_050", None),
]


def models(name: str) -> dict[str, dict]:
    with gzip.open(DATA / name, "rt") as f:
        return {m["name"]: m for m in json.load(f)["models"] if m.get("name")}


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cli_seconds(model_json: dict, repeat: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(model_json, f)
    cmd = [sys.executable, "-m", "archbudget", "summary", f.name, "--format", "json"]
    return median_seconds(lambda: subprocess.run(cmd, check=True, capture_output=True), repeat)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    hub = models("keras_hub_vision.json.gz")
    apps = models("keras_models_extra.json.gz")
    print(f"{'KerasHub model':<24}{'params':>12}{'rows':>6}{'summary':>11}"
          f"{'keras.applications':>22}{'summary':>11}{'ratio':>7}")
    for name, app in PAIRS:
        m = hub[name]
        text = json.dumps(m["model_json"])
        t_hub = median_seconds(lambda: archbudget.summary(text), args.repeat)
        line = f"{name:<24}{m['total_params']:>12,}{len(m['layers']):>6}{t_hub * 1e3:>9.2f}ms"
        if app:
            app_text = json.dumps(apps[app]["model_json"])
            t_app = median_seconds(lambda: archbudget.summary(app_text), args.repeat)
            line += f"{app:>22}{t_app * 1e3:>9.2f}ms{t_hub / t_app:>7.2f}"
        print(line)
    cli_repeat = max(3, args.repeat // 10)
    t_hub = cli_seconds(hub["resnet_50_imagenet"]["model_json"], cli_repeat)
    t_app = cli_seconds(apps["ResNet50"]["model_json"], cli_repeat)
    print(f"\n`archbudget summary FILE --format json`, whole process: resnet_50_imagenet (KerasHub) "
          f"{t_hub * 1e3:.0f} ms, ResNet50 (keras.applications JSON) {t_app * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
