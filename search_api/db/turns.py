"""Writers of one SQLite file take turns through a lock file beside it.

SQLite lets one writer at a time hold a file's write lock; a writer of another process that finds
it taken waits in SQLite's busy handler, which sleeps 1, 2, 5 … up to 100 ms between tries and can
lose every race to writers that arrive later. Under load that was the whole tail of a search (the
query log's record is committed before the search returns): two worker processes, 16 connections,
the query log on — 260 req/s with the CPU 30 % idle and p99 438 ms; off — 710 req/s (docs/benchmarks.md).

Here a writer first takes an exclusive ``flock`` on ``<file>.writers`` and holds it until its
transaction ends, so it reaches ``BEGIN IMMEDIATE`` only when the file is free. Waiting polls the
lock every ``POLL_SECONDS`` — a fraction of one commit — up to the same limit as SQLite's own busy
timeout, then fails as SQLite would ("database is locked"), so a writer stuck in another process
never hangs this one. A process that dies releases its lock with its file descriptors. The file
is empty and opened read-only (all ``flock`` needs); without ``fcntl`` (not POSIX), or where the
file cannot be opened, writers queue in SQLite's busy handler as before.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.exc import OperationalError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

POLL_SECONDS = 0.0002


@contextmanager
def writer_turn(path: Path, timeout: float) -> Iterator[None]:
    """Hold the turn of the writers of ``path`` (a lock file) for the block."""
    try:  # read-only is enough for flock: another user's server can share the file
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644) if fcntl is not None else None
    except OSError:  # e.g. a read-only directory: queue in SQLite's busy handler as before
        fd = None
    if fd is None:
        yield
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OperationalError(
                        "BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")
                    ) from None
                time.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # releases the lock
