"""Bulk writes to Elasticsearch: documents in batches, with back-off on 429 and 5xx, per-item failures.

Also the mapping of client errors to the engine's errors, shared by every request the engine makes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from ingest.model import Document
from search_api.engines.base import EngineUnavailable, IndexReport, QueryError

log = logging.getLogger("search_api.engines.elasticsearch")


@contextmanager
def errors(action: str) -> Iterator[None]:
    """Map client exceptions to the engine's errors (503-like vs 400-like)."""
    try:
        yield
    except ApiError as exc:
        status = exc.meta.status if exc.meta else 0
        detail = f"{action}: HTTP {status} {reason(exc.body) or exc.message}"
        if status == 400:
            raise QueryError(detail) from exc
        raise EngineUnavailable(detail) from exc
    except TransportError as exc:  # connection refused, timeouts, TLS, serialisation
        raise EngineUnavailable(f"{action}: {type(exc).__name__}: {exc}") from exc


def reason(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            root = (err.get("root_cause") or [err])[0]
            return f"{root.get('type', '')}: {root.get('reason', '')}".strip(": ")
        if err:
            return str(err)
    return ""


def batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


class BulkWriter:
    """Sends documents to one index through ``client.bulk``."""

    def __init__(self, client: Elasticsearch, bulk_size: int, max_retries: int, backoff: float = 0.5):
        self.client = client
        self.bulk_size = max(1, bulk_size)
        self.max_retries = max(0, max_retries)
        self.backoff = backoff  # seconds before the first retry, doubled each time

    def send(self, index: str, lines: list[tuple[str, str, str]], require_alias: bool) -> list[dict[str, Any]]:
        """Send (id, action, source) lines with retries; return the per-item results in order.

        Items rejected with 429 are retried; other item errors are returned as is.
        Raises EngineUnavailable when the batch still cannot be sent.
        """
        results: dict[int, dict[str, Any]] = {}
        pending = list(range(len(lines)))
        attempt = 0
        while True:
            body: list[str] = []
            for i in pending:
                body.append(lines[i][1])
                if lines[i][2]:
                    body.append(lines[i][2])
            error: Exception | None = None
            try:
                resp = self.client.bulk(operations=body, index=index, require_alias=require_alias or None)
            except ApiError as exc:
                status = exc.meta.status if exc.meta else 0
                if status != 429 and status < 500:
                    with errors("bulk"):
                        raise
                error = exc
            except TransportError as exc:
                error = exc
            else:
                retry = []
                for i, item in zip(pending, resp["items"], strict=True):
                    outcome = next(iter(item.values()))
                    if outcome.get("status") == 429:
                        retry.append(i)
                    results[i] = outcome
                pending = retry
                if not pending:
                    return [results[i] for i in range(len(lines))]
            if attempt >= self.max_retries:
                if error is not None:
                    with errors("bulk"):
                        raise error
                return [results[i] for i in range(len(lines))]
            delay = self.backoff * 2**attempt
            log.warning("bulk of %d items failed (%s); retry in %.1f s", len(pending), error or "429", delay)
            time.sleep(delay)
            attempt += 1

    def index_into(self, index: str, docs: Iterable[Document], require_alias: bool) -> IndexReport:
        report = IndexReport()
        for batch in batches(docs, self.bulk_size):
            lines: list[tuple[str, str, str]] = []
            for doc in batch:
                if isinstance(doc, dict):
                    doc = Document.from_dict(doc)
                doc_id = str(getattr(doc, "id", "") or "")
                try:
                    if not doc_id:
                        raise ValueError("文档缺少 id")
                    if isinstance(doc.prior, (int, float)) and doc.prior < 0:
                        # function_score would turn it into a negative score, which Lucene rejects
                        raise ValueError(f"prior 不能为负数: {doc.prior}")
                    source = json.dumps(doc.as_dict(), ensure_ascii=False, allow_nan=False)
                except (ValueError, TypeError) as exc:
                    report.failed.append((doc_id, str(exc)))
                    continue
                action = json.dumps({"index": {"_id": doc_id}}, ensure_ascii=False)
                lines.append((doc_id, action, source))
            if not lines:
                continue
            for (doc_id, _, _), outcome in zip(lines, self.send(index, lines, require_alias), strict=True):
                if "error" in outcome:
                    report.failed.append((doc_id, reason({"error": outcome["error"]}) or str(outcome["error"])))
                else:
                    report.indexed += 1
        return report
