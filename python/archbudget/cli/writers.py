"""`sweep --output FILE`: rows streamed chunk by chunk into a temporary file beside the
target, renamed when whole, so that an error, Ctrl-C, SIGTERM or SIGHUP never leaves half
a file. The temporary file is `.NAME.archbudget-tmp-<pid>`: a run killed beyond any
handler (SIGKILL, a power cut) leaves one, and the next run into that directory removes
it once its process is gone."""
from __future__ import annotations

import errno
import os
import queue
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from archbudget.errors import ArchBudgetError

FORMATS = (".parquet", ".csv", ".json", ".ndjson", ".arrow")
TMP_MARK = ".archbudget-tmp-"
_STALE = re.compile(r"^\..+" + re.escape(TMP_MARK) + r"(\d+)$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(directory: Path) -> None:
    """Delete the temporary files of earlier runs into `directory` whose process is dead."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = _STALE.match(name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            try:
                os.unlink(directory / name)
            except OSError:
                pass


class Target:
    """An output file checked before the sweep starts (extension, directory, permission,
    free space), with its temporary file already created."""

    def __init__(self, path: Path):
        self.path = path
        if path.suffix not in FORMATS:
            raise ArchBudgetError(f"--output {path}: the extension must be one of {', '.join(FORMATS)}")
        directory = path.parent
        if path.is_dir():
            raise ArchBudgetError(f"--output {path}: is a directory; name a file such as {path / ('rows' + path.suffix)}")
        if not directory.is_dir():
            raise ArchBudgetError(f"--output {path}: No such file or directory: {directory} (create it first)")
        try:
            stats = os.statvfs(directory)
        except OSError:
            stats = None
        if stats is not None and stats.f_bavail * stats.f_frsize == 0:
            raise ArchBudgetError(f"--output {path}: no space left on the device of {directory}")
        remove_stale_temporaries(directory)
        self.tmp = directory / f".{path.name}{TMP_MARK}{os.getpid()}"
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as e:
            raise ArchBudgetError(f"--output {path}: cannot write in {directory}: {e.strerror}") from None
        os.close(fd)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)

    def write(self, frames: Iterator[pl.DataFrame], settings: dict | None = None) -> int:
        """Write all frames, then rename the temporary file onto the target. Returns the
        number of rows; on any error or signal the temporary file is removed. Parquet
        keeps the sweep's `settings` in its metadata (for `archbudget report`)."""
        try:
            if self.path.suffix in (".parquet", ".arrow"):
                rows = _sink(frames, self.tmp, self.path.suffix, settings)
            else:
                rows = _append(frames, self.tmp, self.path.suffix)
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.discard()
            raise ArchBudgetError(f"--output {self.path}: cannot write: {e.strerror or e}") from None
        except BaseException:
            self.discard()
            raise
        return rows


def _append(frames: Iterator[pl.DataFrame], tmp: Path, suffix: str) -> int:
    """CSV, NDJSON and JSON (an array of row objects), appended chunk by chunk. Polars
    renders each chunk as text and this thread writes it: given the file, Polars writes
    through buffers of its own that outlive an interrupted write and could recreate the
    temporary file after it was removed."""
    rows = 0
    with open(tmp, "w") as f:
        if suffix == ".json":
            f.write("[")
        for frame in frames:
            if suffix == ".csv":
                f.write(frame.write_csv(include_header=rows == 0))
            elif suffix == ".ndjson":
                f.write(frame.write_ndjson())
            elif frame.height:
                f.write(("," if rows else "") + frame.write_json()[1:-1])
            rows += frame.height
        if suffix == ".json":
            f.write("]\n")
    return rows


class _Stop(Exception):
    """Ends the sink's source early: the sweep failed or was interrupted."""


_END = object()
# Sinks told to stop that had not stopped when their command ended.
_stopping: list[threading.Thread] = []


def sink_still_running() -> bool:
    """Whether a Polars sink thread is still stopping: the interpreter must then leave
    with os._exit, since a thread inside Polars when the interpreter finalizes aborts
    the process ("FATAL: exception not rethrown")."""
    return any(t.is_alive() for t in _stopping)


def _sink(frames: Iterator[pl.DataFrame], tmp: Path, suffix: str, settings: dict | None) -> int:
    """Parquet and Arrow IPC through a Polars streaming sink. Polars pulls the frames on
    its own threads, but the sweep must run on the main thread, where Ctrl-C and SIGTERM
    reach it: the main thread makes each frame and hands it over through a small queue.
    The file is opened here and handed to Polars, so that Polars never creates the path
    itself and an interrupted run can unlink it at once, without waiting for the sink."""
    from polars.io.plugins import register_io_source

    first = next(frames)
    file = open(tmp, "wb")
    handover: queue.Queue = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def source(with_columns, predicate, n_rows, batch_size):
        yield first
        while (item := handover.get()) is not _END:
            if item is None:
                raise _Stop()
            yield item

    def run() -> None:
        lazy = register_io_source(source, schema=first.schema)
        try:
            if suffix == ".parquet":
                from archbudget.dataset import parquet_metadata

                lazy.sink_parquet(file, metadata=parquet_metadata(settings) if settings else None)
            else:
                lazy.sink_ipc(file)
        except BaseException as e:  # re-raised on the main thread
            failure.append(e)

    writer = threading.Thread(target=run, name="archbudget-sink", daemon=True)
    writer.start()
    rows = first.height
    try:
        for frame in frames:
            while not failure and not _put(handover, frame):
                pass
            if failure:
                break
            rows += frame.height
        while not failure and not _put(handover, _END):
            pass
        writer.join()
        file.close()
    except BaseException:
        _abandon(handover)
        tmp.unlink(missing_ok=True)  # at once: the sink may take seconds to stop
        writer.join(timeout=0.2)
        if writer.is_alive():
            _stopping.append(writer)
        raise
    if failure:
        raise _sink_error(failure[0])
    return rows


def _put(handover: queue.Queue, item) -> bool:
    try:
        handover.put(item, timeout=0.1)
        return True
    except queue.Full:
        return False


def _abandon(handover: queue.Queue) -> None:
    """Stop the sink: it raises _Stop at its next frame."""
    while True:
        try:
            handover.get_nowait()
        except queue.Empty:
            break
    try:
        handover.put_nowait(None)
    except queue.Full:
        pass


def _sink_error(e: BaseException) -> BaseException:
    """A Polars write error as the OSError it wraps (a full disk, a file size limit), so
    that it reads as one line like the other formats' errors."""
    if isinstance(e, OSError) and e.errno is not None:
        return e
    m = re.search(r"os error (\d+)", str(e))
    if m:
        code = int(m.group(1))
        return OSError(code, os.strerror(code))
    text = str(e).strip().splitlines()
    return OSError(errno.EIO, text[0] if text else type(e).__name__)
