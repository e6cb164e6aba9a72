"""Answered help requests published as 问答 documents (``kind: qa``) that answer the next worker.

Only with the worker's consent (asked on the form, off by default), only once a lawyer has
answered, and only by a reviewer, who rewrites the question and answer without anything
identifying. Publishing refuses a text that still holds the worker's name, phone number or
employer, or any long number (phone, ID card, bank card). The document cites the articles
found in the answer and goes into the index at once, through the same ``CaseIndex`` as
lawyers' cases; ``published_qa_documents`` hands them to ``labourkb rebuild``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ingest.model import Document
from search_api import db
from search_api.accounts.users import User
from search_api.cases.index import CaseIndex
from search_api.errors import Conflict, Invalid
from search_api.help.fields import TOPICS
from search_api.help.service import HelpService
from search_api.help.store import HelpStore
from search_api.monitoring.redact import redact_spans

LIMITS = {"title": (6, 80, "标题"), "question": (10, 2000, "问题"), "answer": (10, 10000, "解答")}
QA_SECTIONS = ("问题", "律师解答")


def _check(values: dict[str, str], personal: dict[str, str]) -> None:
    errors = {}
    for name, (low, high, label) in LIMITS.items():
        text = values[name]
        if not low <= len(text) <= high:
            errors[name] = f"{label}须为 {low}–{high} 个字（现在 {len(text)} 个）"
            continue
        found = [
            label
            for key, label in (("name", "姓名"), ("phone", "电话"), ("employer", "单位名称"))
            if len(personal.get(key) or "") >= 2 and personal[key] in text
        ]
        if redact_spans(text, max_chars=len(text) + 1)[1]:
            found.append("电话、身份证或银行卡等号码")
        if found:
            errors[name] = f"还含有求助人的{'、'.join(found)}，请删去后再发布"
    if errors:
        raise Invalid("公开前请去掉可识别求助人的信息", errors)


def publish_qa(
    help: HelpService, index: CaseIndex, user: User, request_id: int, title: str, question: str, answer: str
) -> str:
    """Publish an anonymised question and answer from request ``request_id``; returns its document id."""
    view = help.for_reviewer(user, request_id)  # a reviewer, a request not purged, the worker's consent
    row = view.row
    if view.answer is None:
        raise Conflict("律师还没有答复，不能公开")
    given = {"title": title, "question": question, "answer": answer}
    values = {name: (text or "").replace("\x00", "").strip() for name, text in given.items()}
    _check(values, help.sealer.open(row.sealed) or {})
    citations = index.citations(values["question"] + "\n\n" + values["answer"])
    stored = {
        "request_id": row.id,
        **values,
        "citations": json.dumps(citations, ensure_ascii=False),
        "topic": row.topic,
        "reviewer_id": user.id,
        "published_at": db.now_iso(),
    }
    with help.store.transaction() as conn:
        qa = help.store.add_qa(conn, stored)
        if qa is None:
            raise Conflict("这个求助的问答已经公开过了")
        help.store.event(conn, row.id, "qa_published", user.id, outcome=f"qa-{qa['id']}")
        index.publish(qa_to_document(qa))  # inside the transaction: an index failure publishes nothing
    return f"qa-{qa['id']}"


def qa_to_document(qa: Any) -> Document:
    """The search document of a published 问答: id ``qa-<n>``, kind ``qa``."""
    citations = [{k: v for k, v in c.items() if k != "resolved"} for c in json.loads(qa["citations"])]
    doc_id = f"qa-{qa['id']}"
    sections = dict(zip(QA_SECTIONS, (qa["question"], qa["answer"]), strict=True))
    return Document(
        id=doc_id,
        kind="qa",
        doc_type="union_qa",
        title=qa["title"],
        text="\n\n".join(f"{k}\n{v}" for k, v in sections.items()),
        source_path=f"store:{doc_id}",
        content_hash=hashlib.sha256(json.dumps(dict(qa), ensure_ascii=False, sort_keys=True).encode()).hexdigest(),
        keywords=[TOPICS[qa["topic"]]] if qa["topic"] in TOPICS else [],
        sections=sections,
        published=(qa["published_at"] or "")[:10],
        region="全国",
        level="national",
        citations=citations,
        cites=list(dict.fromkeys(c["target"] for c in citations if c.get("target"))),
        prior=1.0,
    )


def published_qa_documents(store: HelpStore) -> list[Document]:
    """Every published 问答, for rebuilding the index from corpus plus store."""
    return [qa_to_document(r) for r in store.published_qa()]
