"""Server-rendered pages for workers: home, results, article, law and case pages.

Everything works without JavaScript: filters, pagination and the 繁/简 switch are plain
links whose state lives in the URL (the script choice is also remembered in a cookie so
that plain links keep it).
"""

from __future__ import annotations

import functools
import math
from typing import Any
from urllib.parse import quote_plus

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import QueryParams

from ingest.citations import title_key
from ingest.model import Document
from ingest.normalise import normalise
from search_api.calc import CALCULATORS
from search_api.deps import client_ip, get_querylog, get_service, user_agent
from search_api.engines.base import SearchQuery
from search_api.monitoring.querylog import logged_search
from search_api.search.nextsteps import is_dispute_question, next_steps
from search_api.search.present import KIND_LABELS, display_title, filters_from
from search_api.web import plain_query
from search_api.web.markdown import render_markdown
from search_api.web.templating import render

router = APIRouter(include_in_schema=False)

MAX_PAGE = 1000
FACET_PARAMS = (("kind", "类型"), ("law", "法律法规"), ("topic", "主题"), ("region", "地区"))
FACETS_SHOWN = 6  # per group; the rest sit in a <details> so the phone's first screen stays short
# Every facet and page link repeats the query; a long pasted question would otherwise blow
# the page past its 60 KB budget, so the number of facet links shrinks with the link length.
LINK_BYTES_BUDGET = 30_000
LAW_BROWSE_CHUNK = 200
# Case sections in reading order; any others follow in the document's own order.
CASE_SECTIONS = ("关键词", "裁判要点", "相关法条", "基本案情", "裁判结果", "裁判理由")


def parse_page(value: str | None) -> int:
    """Any page parameter → a page number in 1..MAX_PAGE (garbage and negatives → 1)."""
    try:
        return max(1, min(int(str(value).strip()), MAX_PAGE))
    except (TypeError, ValueError):
        return 1


# -- search results ---------------------------------------------------------------
def search_url(params: list[tuple[str, str]], **changes: Any) -> str:
    """/search with ``params`` changed: a value of None removes the key; a list sets several values."""
    out = [(k, v) for k, v in params if k not in changes]
    for key, value in changes.items():
        if value is None:
            continue
        out.extend((key, str(v)) for v in (value if isinstance(value, list) else [value]))
    return "/search?" + "&".join(_pair(k, v) for k, v in out)


@functools.lru_cache(maxsize=4096)
def _pair(key: str, value: str) -> str:
    """``key=value`` as ``urlencode`` writes it. A result page links ~50 filters, each repeating the
    question: encoding it once, not per link, was 8 % of a page's time."""
    return f"{quote_plus(key)}={quote_plus(value)}"


def _toggle(params: list[tuple[str, str]], key: str, value: str) -> str:
    current = [v for k, v in params if k == key]
    new = [v for v in current if v != value] if value in current else [*current, value]
    return search_url(params, **{key: new or None, "page": None})


def facet_groups(
    request: Request, facets: dict[str, dict[str, int]], params: list[tuple[str, str]], max_links: int = 1000
) -> list[dict]:
    """Facet counts → groups of plain links that add or remove one filter (at most ``max_links``)."""
    service = request.app.state.service
    topic_names = {t.id: t.name for t in service.lexicon.topics}
    laws: dict[str, tuple[str, str]] = {}  # law id → (label, facet key)
    for title in facets.get("source_title", {}):
        resolved = service.registry.resolve(title)
        if resolved:
            laws[resolved[1]] = (title_key(title), title)
    values = {
        "kind": [(k, KIND_LABELS.get(k, k), n) for k, n in facets.get("kind", {}).items()],
        "law": [(lid, label, facets["source_title"][key]) for lid, (label, key) in laws.items()],
        "topic": [(t, topic_names.get(t, t), n) for t, n in facets.get("topics", {}).items()],
        "region": [(r, r, n) for r, n in facets.get("region", {}).items()],
    }
    groups = []
    for key, name in FACET_PARAMS:
        active = {v for k, v in params if k == key}
        items = [
            {"label": label, "count": count, "href": _toggle(params, key, value), "active": value in active}
            for value, label, count in values[key]
        ]
        if len(items) > 1 or active:
            items.sort(key=lambda i: not i["active"])  # chosen filters first, each a remove link
            groups.append({"key": key, "name": name, "items": items})
    per_group = max(1, max_links // max(1, len(groups)))
    for g in groups:
        items = g["items"][:per_group]
        g["items"], g["more"] = items[:FACETS_SHOWN], items[FACETS_SHOWN:]
    return groups


def pagination(params: list[tuple[str, str]], page: int, last: int) -> dict | None:
    if last <= 1:
        return None
    window = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    links, prev = [], 0
    for n in window:
        if n - prev > 1:
            links.append({"gap": True})
        links.append({"n": n, "href": search_url(params, page=n if n > 1 else None), "current": n == page})
        prev = n
    return {
        "links": links,
        "prev": search_url(params, page=page - 1 if page > 2 else None) if page > 1 else None,
        "next": search_url(params, page=page + 1) if page < last else None,
        "page": page,
        "last": last,
    }


def last_page_with_hits(service, q: str, filters: dict, size: int, upper: int):
    """The highest page up to ``upper`` that has hits.

    ``total`` counts every match, but an engine may rank only its best candidates, so
    the pages near the computed last one can be empty: bisect for the real end.
    """
    r = service.search(q, filters=filters, page=upper, size=size)
    if r.hits:
        return r
    lo, hi, best = 1, upper, None  # page lo has hits (or is page 1), page hi has none
    while hi - lo > 1:
        mid = (lo + hi) // 2
        probe = service.search(q, filters=filters, page=mid, size=size)
        if probe.hits:
            lo, best = mid, probe
        else:
            hi = mid
    return best or service.search(q, filters=filters, page=1, size=size)


CALC_TITLES = {name: c.title for name, c in CALCULATORS.items()}
RESULTS_BEFORE_STEPS = 3  # the next-steps panel follows the first three results (a phone's first screens)


def known_district(request: Request, value: str | None) -> str | None:
    """The configured district a worker picked; the traditional view sends 市南區 for 市南区."""
    if not value:
        return None
    wanted = normalise(value.strip())
    return next((d for d in request.app.state.settings.district_list if normalise(d) == wanted), None)


def steps_for(request: Request, topics: list[str] = (), district: str | None = None) -> dict:
    """The next-steps panel for these topics, with the district's own contacts when it is known."""
    state = request.app.state
    contacts = state.district_contacts.get(district, []) if district else []
    return next_steps(state.engine, state.next_steps, topics, contacts, CALC_TITLES)


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    """Home: the search box, the common troubles, and what to do in a dispute."""
    return render(request, "index.html", {"steps": steps_for(request)})


def search_page(request: Request, q: str = "", page: str | None = None):
    """Results for a question, with facets, pagination and, for disputes, the next steps."""
    if not q.strip():
        return render(request, "index.html", {"steps": steps_for(request), "empty_query": True})
    # The service reads only this much; cutting here also keeps every link on the page short.
    q = q[: request.app.state.settings.max_query_chars]
    params = [(k, v if k != "q" else q) for k, v in request.query_params.multi_items() if k != "script"]
    qp = request.query_params
    filters = filters_from(qp.getlist("kind"), qp.getlist("law"), qp.getlist("region"), qp.getlist("topic"))
    size = request.app.state.settings.page_size
    page_no = parse_page(page)
    district = known_district(request, qp.get("district"))
    r = logged_search(
        get_service(request),
        get_querylog(request),
        q,
        source="site",
        district=district,
        client_ip=client_ip(request),
        user_agent=user_agent(request),
        filters=filters,
        page=page_no,
        size=size,
        facets=True,
    )
    last = max(1, math.ceil(min(r.total, MAX_PAGE * size) / size))
    service = request.app.state.service
    if r.total and not r.hits and page_no > 1:
        # Past the end (an old link, a typed number): show the last page rather than nothing.
        found = last_page_with_hits(service, q, filters, size, min(page_no, last))
        found.facets, found.query_id = r.facets, r.query_id
        r, last = found, min(last, found.page)
    topics = r.topics
    dispute = r.total == 0 or is_dispute_question(q + " " + " ".join(r.tokens), topics)
    context = {
        "q": q,
        "district": district,
        "r": r,
        "facets": facet_groups(request, r.facets, params, LINK_BYTES_BUDGET // len(search_url(params)))
        if r.total
        else [],
        "pages": pagination(params, r.page, last),
        "first": (r.page - 1) * size + 1,
        "filtered": bool(filters),
        "unfiltered_url": search_url([("q", q)]),
        "steps": steps_for(request, topics, district) if dispute else None,
        "split": RESULTS_BEFORE_STEPS,
    }
    return render(request, "search.html", context)


def plain_page_args(params: QueryParams) -> dict[str, Any] | None:
    """``search_page``'s arguments, read without FastAPI's parameter solving (web.plain_query: a
    tenth of a cached page's time); a repeated ``q`` or ``page`` is left to FastAPI."""
    if not plain_query.single(params, ("q", "page")):
        return None
    return {"q": params.get("q", ""), "page": params.get("page")}


router.add_api_route(
    "/search",
    search_page,
    methods=["GET"],
    response_class=HTMLResponse,
    route_class_override=plain_query.plain_query_route(plain_page_args),
)


# -- documents ------------------------------------------------------------------------
def law_articles(engine, law_id: str) -> list[Document]:
    """All articles of a law, in article order (browse the engine in chunks)."""
    out: list[Document] = []
    while True:
        res = engine.search(
            SearchQuery(
                terms=[], filters={"source_id": [law_id], "kind": ["article"]}, size=LAW_BROWSE_CHUNK, offset=len(out)
            )
        )
        out.extend(h.doc for h in res.hits)
        if not res.hits or len(out) >= res.total:
            break
    out.sort(key=lambda d: d.article or 0)
    return out


def outline(articles: list[Document]) -> list[dict]:
    """Articles interleaved with chapter/section headings where the chapter path changes."""
    items: list[dict] = []
    prev: list[str] = []
    for a in articles:
        path = list(a.chapter_path)
        common = 0
        while common < min(len(path), len(prev)) and path[common] == prev[common]:
            common += 1
        for level in range(common, len(path)):
            items.append({"heading": path[level], "level": level, "anchor": f"c{len(items)}"})
        items.append({"article": a})
        prev = path
    return items


def _neighbours(engine, doc: Document) -> tuple[Document | None, Document | None]:
    if doc.article is None or not doc.source_id:
        return None, None
    ids = [f"{doc.source_id}.{doc.article - 1}", f"{doc.source_id}.{doc.article + 1}"]
    found = {d.id: d for d in engine.get_many(ids)}
    if len(found) < 2 and doc.article > 1:
        # Ids are <law>.<n>; a gap in numbering (rare) needs the ordered list.
        arts = law_articles(engine, doc.source_id)
        nums = [a.article for a in arts]
        i = nums.index(doc.article) if doc.article in nums else -1
        if i >= 0:
            return (arts[i - 1] if i > 0 else None), (arts[i + 1] if i + 1 < len(arts) else None)
    return found.get(ids[0]), found.get(ids[1])


def _annotation(source: str):
    return render_markdown(source)


@router.get("/doc/{doc_id}", response_class=HTMLResponse)
def document_page(request: Request, doc_id: str):
    """One document: an article in its law's context, a whole law with its contents, a case."""
    engine = request.app.state.engine
    doc = engine.get(doc_id)
    if doc is None:
        raise HTTPException(status_code=404)
    ctx: dict[str, Any] = {"doc": doc, "display_title": display_title(doc)}
    if doc.kind == "article":
        ctx["law"] = engine.get(doc.source_id) if doc.source_id else None
        ctx["prev"], ctx["next"] = _neighbours(engine, doc)
        ctx["cited_by"] = request.app.state.service.citing_cases(doc.id, size=50)
        return render(request, "article.html", ctx)
    if doc.kind == "law":
        arts = law_articles(engine, doc.id)
        ctx["outline"] = outline(arts)
        ctx["count"] = len(arts)
        return render(request, "law.html", ctx)
    if doc.kind == "case":
        order = [s for s in CASE_SECTIONS if s in doc.sections] + [s for s in doc.sections if s not in CASE_SECTIONS]
        ctx["sections"] = [(name, doc.sections[name]) for name in order]
        found = {d.id: d for d in engine.get_many(doc.cites)}
        ctx["cited"] = [found[i] for i in doc.cites if i in found]
        ctx["annotation"] = _annotation(doc.annotation) if doc.annotation else None
        return render(request, "case.html", ctx)
    return render(request, "doc.html", ctx)
