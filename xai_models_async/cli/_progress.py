"""The status line on stderr: "waiting…" when an answer is slow, "fetched N of M" while
a command fans out, and the library's retry notes.

Only on a terminal, and never with --json or --debug: piped output and scripts get an
empty stderr unless something failed. The line is redrawn in place with ``\\r`` and
erased (overwritten with spaces, no terminal codes needed) before anything else is
written, so it never mixes with the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator
from typing import TextIO

from xai_models_async.cli._common import PROG
from xai_models_async.cli._render import Style

__all__ = ["DELAY", "Progress", "setup_logging"]

#: Work that answers sooner than this shows no status line at all.
DELAY = 0.5
_REDRAW = 0.5


class Progress:
    """The status line of one run; every method is a no-op when it is disabled."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream  # None: disabled
        self._ellipsis = Style.for_stream(stream).ellipsis if stream is not None else ""
        self._text = ""
        self._visible = False
        self._since = time.monotonic()
        self._shown = 0

    @classmethod
    def for_run(cls, *, as_json: bool, debug: bool, stream: TextIO | None = None) -> Progress:
        stream = stream if stream is not None else sys.stderr
        isatty = getattr(stream, "isatty", None)
        tty = isatty is not None and bool(isatty())
        return cls(stream if tty and not as_json and not debug else None)

    @property
    def enabled(self) -> bool:
        return self._stream is not None

    def note(self, message: str, *, always: bool = False) -> None:
        """A line that stays (a retry, the demo notice), written above the status line;
        with ``always`` (a failure worth knowing) on stderr even when it is no terminal."""
        if self._stream is None:
            if always:
                print(f"{PROG}: {message}", file=sys.stderr, flush=True)
            return
        self._erase()
        self._stream.write(f"{PROG}: {message}\n")
        self._draw()

    def out(self, text: str) -> None:
        """``text`` and a newline on stdout, which may be the same terminal: the status
        line is erased first and drawn again after."""
        self._erase()
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        self._draw()

    def show(self, text: str) -> None:
        """Say ``text`` now (a fan-out's count), not only after the delay."""
        self._text = text
        self._visible = True
        self._draw()

    @contextlib.asynccontextmanager
    async def waiting(self, text: str, delay: float = DELAY) -> AsyncIterator[None]:
        """Show ``text`` with the seconds elapsed if the body takes longer than ``delay``;
        erase it when the body ends, however it ends."""
        if self._stream is None:
            yield
            return
        self._text, self._visible, self._since = text, False, time.monotonic()
        ticker = asyncio.ensure_future(self._tick(delay))
        try:
            yield
        finally:
            # Not awaited: the ticker only sleeps and draws, and awaiting it here could
            # swallow a cancellation meant for this task.
            ticker.cancel()
            self.clear()

    def clear(self) -> None:
        self._visible = False
        self._erase()

    async def _tick(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._visible = True
        while True:
            self._draw()
            await asyncio.sleep(_REDRAW)

    def _draw(self) -> None:
        if self._stream is None or not self._visible:
            return
        elapsed = time.monotonic() - self._since
        line = f"{PROG}: {self._text}{self._ellipsis}"
        if elapsed >= 1:
            line += f" {elapsed:.0f} s"
        # A line wider than the terminal wraps, and `\r` would then erase only its end.
        width = _columns(self._stream)
        line = line[: max(width - 1, 10)]
        self._erase()
        self._stream.write(line)
        self._stream.flush()
        self._shown = len(line)

    def _erase(self) -> None:
        if self._stream is not None and self._shown:
            self._stream.write("\r" + " " * self._shown + "\r")
            self._stream.flush()
            self._shown = 0


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):  # no fd (a test's StringIO), or no size
        return shutil.get_terminal_size().columns


class _RetryNotes(logging.Handler):
    """The library's INFO line for each retry ("... retrying in 0.50 s: HTTP 503"), as a
    note above the status line. Its final "not retrying" line is left out: the command's
    own error line says the same."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self._progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.INFO and "retrying in" in str(record.msg):
            self._progress.note(record.getMessage())


def setup_logging(*, debug: bool, progress: Progress) -> None:
    """Where the library's log records go for this run: everything (with times) under
    --debug, retry notes on a terminal, else nowhere; a NullHandler keeps logging's
    last-resort handler from printing warnings on an otherwise empty stderr (the command
    reports failures itself)."""
    logger = logging.getLogger("xai_models_async")
    handler: logging.Handler
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.setLevel(logging.DEBUG)
    elif progress.enabled:
        handler = _RetryNotes(progress)
        logger.setLevel(logging.INFO)
    else:
        handler = logging.NullHandler()
    logger.addHandler(handler)
