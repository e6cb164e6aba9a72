"""The OpenAPI page (``/docs``), served with Swagger UI's own files from this server.

The assets come from the ``fastapi-offline`` package (Swagger UI 5, which reads the OpenAPI
3.1 that FastAPI writes; mounted at ``/static/swagger``), so the page works offline and where
the usual CDN is unreachable. ``tests/browser/test_docs_offline.py`` opens it with every other
host blocked.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

# the package's own static folder (swagger-ui-bundle.js, swagger-ui.css, favicon.png)
SWAGGER_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
SWAGGER_STATIC = "/static/swagger"
router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} · API",
        swagger_js_url=f"{SWAGGER_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_STATIC}/favicon.png",
    )
