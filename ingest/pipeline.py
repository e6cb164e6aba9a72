"""The ingest chain: files → raw documents → documents → citations and tokens → engine.

Bad files are reported as ``(path, reason)`` and skipped; everything else lands.
Re-ingesting unchanged files does nothing; a changed file replaces its documents.
The engine is handed in: ``ingest`` never imports ``search_api``.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ingest.citations import TitleRegistry, find_citations, resolve_targets
from ingest.everyday import default_dir, load_entries, questions_by_article
from ingest.ids import assign_ids
from ingest.load import iter_files, load_file_report
from ingest.model import WHOLE_KINDS, BadDocument, Document, RawDocument
from ingest.segment import segment, short_title
from ingest.tokenise import Tokeniser, get_tokeniser
from ingest.validity import apply_repeals


class Engine(Protocol):  # the slice of search_api.engines.base.SearchEngine that ingest uses
    def index_documents(self, docs: Iterable[Document]) -> Any: ...
    def ids_by_source_path(self, source_path: str) -> dict[str, str]: ...
    def delete_by_source_path(self, source_path: str, keep: Iterable[str] = ()) -> int: ...
    def refresh(self) -> None: ...


@dataclass
class IngestReport:
    files: int = 0
    unchanged_files: int = 0
    documents: int = 0
    bytes: int = 0
    by_kind: Counter = field(default_factory=Counter)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (doc id, reason) from the engine
    deleted: int = 0
    stage_seconds: dict[str, float] = field(default_factory=lambda: Counter())
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "unchanged_files": self.unchanged_files,
            "documents": self.documents,
            "bytes": self.bytes,
            "by_kind": dict(self.by_kind),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "failed": [{"id": i, "reason": r} for i, r in self.failed],
            "deleted": self.deleted,
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "seconds": round(self.seconds, 3),
        }


class _Timer:
    def __init__(self, report: IngestReport, stage: str):
        self.report, self.stage = report, stage

    def __enter__(self) -> None:
        self.t = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.report.stage_seconds[self.stage] += time.perf_counter() - self.t


def registry_from(docs: Iterable[Document], registry: TitleRegistry | None = None) -> TitleRegistry:
    """Add every whole-law document's official and short titles to a registry (a light document,
    which has no ``short_title``, gets the one segmentation gives its title)."""
    registry = registry or TitleRegistry()
    for d in docs:
        if d.kind in WHOLE_KINDS and d.source_id == d.id:
            official = d.source_title or d.title
            registry.add(official, d.id, d.short_title or short_title(official))
    return registry


def token_fields(doc: Document, tok: Tokeniser) -> dict[str, str]:
    """The three indexed token fields. The same function serves every engine."""
    body = doc.text
    if doc.kind == "article":
        title = doc.article_label
        keywords = " ".join([doc.short_title, *doc.chapter_path])
    elif doc.kind == "law" and doc.source_id == doc.id:
        # The articles carry the text; the whole law is found by its title and headings.
        title = doc.title
        keywords = doc.short_title
        body = "\n".join(ln for ln in doc.text.splitlines()[:40] if not ln.startswith("第"))
    else:
        title = doc.title
        keywords = " ".join([*doc.keywords, doc.sections.get("裁判要点", ""), doc.short_title])
    return {
        "title": " ".join(tok.tokenise(title)),
        "keywords": " ".join(tok.tokenise(keywords)),
        "body": " ".join(tok.tokenise(body)),
        "questions": " ".join(tok.tokenise("\n".join(doc.questions))),
    }


def prepare_document(
    doc: Document,
    tok: Tokeniser,
    registry: TitleRegistry | None = None,
    known_ids: set[str] | None = None,
    topics_for: Callable[[list[str]], list[str]] | None = None,
) -> Document:
    """Fill citations, ``cites``, tokens and topics of one segmented document (in place)."""
    if doc.kind != "law":  # a whole law's citations are its articles'
        default = (doc.source_title, doc.source_id) if doc.kind == "article" else None
        cits = resolve_targets(find_citations(doc.text, registry, default), known_ids)
        if doc.kind == "article":  # an article doesn't "cite" itself
            cits = [c for c in cits if c.target != doc.id]
        doc.citations = [c.as_dict() for c in cits]
        doc.cites = list(dict.fromkeys(c.target for c in cits if c.target))
    doc.tokens = token_fields(doc, tok)
    if topics_for is not None:
        doc.topics = topics_for(f"{doc.tokens['title']} {doc.tokens['keywords']}".split())
    return doc


def _topic_function(lexicon_dir: Path | None) -> Callable[[list[str]], list[str]] | None:
    if not lexicon_dir:
        return None
    from ingest.lexicon import load_lexicon

    return load_lexicon(Path(lexicon_dir)).topics_for


def load_documents(paths: Iterable[Path], report: IngestReport) -> Iterator[tuple[RawDocument, list[Document]]]:
    """Load and segment every file under ``paths``; bad files go to ``report.skipped``."""
    for path in iter_files([Path(p) for p in paths]):
        report.files += 1
        with _Timer(report, "load+clean"):
            try:
                raws, problems = load_file_report(path)
            except BadDocument as e:
                report.skipped.append((e.path, e.reason))
                continue
            except OSError as e:
                report.skipped.append((str(path), f"cannot read: {e.strerror or e}"))
                continue
        report.skipped.extend(problems)
        for raw in raws:
            report.bytes += len(raw.text.encode("utf-8"))
            with _Timer(report, "segment"):
                try:
                    docs = segment(raw)
                except BadDocument as e:
                    report.skipped.append((e.path, e.reason))
                    continue
                except (ValueError, TypeError, KeyError) as e:
                    report.skipped.append((raw.path, f"cannot segment: {e}"))
                    continue
            yield raw, docs


def load_corpus(paths: Iterable[Path], report: IngestReport) -> list[tuple[RawDocument, list[Document]]]:
    """Every file under ``paths`` loaded and segmented, with final, unique document ids.

    The one way ``ingest`` and ``prepare_corpus`` get their documents: ids (the renaming
    of files that share a stem included, see ``ingest.ids``) never depend on which of
    the two built the index.
    """
    loaded = list(load_documents(paths, report))
    assign_ids(loaded)
    return loaded


def annotate(
    docs: list[Document],
    registry: TitleRegistry,
    lexicon_dir: Path | None,
    extra_questions: Mapping[str, list[str]] | None = None,
) -> None:
    """What a document learns from the rest of the corpus and the project's files (in place):
    whether another law repealed it, and the everyday questions it answers (an article's, a case's; the files'
    and ``extra_questions``: the app store's reviewed additions, after them). Either changes
    ``content_hash``, so an unchanged file whose annotations changed is re-indexed."""
    apply_repeals(docs, registry)
    whole = {d.id for d in docs if d.kind in WHOLE_KINDS}
    # what takes everyday questions: the articles, the cases (a worker tells the case's situation),
    # and a text without numbered articles (a notice) as a whole
    with_articles = {d.source_id for d in docs if d.kind == "article"}
    askable = {d.id: d for d in docs if d.kind in ("article", "case") or (d.id in whole and d.id not in with_articles)}
    by_article = questions_by_article(load_entries(default_dir(lexicon_dir)), whole, set(askable))
    for article_id, added in (extra_questions or {}).items():
        if article_id in askable:
            by_article[article_id] = list(dict.fromkeys([*by_article.get(article_id, []), *added]))
    for article_id, questions in by_article.items():
        doc = askable[article_id]
        doc.questions = questions
        doc.content_hash += ":q" + hashlib.sha256("\n".join(questions).encode("utf-8")).hexdigest()[:12]


def prepare_corpus(
    paths: Iterable[Path],
    lexicon_dir: Path | None = None,
    extra: Iterable[Document] = (),
    extra_questions: Mapping[str, list[str]] | None = None,
) -> tuple[list[Document], IngestReport]:
    """Every document of ``paths`` plus ``extra`` (e.g. published lawyers' cases), linked and
    tokenised, without touching an engine: the input of an atomic ``engine.rebuild``.
    ``extra_questions``: reviewed everyday questions from the app store (see ``annotate``)."""
    report = IngestReport()
    start = time.perf_counter()
    tok = get_tokeniser(lexicon_dir)
    topics_for = _topic_function(lexicon_dir)
    docs = [d for _, ds in load_corpus(paths, report) for d in ds] + list(extra)
    registry = registry_from(docs)
    annotate(docs, registry, lexicon_dir, extra_questions)
    known = {d.id for d in docs if d.kind == "article"} or None
    with _Timer(report, "cite+tokenise"):
        for d in docs:
            prepare_document(d, tok, registry, known, topics_for)
            report.by_kind[d.kind] += 1
    report.documents = len(docs)
    report.seconds = time.perf_counter() - start
    return docs, report


def ingest(
    paths: Iterable[Path],
    engine: Engine,
    lexicon_dir: Path | None = None,
    registry: TitleRegistry | None = None,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
    extra_questions: Mapping[str, list[str]] | None = None,
) -> IngestReport:
    """Ingest files or directories into ``engine``; returns the report.

    ``registry`` may carry the titles of laws already indexed, so a case ingested
    on its own still links to them. ``force`` re-indexes unchanged files.
    ``extra_questions``: reviewed everyday questions from the app store (see ``annotate``).
    """
    report = IngestReport()
    start = time.perf_counter()
    tok = get_tokeniser(lexicon_dir)
    topics_for = _topic_function(lexicon_dir)
    loaded = load_corpus(paths, report)

    # Citations need every law's title and article ids before any document is linked.
    all_docs = [d for _, docs in loaded for d in docs]
    registry = registry_from(all_docs, registry)
    annotate(all_docs, registry, lexicon_dir, extra_questions)
    known = {d.id for d in all_docs if d.kind == "article"}
    known_or_none = known if known else None

    batch: list[Document] = []

    def flush() -> None:
        with _Timer(report, "index"):
            res = engine.index_documents(batch)
        report.failed.extend(getattr(res, "failed", []) or [])
        if progress:
            progress(len(batch))
        batch.clear()

    for raw, docs in loaded:
        ids = [d.id for d in docs]
        with _Timer(report, "index"):
            existing = engine.ids_by_source_path(raw.path)
        unchanged = set(existing) == set(ids) and set(existing.values()) == {d.content_hash for d in docs}
        if not force and existing and unchanged:
            report.unchanged_files += 1
            report.by_kind.update(d.kind for d in docs)
            if progress:
                progress(len(docs))
            continue
        for d in docs:
            with _Timer(report, "cite+tokenise"):
                prepare_document(d, tok, registry, known_or_none, topics_for)
            batch.append(d)
            report.by_kind[d.kind] += 1
            report.documents += 1
            if len(batch) >= batch_size:
                flush()
        if existing and set(existing) - set(ids):
            with _Timer(report, "index"):
                report.deleted += engine.delete_by_source_path(raw.path, keep=ids)
    if batch:
        flush()
    with _Timer(report, "index"):
        engine.refresh()
        if (report.documents or report.deleted) and hasattr(engine, "optimise"):
            engine.optimise()  # a bulk load left many small segments (Elasticsearch)
    report.seconds = time.perf_counter() - start
    return report
