"""Engine selection. Engine modules are imported lazily: the embedded default needs no ES client."""

from __future__ import annotations

from search_api.engines.base import SearchEngine
from search_api.settings import Settings

ENGINES = ("sqlite", "elasticsearch")


def get_engine(settings: Settings) -> SearchEngine:
    """The engine named by ``settings.engine``."""
    if settings.engine == "sqlite":
        from search_api.engines.sqlite import SqliteEngine

        return SqliteEngine.from_settings(settings)
    if settings.engine == "elasticsearch":
        from search_api.engines.elasticsearch import ElasticsearchEngine

        return ElasticsearchEngine.from_settings(settings)
    raise ValueError(f"LABOURKB_ENGINE must be one of {', '.join(ENGINES)}, not {settings.engine!r}")
