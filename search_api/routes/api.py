"""The JSON API (stable contract, see DESIGN.md) and the health check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import QueryParams

from search_api.deps import client_ip, get_engine, get_querylog, get_service, user_agent
from search_api.engines.base import SearchEngine
from search_api.monitoring.querylog import logged_search
from search_api.search.present import doc_url, filters_from
from search_api.web import plain_query
from search_api.web.openapi import errors
from search_api.web.schemas import DocumentBody, Health, SearchResults

router = APIRouter()


def api_search(
    request: Request,
    q: Annotated[
        str,
        Query(
            min_length=1,
            pattern=r"\S",
            description="The question or words, in simplified or traditional Chinese (required, not blank).",
            examples=["老板拖欠工资三个月不发怎么办", "被辞退 经济补偿"],
        ),
    ],
    size: Annotated[int, Query(ge=1, le=50, description="Hits per page.")] = 10,
    page: Annotated[
        int, Query(ge=1, le=200, description="Page number, from 1 (at most 200: 10,000 results deep).")
    ] = 1,
    kind: Annotated[list[str] | None, Query(description="Filter: article, law, case, policy, news.")] = None,
    law: Annotated[
        list[str] | None, Query(description="Filter: whole-law document id, e.g. labor-contract-law.")
    ] = None,
    region: Annotated[list[str] | None, Query(description="Filter: region, e.g. 全国, 上海.")] = None,
    topic: Annotated[list[str] | None, Query(description="Filter: topic id from the project taxonomy.")] = None,
    facets: Annotated[bool, Query(description="Include facet counts.")] = False,
) -> JSONResponse:
    """Search articles, laws, cases, policies and news.

    Returns `total` and `hits`; each hit has `id`, `kind`, `title`, `url`, `snippet` (HTML with
    `<mark>` around matched words, computed on the original text), and for an article
    `source_title` and `article` (integer); for a guiding case `case_number`. `suggestion`
    offers a better query when little or nothing was found. `answer` (null unless `confident` and
    the first hit is an article, on page 1) is the article's own sentence that answers the question
    with its citation, e.g. 劳动争议仲裁不收费。——《劳动争议调解仲裁法》第五十三条, the article's
    nearest everyday question and the calculator for the question's topic. An empty query is a 400.

    `kind`, `law`, `region` and `topic` narrow the question's answer: the question is ranked as
    without them and the hits that pass are returned in that order, so a filter's `total` is the
    count `facets` gave it.
    """
    if not q.strip():
        raise HTTPException(status_code=400, detail="请输入要搜索的问题或关键词（参数 q 不能为空）")
    response = logged_search(
        get_service(request),
        get_querylog(request),
        q,
        source="api",
        client_ip=client_ip(request),
        user_agent=user_agent(request),
        filters=filters_from(kind, law, region, topic),
        page=page,
        size=size,
        facets=facets,
    )
    # already JSON types: sent as they are (FastAPI's jsonable_encoder walk was 5 % of a warm search)
    return JSONResponse(response.as_dict())


SEARCH_SCALARS = ("q", "size", "page", "facets")
SEARCH_LISTS = ("kind", "law", "region", "topic")


def plain_search_args(params: QueryParams) -> dict[str, Any] | None:
    """``api_search``'s arguments when the query string is plainly valid (web.plain_query); ``None``
    leaves the request to FastAPI's validation."""
    if not plain_query.single(params, SEARCH_SCALARS):
        return None
    args: dict[str, Any] = {
        "q": plain_query.text(params.get("q")),
        "size": plain_query.integer(params.get("size"), 10, 1, 50),
        "page": plain_query.integer(params.get("page"), 1, 1, 200),
        "facets": plain_query.boolean(params.get("facets"), False),
    }
    if any(v is None for v in args.values()):
        return None
    for name in SEARCH_LISTS:
        args[name] = params.getlist(name) or None
    return args


router.add_api_route(
    "/api/search",
    api_search,
    methods=["GET"],
    tags=["search"],
    response_model=None,
    responses={200: {"model": SearchResults}, **errors(400, 503)},
    route_class_override=plain_query.plain_query_route(plain_search_args),
)


@router.get(
    "/api/documents/{doc_id}",
    tags=["documents"],
    response_model=None,
    responses={200: {"model": DocumentBody}, **errors(404, 503)},
)
def api_document(
    request: Request,
    doc_id: Annotated[str, Path(description="A document id.", examples=["labor-contract-law.47"])],
    engine: Annotated[SearchEngine, Depends(get_engine)],
) -> dict[str, Any]:
    """One document with its cleaned `text` and metadata; an article also lists the cases citing it (`cited_by`)."""
    doc = engine.get(doc_id)
    if doc is None:
        raise HTTPException(status_code=404, detail="找不到这个文档")
    data = doc.as_dict()
    data.pop("tokens", None)
    if doc.kind == "article":
        data["cited_by"] = [
            {"id": c.id, "title": c.title, "url": doc_url(c.id)}
            for c in request.app.state.service.citing_cases(doc.id, size=50)
        ]
    return data


@router.get(
    "/healthz",
    tags=["health"],
    response_model=None,
    responses={200: {"model": Health}, 503: {"model": Health, "description": "The engine does not answer."}},
)
def healthz(request: Request) -> JSONResponse:
    """Engine health: 200 when searches can be answered, 503 otherwise. ``semantic`` says whether the
    semantic retriever is ready (or why searches are answered lexically only)."""
    health = request.app.state.engine.health()
    return JSONResponse(
        {
            "status": "ok" if health.get("ok") else "unavailable",
            "engine": health,
            **request.app.state.service.semantic.health(),
        },
        status_code=200 if health.get("ok") else 503,
    )
