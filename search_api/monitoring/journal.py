"""The query log's write-ahead journal: a search's record is on disk before its answer leaves,
and reaches the query-log database a moment later, with the records of other searches.

Committing each record to the database before the answer (one SQLite transaction per search, or
per group of searches of one process) held two worker processes to a third of what they served
with the query log off: each commit wrote ~10 pages (the table, four indexes, the signals) and the
processes took turns at the file's write lock (docs/benchmarks.md, session 18). Here the request
thread appends the record to this process's journal file — one ``write`` of one JSON line, no
fsync — and the query log's background thread stores what has gathered in one transaction
(``QueryLog``: every ``LINGER_S``, or at once on ``flush``) and then deletes that part of the journal.

Durability is what it was: a line written to the file survives the process being killed (the
kernel has it), as a SQLite commit with ``synchronous=NORMAL`` did; neither survives the machine
losing power. The journal is a directory of segments, each ``<pid>-<token>-<n>.jsonl`` with mode
0600, holding records already redacted (nothing the database does not hold). A process holds an
exclusive ``flock`` on its segments while it lives; :meth:`Journal.seal` closes the current one
for storing and opens the next. A segment nobody holds was left by a process that died: any
process of the data directory takes it over (:meth:`Journal.orphans`, at start and every few
seconds), stores its records (the database skips ids it has) and deletes it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from search_api.monitoring.spool import encode_lines, pack, read_items, unpack

log = logging.getLogger(__name__)

Records = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # (queries, events)


class JournalClosed(OSError):
    """The journal was closed (shutdown): the caller commits the record itself."""


class Segment:
    """One journal file, its descriptor (holding the file's lock) and the records written to it."""

    __slots__ = ("events", "fd", "path", "queries")

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd
        self.queries: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def discard(self) -> None:
        """The records are stored (or spooled): the file goes, then its lock."""
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)

    def release(self) -> None:
        """Keep the file for whoever takes it over (this process, a sibling, the next start)."""
        os.close(self.fd)


class Journal:
    """This process's journal in ``directory``. Thread-safe."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._prefix = f"{os.getpid()}-{secrets.token_hex(4)}-"
        self._n = 0
        self._lock = threading.Lock()
        self._current: Segment | None = self._open()

    def _open(self) -> Segment:
        self._n += 1
        path = self.directory / f"{self._prefix}{self._n:06d}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return Segment(path, fd)

    def append(self, queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        """Write the records (in the kernel's hands when this returns: they survive a kill)."""
        data = encode_lines(pack(queries, events))
        with self._lock:
            if self._current is None:
                raise JournalClosed(self.directory)
            view = memoryview(data)
            while view:
                view = view[os.write(self._current.fd, view) :]
            self._current.queries.extend(queries)
            self._current.events.extend(events)

    def seal(self) -> Segment | None:
        """The current segment, closed to new records (None when it holds none); a new one takes them."""
        with self._lock:
            sealed = self._current
            if sealed is None or (not sealed.queries and not sealed.events):
                return None
            self._current = self._open()
            return sealed

    def close(self) -> Segment | None:
        """At shutdown: the last records (if any) to store; the empty segment is removed."""
        with self._lock:
            last, self._current = self._current, None
        if last is None:
            return None
        if last.queries or last.events:
            return last
        last.discard()
        return None

    def orphans(self) -> Iterator[tuple[Segment, Records]]:
        """Segments nobody holds — left by processes that died, or released by this one after a
        failure — each locked by this process while the caller stores its records; the caller
        then calls ``discard`` (or ``release`` to retry later)."""
        for path in sorted(self.directory.glob("*.jsonl")):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.fstat(fd).st_ino != os.stat(path).st_ino:
                    raise FileNotFoundError(path)  # taken over and removed meanwhile
            except (BlockingIOError, FileNotFoundError):
                os.close(fd)  # its process lives (or another took it over)
                continue
            yield Segment(path, fd), unpack(read_items(path))


def open_journal(directory: Path) -> Journal | None:
    """The journal, or None where it cannot be written (then records are committed before the answer)."""
    try:
        return Journal(directory)
    except OSError as exc:
        log.warning("query log: no journal in %s (%s): each record is committed before its answer", directory, exc)
        return None
