"""Small shared pieces for the monitoring tests."""

from __future__ import annotations

from ingest.model import Document


def index_docs(engine, *ids: str) -> None:
    """Put tiny article documents with these ids into ``engine`` (``/go`` only redirects to real ones)."""
    engine.index_documents(
        [
            Document(
                id=doc_id,
                kind="article",
                title="第一条",
                text="拖欠工资",
                tokens={"title": "", "keywords": "", "body": "拖欠 工资"},
                source_path=f"{doc_id}.md",
            )
            for doc_id in ids
        ]
    )
    engine.refresh()
