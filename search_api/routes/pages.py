"""Server-rendered pages for workers (work without JavaScript)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from search_api.deps import logged_search
from search_api.routes.api import filters_from

router = APIRouter(include_in_schema=False)


def _int(value: str | None, default: int = 1) -> int:
    try:
        return max(1, min(int(value or default), 1000))
    except ValueError:
        return default


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    return request.app.state.templates.TemplateResponse(request, "index.html", {"q": ""})


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, q: str = "", page: str | None = None):
    params = request.query_params
    if not q.strip():
        return request.app.state.templates.TemplateResponse(request, "index.html", {"q": ""})
    filters = filters_from(params.getlist("kind"), params.getlist("law"), params.getlist("region"), params.getlist("topic"))
    result = logged_search(request, q, source="site", filters=filters, page=_int(page),
                           size=request.app.state.settings.page_size, facets=True)
    return request.app.state.templates.TemplateResponse(request, "search.html", {"q": q, "r": result})


@router.get("/doc/{doc_id}", response_class=HTMLResponse)
def document_page(request: Request, doc_id: str):
    engine = request.app.state.engine
    doc = engine.get(doc_id)
    if doc is None:
        raise HTTPException(status_code=404)
    cited_by = request.app.state.service.citing_cases(doc.id, size=50) if doc.kind == "article" else []
    return request.app.state.templates.TemplateResponse(request, "doc.html", {"doc": doc, "cited_by": cited_by, "q": ""})
