"""A sweep's rows on disk: one Parquet file, or a Parquet dataset (a directory of part
files and a manifest) as the Ray backend writes it; either way the sweep's settings
ride in each file's key-value metadata. A dataset appears whole or not at all: it is
written in a hidden directory beside its path and renamed onto it at the end."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from archbudget.errors import ArchBudgetError

MANIFEST = "_manifest.json"
# The key of the settings in a Parquet file's key-value metadata.
SETTINGS_KEY = "archbudget.sweep"


def write_dataset(frames: list[pl.DataFrame], output: Path, settings: dict, stats: dict) -> None:
    """Merged (ranked) rows as a dataset of one part, whole or absent."""
    staging = staging_dir(output)
    try:
        files = []
        for i, frame in enumerate(frames):
            name = f"part-{i:05d}.parquet"
            frame.write_parquet(staging / name, metadata=parquet_metadata(settings))
            files.append((name, frame.height))
        finish_dataset(staging, output, files, settings, stats)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def parquet_metadata(settings: dict) -> dict[str, str]:
    """The sweep's settings in each Parquet file's key-value metadata (the report reads
    them back)."""
    return {SETTINGS_KEY: json.dumps(settings)}


def check_output(output: Path) -> None:
    """A dataset replaces only an earlier dataset or an empty directory."""
    if output.exists() and not (output.is_dir() and ((output / MANIFEST).exists() or not any(output.iterdir()))):
        raise ArchBudgetError(f"--output {output}: exists and is not an archbudget dataset; choose another path")


def staging_dir(output: Path) -> Path:
    """A hidden directory beside `output`, renamed onto it when the dataset is whole."""
    check_output(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))


def finish_dataset(staging: Path, output: Path, files: list[tuple[str, int]], settings: dict, stats: dict) -> None:
    manifest = {
        "format": "archbudget sweep dataset",
        "parts": [{"file": name, "rows": rows} for name, rows in files],
        "rows": sum(rows for _, rows in files),
        "settings": settings,
        "stats": stats,
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    os.chmod(staging, 0o777 & ~current_umask())
    if output.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old.", dir=output.parent))
        os.replace(output, old / "dataset")
        os.replace(staging, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, output)


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask




def read_rows(path: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The rows of a sweep's Parquet file or dataset, and the settings stored with them
    ({} when the file was not written by archbudget)."""
    path = Path(path)
    if path.is_dir():
        manifest_path = path / MANIFEST
        if not manifest_path.exists():
            raise ArchBudgetError(f"{path}: a directory without {MANIFEST}, not an archbudget sweep dataset")
        try:
            manifest = json.loads(manifest_path.read_text())
            files = [path / part["file"] for part in manifest["parts"]]
        except (ValueError, KeyError, TypeError) as e:
            raise ArchBudgetError(f"{manifest_path}: not a sweep manifest ({e})") from None
        frames = [read_parquet(f) for f in files]
        return pl.concat(frames) if frames else pl.DataFrame(), manifest.get("settings", {})
    frame = read_parquet(path)
    try:
        text = pl.read_parquet_metadata(path).get(SETTINGS_KEY)
    except Exception:  # metadata is optional: the rows are what matter
        text = None
    return frame, json.loads(text) if text else {}


def read_parquet(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise ArchBudgetError(f"{path}: no such file")
    try:
        return pl.read_parquet(path)
    except Exception as e:  # polars raises several kinds for a file that is not Parquet
        raise ArchBudgetError(f"{path}: not a Parquet file of sweep rows ({type(e).__name__})") from None


def dataset_rows(path: Path) -> int:
    """The rows of a dataset, from its manifest."""
    return json.loads((Path(path) / MANIFEST).read_text())["rows"]
