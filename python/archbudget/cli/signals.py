"""SIGTERM and SIGHUP as exceptions, like SIGINT's KeyboardInterrupt: the running command
unwinds (the native core stops within milliseconds, a temporary output file is removed)
and the process exits with 128 + the signal's number, as a shell reports a killed
command."""
from __future__ import annotations

import signal

EXIT_INTERRUPTED = 128 + signal.SIGINT


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived. A BaseException, like KeyboardInterrupt, so that no
    `except Exception` swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _raise_terminated(signum, frame):
    # Once is enough: a second signal while unwinding must not interrupt the cleanup.
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    raise Terminated(signum)


def install() -> None:
    """Turn SIGTERM and SIGHUP into `Terminated` (where they are not ignored already,
    as `nohup` ignores SIGHUP)."""
    for s in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(s) is not signal.SIG_IGN:
            signal.signal(s, _raise_terminated)
