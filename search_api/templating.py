"""Jinja2 environment: filters and globals shared by every page."""

from __future__ import annotations

from fastapi.templating import Jinja2Templates

from ingest.normalise import to_traditional
from search_api.service import KIND_LABELS
from search_api.settings import Settings


def configure(templates: Jinja2Templates, settings: Settings) -> Jinja2Templates:
    env = templates.env
    env.globals["kind_labels"] = KIND_LABELS
    env.globals["settings"] = settings
    env.filters["traditional"] = to_traditional
    return templates
