"""The JSON bodies the API answers with, as the OpenAPI description shows them.

These models only describe: routes hand them to FastAPI as ``responses={200: {"model": …}}``,
so nothing is validated or filtered when a response leaves (a route returns its dict as it
always did). ``tests/routes/test_openapi_conformance.py`` checks every answer against them.
A key that is not always present has a default; every other key is required.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from search_api.cases.workflow import CaseState

Kind = Literal["article", "law", "case", "policy", "news", "qa"]


class Error(BaseModel):
    """Every refusal, from every part of the API."""

    error: str = Field(description="中文说明，可直接展示给用户")
    status: int = Field(description="The HTTP status, repeated.")
    errors: dict[str, str] = Field(default_factory=dict, description="字段 → 说明 (refused fields only)")
    detail: str = Field("", description="What exactly was wrong, e.g. the parameter.")


# ---- search and documents ---------------------------------------------------------------


class RelatedCase(BaseModel):
    id: str
    title: str
    url: str
    case_number: int | None


class Hit(BaseModel):
    """One result; which optional keys are present depends on ``kind``."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: Kind
    kind_label: str
    doc_type: str
    title: str
    display_title: str
    url: str
    snippet: str = Field(description="HTML: the text around the matched words, each in <mark>.")
    score: float
    region: str
    source_title: str = Field("", description="Articles and laws: the full official title of the law.")
    short_title: str = Field("", description="Articles and laws.")
    source_id: str = Field("", description="Articles and laws: the whole law's document id.")
    article: int = Field(0, description="Articles: the article number (第四十七条 → 47).")
    article_label: str = Field("", description="Articles: 第四十七条.")
    chapter_path: list[str] = Field(default_factory=list, description="Articles: 编/章/节 headings above it.")
    case_number: int | None = Field(None, description="Cases: 指导案例N号 → N (null for other cases).")
    cites: list[str] = Field(default_factory=list, description="Cases: ids of the articles it cites.")
    related_cases: list[RelatedCase] = Field(
        default_factory=list, description="The first articles on page 1: cases citing them."
    )


class CalculatorLink(BaseModel):
    name: str
    title: str
    url: str


class AnswerCard(BaseModel):
    """The article's own sentence that answers the question, with its citation (search_api.search.answer)."""

    id: str = Field(description="The article's document id, e.g. labor-dispute-mediation-arbitration-law.53.")
    url: str
    sentence: str = Field(description="One sentence (款/项) of the article, verbatim: 劳动争议仲裁不收费。")
    highlighted: str = Field(description="HTML: the sentence with the matched words in <mark>.")
    citation: str = Field(description="《劳动争议调解仲裁法》第五十三条")
    quote: str = Field(description="Sentence and citation, ready to copy: 劳动争议仲裁不收费。——《…》第五十三条")
    source_title: str = Field(description="The law's full official title.")
    article: int | None = Field(description="The article number (第五十三条 → 53).")
    question: str | None = Field(description="The everyday question nearest to the one asked.")
    calculator: CalculatorLink | None = Field(description="The calculator for the question's topic.")


class SearchResults(BaseModel):
    query: str
    total: int
    page: int
    size: int
    took_ms: float
    suggestion: str | None = Field(description="A better question when little or nothing was found.")
    corrected: str | None = Field(description="The question as searched, when typos were corrected.")
    tokens: list[str]
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = Field(description="With facets=true: value → count, per field.")
    confident: bool = Field(description="The first hit answers the question with some certainty.")
    answer: AnswerCard | None = Field(
        description="Null unless `confident` and the first hit is an article (page 1 only) and one of its"
        " sentences carries the question's words."
    )
    query_id: str = Field("", description="Identifies this search in the query log (for click links).")
    message: str = Field("", description="Present when the question held no words to search for.")


class CitingCase(BaseModel):
    id: str
    title: str
    url: str


class DocumentBody(BaseModel):
    """A document with its cleaned text; an article also lists the cases citing it."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: Kind
    title: str
    text: str
    doc_type: str
    source_id: str
    source_title: str
    short_title: str
    article: int | None
    article_label: str
    chapter_path: list[str]
    region: str
    in_force: bool
    case_number: int | None
    keywords: list[str]
    sections: dict[str, str]
    citations: list[dict[str, Any]]
    cites: list[str]
    topics: list[str]
    url: str
    cited_by: list[CitingCase] = Field(default_factory=list, description="Articles only.")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    engine: dict[str, Any] = Field(description="The engine's own report; ``ok`` says whether it answers.")
    semantic: str = Field(description="off, building, ready, or why the semantic layer is unavailable.")


# ---- lawyers' cases -----------------------------------------------------------------------


class Case(BaseModel):
    id: int
    doc_id: str = Field(description="The document id once published: lawyer-case-<id>.")
    state: CaseState
    author: str
    version: int
    published_version: int | None
    created_at: str
    updated_at: str
    published_at: str | None
    fields: dict[str, Any] = Field(description="The case template's fields, as saved.")
    citations: list[dict[str, Any]] = Field(description="Articles cited; ``resolved`` says whether each was found.")
    warnings: list[str]


class CaseList(BaseModel):
    cases: list[Case]


class ImportLine(BaseModel):
    line: int
    ok: bool
    id: int = Field(0, description="The new case (ok lines).")
    state: CaseState = Field("draft", description="Its state (ok lines).")
    warnings: list[str] = Field(default_factory=list)
    errors: dict[str, str] = Field(default_factory=dict, description="Why the line was refused.")


class ImportReport(BaseModel):
    total: int
    ok: int
    failed: int
    lines: list[ImportLine]


class CaseDiff(BaseModel):
    a: int
    b: int
    diff: str = Field(description="Unified diff, field by field.")


# ---- monitoring ---------------------------------------------------------------------------


class QueryAttributes(BaseModel):
    """Our own fields of a logged search (UBI's ``query_attributes``)."""

    tokens: list[str] = Field(description="The query's words as the search used them (redacted, masked).")
    filters: dict[str, Any]
    engine: str
    total: int | None = Field(description="How many documents matched; null if the search failed.")
    took_ms: float | None
    failed: bool
    source: str = Field(description="site or api.")
    district: str | None
    topics: list[str] = Field(description="Topic ids of the lexicon.")


class LogRecord(BaseModel):
    """One search as an OpenSearch UBI ``ubi_queries`` document (docs/monitoring-ubi.md): redacted,
    employer names below the threshold masked."""

    application: str
    query_id: str
    query_response_id: str = Field(description="The id of the response (one per query).")
    client_id: str = Field(description="A salted hash, never an address.")
    timestamp: str = Field(description="UTC, ISO 8601 with a trailing Z.")
    user_query: str
    query_response_hit_ids: list[str]
    object_id_field: str
    query_attributes: QueryAttributes
    cursor: str = Field(description="Resume after this record: pass it as ``cursor``.")


class QueryCount(BaseModel):
    query: str
    count: int
    visitors: int
    zero: int = Field(0, description="top_queries only: how many found nothing.")


class LogStats(BaseModel):
    since: str | None
    until: str | None
    district: str | None
    queries: int
    visitors: int
    zero_results: int
    failed: int
    avg_took_ms: float | None
    clicked_queries: int
    click_through_rate: float | None
    top_queries: list[QueryCount]
    zero_result_queries: list[QueryCount]
    unclicked_queries: list[QueryCount]
    topics_by_week: dict[str, dict[str, int]] = Field(
        description="Monday (Asia/Shanghai) → topic → queries; a query with several topics counts for each."
    )
    topics_by_district: dict[str, dict[str, int]]
    queries_by_district: dict[str, int] = Field(
        description="District (未选择: none chosen) → queries, each counted once: these add up to ``queries``."
    )


# ---- request bodies the routes read themselves (``openapi_extra``) ------------------------


def _case_fields() -> dict[str, Any]:
    from search_api.cases.fields import FIELD_LABELS, MAX_KEYWORD_CHARS, MAX_KEYWORDS, MAX_SHORT_CHARS

    # As ``fields.validate_case`` reads them: a number is kept as its text, null as empty.
    text = ["string", "number", "null"]
    fields: dict[str, Any] = {
        name: {"type": text, "description": label} for name, label in FIELD_LABELS.items() if name != "keywords"
    }
    fields["keywords"] = {
        "description": f"关键词：文本列表，或以、，分隔的文本（最多 {MAX_KEYWORDS} 个，每个不超过 "
        f"{MAX_KEYWORD_CHARS} 字）",
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": ["string", "null"]}],
    }
    fields["judgment_date"]["description"] += "（YYYY-MM-DD，不晚于今天）"
    for name in ("title", "case_no", "court", "region", "source"):
        fields[name]["description"] += f"（不超过 {MAX_SHORT_CHARS} 字）"
    # Required: some character that is neither a space nor a control (those are removed).
    fields["title"].update(type=["string", "number"], pattern=r"[^\s\x00-\x1f\x7f-\x9f]")
    return fields


def case_body(*, put: bool = False) -> dict[str, Any]:
    """The case object of ``POST /api/cases`` and ``PUT /api/cases/{id}``: a draft needs only a
    ``title``. The rules JSON Schema cannot say (lengths after spaces are collapsed, dates not
    after today, the whole template to submit) are answered with a 422 naming each field."""
    properties = _case_fields()
    if put:
        properties["base_version"] = {
            "type": ["integer", "null"],
            "description": "The version this edit starts from: 409 when the case has a newer one.",
        }
    schema = {"type": "object", "required": ["title"], "properties": properties}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


REVIEW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["action"],
                    "properties": {
                        "action": {"enum": ["publish", "return"], "description": "publish：发布；return：退回"},
                        "comment": {"type": ["string", "null"], "description": "审核意见（退回时必填）"},
                    },
                }
            }
        },
    }
}


def import_body() -> dict[str, Any]:
    """``POST /api/cases/import``: JSON Lines, one case object per line (read as the whole stream)."""
    item = {"type": "object", "properties": _case_fields()}
    return {
        "requestBody": {
            "content": {"application/x-ndjson": {"schema": {"type": "array", "items": item}}},
            "description": "One case per line; a bad line is reported and skipped.",
        }
    }
