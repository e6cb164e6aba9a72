"""A local file of query-log records waiting for a store that did not answer.

Two stores use one: the query-log database (:mod:`search_api.monitoring.log_store`) and
Elasticsearch (:mod:`search_api.monitoring.es_sink`). The file is JSON lines in the data
directory, mode 0600; what goes in is already redacted. An append writes whole lines at once
and is flushed and fsync'd before it returns, so a record in the spool survives the process
being killed.

Threads and processes (``labourkb serve --workers N``) of one data directory share the file
under ``flock``. :meth:`Spool.claim` takes the lock, reads every line and, when its block ends
without an error, replaces the file with the lines still waiting (or removes it); appenders wait
meanwhile, and one that opened the file before it was replaced opens the new one. A block that
fails leaves the file as it was: the records are replayed again later, so the stores they go to
must take a record twice without storing it twice (query ids and event ids are unique keys).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class Claim:
    """The spooled lines read under the lock (:attr:`items`); :meth:`keep` those still waiting."""

    def __init__(self, items: list[dict[str, Any]]):
        self.items = items
        self.left: list[dict[str, Any]] = []

    def keep(self, items: list[dict[str, Any]]) -> None:
        self.left = list(items)


class Spool:
    """A JSON-lines spool file shared by the threads and processes of one data directory."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, items: list[dict[str, Any]]) -> None:
        """Add ``items`` (JSON objects) at the end, on disk (fsync'd) when this returns."""
        if not items:
            return
        data = encode_lines(items)
        with self._locked(create=True) as fd:
            assert fd is not None
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)

    def pending(self) -> bool:
        """Whether anything is waiting (cheap: one ``stat``)."""
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def count(self) -> int:
        """How many records are waiting."""
        return len(self._read())

    @contextmanager
    def claim(self) -> Iterator[Claim]:
        """The waiting records, under the lock; on a clean exit only :meth:`Claim.keep`'s stay."""
        with self._locked(create=False) as fd:
            claim = Claim(self._read() if fd is not None else [])
            yield claim
            if fd is not None:
                self._replace(claim.left)

    # -- the file

    @contextmanager
    def _locked(self, create: bool) -> Iterator[int | None]:
        """A descriptor of the file as it is now, under an exclusive ``flock``; None if there is none."""
        flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0)
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, flags, 0o600)
            except FileNotFoundError:
                yield None
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break  # still the file at the path, not one a replay has replaced or removed
            except FileNotFoundError:
                pass
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        try:
            yield fd
        finally:
            os.close(fd)  # releases the lock

    def _read(self) -> list[dict[str, Any]]:
        return read_items(self.path)

    def _replace(self, items: list[dict[str, Any]]) -> None:
        if not items:
            self.path.unlink(missing_ok=True)
        else:
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                os.fchmod(fh.fileno(), 0o600)
                for item in items:
                    fh.write(json.dumps(item, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def read_items(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file (none if it is gone); a torn line is skipped and said."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    items = []
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if isinstance(item, dict):
            items.append(item)
        elif line.strip():
            # a torn last line from a crash mid-append: that append never returned
            log.warning("query log: skipping an unreadable line of %s", path.name)
    return items


def encode_lines(items: list[dict[str, Any]]) -> bytes:
    """JSON objects as JSON lines, UTF-8."""
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items).encode("utf-8")


def pack(queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Query-log records as the lines of a spool or a journal: ``{"kind": "query"|"event", "doc": …}``."""
    return [{"kind": "query", "doc": r} for r in queries] + [{"kind": "event", "doc": e} for e in events]


def unpack(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``pack``'s lines back as (queries, events); a line of another shape is left out."""
    docs = [(i.get("kind"), i.get("doc")) for i in items]
    return [d for k, d in docs if k == "query" and isinstance(d, dict)], [
        d for k, d in docs if k == "event" and isinstance(d, dict)
    ]
