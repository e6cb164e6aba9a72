"""Where :class:`~search_api.monitoring.querylog.QueryLog` puts its records: the query-log
database, or a local spool while the database does not answer.

A search's record is written to this process's journal before its answer leaves
(:meth:`LogStore.write_ahead`, ``monitoring.journal``) and committed to the database
(``db.log_database``: the SQLite file, or the shared PostgreSQL database) by the query log's
background thread with the others that gathered (:meth:`LogStore.commit_journal`). Without a journal
(a directory it cannot write) it is committed before the answer leaves instead: on the caller's
thread, or together with the records of other searches that queued up meanwhile (group commit,
:meth:`LogStore.store`). When committing fails — PostgreSQL unreachable, a SQLite file that cannot
be written — the record (already redacted) is appended to ``<data_dir>/querylog-db-spool.jsonl`` and
fsync'd instead, the search goes on, and the server log says once that records are being spooled.
For :data:`RETRY_AFTER_S` after a failure, records go straight to the spool, so an outage costs a
search one failed connection, not one per search. The query log's background thread replays the
spool (:meth:`LogStore.replay`) once the database answers again; a record already stored (same
``query_id`` / ``event_id``) is skipped, so a replay cut short and run again stores every record
exactly once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from search_api.db import Database, log_database
from search_api.monitoring import records
from search_api.monitoring.journal import JournalClosed, Segment, open_journal
from search_api.monitoring.spool import Spool, pack, unpack
from search_api.settings import Settings

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5.0
TAKE_OVER_EVERY_S = 5.0  # how often a process looks for journals left by processes that died
CHECKPOINT_EVERY_S = 1.0
WAL_LIMIT_BYTES = 64 * 1024 * 1024  # past this the checkpoint waits to truncate the WAL (maybe_checkpoint)
TRUNCATE_WAIT_MS = 500  # how long it waits for readers (other writers wait as long): else the next round
REPLAY_CHUNK = 500

Records = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # (queries, events)
# The database refused the records themselves (not unavailable): spooling them would not help.
REFUSED = (sa_exc.DataError, sa_exc.IntegrityError)


class _Pending:
    """One caller's records waiting for a group commit, and what became of them."""

    __slots__ = ("done", "error", "events", "queries", "stored")

    def __init__(self, queries: list[dict[str, Any]], events: list[dict[str, Any]]):
        self.queries, self.events = queries, events
        self.done = self.stored = False
        self.error: Exception | None = None


class LogStore:
    """The query-log database with its spool. Thread-safe; :meth:`store` never loses a record it returns from."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.spool = Spool(settings.data_dir / "querylog-db-spool.jsonl")
        self._database: Database | None = None
        self._down_until = 0.0
        self._down_said = False
        self._said_lock = threading.Lock()
        self._writes = self._checkpointed = 0
        self._group = threading.Condition()  # group commit (``store``)
        self._queue: list[_Pending] = []
        self._writing = False
        self._last_checkpoint = time.monotonic()
        self._wal_too_big = False  # a truncation still to do (maybe_checkpoint)
        # searches' records go through the journal (monitoring.journal) unless it cannot be written
        self.journal = open_journal(settings.data_dir / "querylog-journal") if settings.querylog_enabled else None
        self._took_over = 0.0  # when orphaned journals were last looked for (0: at the first chance)
        try:
            self.database  # noqa: B018 - opened (and migrated) now when it answers; else at the first record
        except Exception as exc:
            self._went_down(exc)

    @property
    def database(self) -> Database:
        """The query-log database, opened on first use (raises while it cannot be reached)."""
        if self._database is None:
            database = log_database(self.settings)
            if database.dialect == "sqlite":
                _no_autocheckpoint(database.engine)
            self._database = database
        return self._database

    @database.setter
    def database(self, database: Database) -> None:
        """Use another database from now on (tests; the spool is replayed into it next)."""
        self._database = database
        self._down_until = 0.0

    @property
    def is_sqlite(self) -> bool:
        return self._database is not None and self._database.dialect == "sqlite"

    # -- the search path

    def write_ahead(self, queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> bool:
        """Journal the records (True: :meth:`commit_journal` stores them, on the background thread);
        False when there is no journal or it cannot be written: call :meth:`store` instead."""
        if self.journal is None:
            return False
        try:
            self.journal.append(queries, events)
        except JournalClosed:  # shutting down: committed on the caller's thread
            return False
        except OSError:
            log.exception("query log: the journal cannot be written; committing each search's record instead")
            self.journal = None
            return False
        return True

    def commit_journal(self, closing: bool = False) -> tuple[list[Records], int]:
        """Store what was journaled since the last call, and (every ``TAKE_OVER_EVERY_S``) the journals
        of processes that died. Returns the records stored, to pass on, and how many were spooled."""
        if self.journal is None:
            return [], 0
        segment = self.journal.close() if closing else self.journal.seal()
        done = [self._store_segment(segment, (segment.queries, segment.events))] if segment is not None else []
        if closing or time.monotonic() - self._took_over >= TAKE_OVER_EVERY_S:
            self._took_over = time.monotonic()
            for orphan, found in self.journal.orphans():
                done.append(self._store_segment(orphan, found))
                n = len(found[0]) + len(found[1])
                log.info("query log: stored %d records left in the journal of a stopped process", n)
        stored = [r for r, ok in done if ok and (r[0] or r[1])]
        return stored, sum(len(r[0]) + len(r[1]) for r, ok in done if ok is False)

    def _store_segment(self, segment: Segment, found: Records) -> tuple[Records, bool | None]:
        try:
            stored = self.store_journaled(*found)
        except Exception:  # neither stored nor spooled: the file stays, to be taken over again
            log.exception("query log: could not store journaled records; kept in %s", segment.path.name)
            segment.release()
            return found, None
        segment.discard()
        return found, stored

    def store(self, queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> bool:
        """Commit the records (True), or spool them while the database does not answer (False).

        Raises if the spool cannot be written either, or if the database refused the records
        themselves (:data:`REFUSED`).

        Group commit: the records of searches arriving while another thread writes wait for it,
        and the first of them then writes all of theirs in one transaction; each caller still
        returns only once its own records are committed or spooled. One writer per process
        instead of one per request thread: with every thread its own transaction, two workers'
        32 threads queued on the SQLite file's write lock (its busy handler sleeps up to 100 ms
        a try), and the query log cost more than the search (docs/benchmarks.md).
        """
        mine = _Pending(queries, events)
        with self._group:
            self._queue.append(mine)
            while not mine.done and self._writing:
                self._group.wait()
            if not mine.done:  # this thread writes what has queued up, its own records included
                self._writing = True
                batch, self._queue = self._queue, []
        if not mine.done:
            failure: Exception = RuntimeError("query log: the group commit was interrupted")
            try:
                self._store_batch(batch)
            except Exception as exc:  # a bug: each caller of the group raises it, none waits for ever
                failure = exc
            finally:
                with self._group:
                    for p in batch:
                        if not p.done:
                            p.error, p.done = failure, True
                    self._writing = False
                    self._group.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.stored

    def _store_batch(self, batch: list[_Pending]) -> None:
        """Store the callers' records together; if the database refuses the batch, each caller's
        records on their own (so one refused record fails only its caller)."""
        if len(batch) > 1 and time.monotonic() >= self._down_until:
            try:
                self._insert([q for p in batch for q in p.queries], [e for p in batch for e in p.events])
            except REFUSED:
                pass
            except Exception as exc:
                self._went_down(exc)
            else:
                for p in batch:
                    p.stored, p.done = True, True
                return
        for p in batch:
            try:
                p.stored = self._store_one(p.queries, p.events)
            except Exception as exc:
                p.error = exc
            p.done = True

    def store_journaled(self, queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> bool:
        """Records from the journal (``monitoring.journal``, on the background thread): committed in
        one transaction (True) or spooled while the database does not answer (False). A record the
        database refuses on its own is dropped and said, so it cannot hold the journal up."""
        return self._store_one(queries, events, refused_each=True)

    def _store_one(
        self, queries: list[dict[str, Any]], events: list[dict[str, Any]], refused_each: bool = False
    ) -> bool:
        if time.monotonic() >= self._down_until:
            try:
                self._insert(queries, events)
                return True
            except REFUSED:
                if not refused_each:
                    raise
                self._insert_each(queries, events)
                return True
            except Exception as exc:
                self._went_down(exc)
        self.spool.append(pack(queries, events))
        return False

    # -- the background thread

    def replay(self) -> Records | None:
        """Store the spooled records; returns those stored (to pass on to the listeners), or None
        when the database still does not answer (they stay spooled)."""
        if not self.spool.pending() or time.monotonic() < self._down_until:
            return [], []
        try:
            with self.spool.claim() as claim:
                queries, events = unpack(claim.items)
                for start in range(0, max(len(queries), len(events)), REPLAY_CHUNK):
                    chunk = slice(start, start + REPLAY_CHUNK)
                    try:
                        self._insert(queries[chunk], events[chunk])
                    except REFUSED:
                        self._insert_each(queries[chunk], events[chunk])
        except Exception as exc:
            self._went_down(exc)
            return None
        with self._said_lock:
            self._down_said = False
        if queries or events:
            log.warning(
                "query log: the database answers again; %d searches and %d clicks kept in %s during the outage"
                " are stored now",
                len(queries),
                len(events),
                self.spool.path.name,
            )
        return queries, events

    def _insert(self, queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        with self.database.transaction(lock=False) as conn:
            records.insert(conn, queries, events)
        self._writes += 1

    def _insert_each(self, queries: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        """Spooled records the database refused as a chunk, one at a time: a record it refuses on
        its own is dropped (and said), so it cannot hold the spool up for ever."""
        for kind, rec in [("query", r) for r in queries] + [("event", e) for e in events]:
            try:
                self._insert([rec] if kind == "query" else [], [rec] if kind == "event" else [])
            except REFUSED as exc:
                log.error("query log: dropped a spooled %s the database refuses: %s", kind, str(exc).splitlines()[0])

    def _went_down(self, exc: Exception) -> None:
        self._down_until = time.monotonic() + RETRY_AFTER_S
        with self._said_lock:
            said, self._down_said = self._down_said, True
        if not said:
            log.error(
                "query log: the query-log database does not answer (%s). Searches are still answered; their"
                " records are kept in %s and will be stored when the database answers again.",
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                self.spool.path,
            )
        else:
            log.debug("query log: database still unavailable: %s", exc)

    def maybe_checkpoint(self, force: bool = False) -> None:
        """SQLite: copy the WAL into the log file, at most every second and only after new writes.

        Searches never checkpoint (``wal_autocheckpoint=0`` on the store's connections): a
        checkpoint fsyncs, so the background thread runs it, never holding up a search's insert.
        PASSIVE: it never waits for readers or writers. But under steady load some reader or writer
        always holds the WAL, which then never starts over and grows for ever (338 MB beside a
        131 MB log after ten minutes of two workers' load); past ``WAL_LIMIT_BYTES`` this thread —
        off the search path since the journal — waits for a moment without them and truncates it.
        """
        if not self.is_sqlite or (self._writes == self._checkpointed and not self._wal_too_big):
            return
        if not force and time.monotonic() - self._last_checkpoint < CHECKPOINT_EVERY_S:
            return
        self._checkpointed, self._last_checkpoint = self._writes, time.monotonic()
        assert self._database is not None
        try:
            raw = self._database.engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self._wal_too_big = _wal_bytes(self._database) > WAL_LIMIT_BYTES
                if self._wal_too_big:  # (writers wait meanwhile: at most TRUNCATE_WAIT_MS)
                    conn = raw.driver_connection
                    before = conn.execute("PRAGMA busy_timeout").fetchone()[0]
                    conn.execute(f"PRAGMA busy_timeout = {TRUNCATE_WAIT_MS}")
                    try:
                        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                    finally:
                        conn.execute(f"PRAGMA busy_timeout = {int(before)}")
                    self._wal_too_big = bool(busy)  # readers or writers all along: the next round tries again
            finally:
                raw.close()
        except Exception:
            log.exception("query log: checkpoint failed")


def _wal_bytes(database: Database) -> int:
    try:
        return os.stat(f"{database.engine.url.database}-wal").st_size
    except (OSError, TypeError):
        return 0


def _no_autocheckpoint(engine: Engine) -> None:
    if not event.contains(engine, "checkout", _checkout):
        event.listen(engine, "checkout", _checkout)


def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    if not record.info.get("labourkb_no_autocheckpoint"):
        dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")
        record.info["labourkb_no_autocheckpoint"] = True
