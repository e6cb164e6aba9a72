"""The one place an Elasticsearch client is built from the settings (engine and query-log sink)."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch, OrjsonSerializer

from search_api.settings import Settings


def make_client(settings: Settings, *, timeout: float | None = None, retries: int = 1) -> Elasticsearch:
    """A client for ``settings.es_url`` (one node or a comma-separated list) with its credentials and TLS.

    ``timeout`` defaults to ``settings.es_timeout``; ``retries`` are quick retries on connection
    errors only (bulk requests have their own back-off, the query log spools instead).
    """
    kwargs: dict[str, Any] = {
        "request_timeout": settings.es_timeout if timeout is None else timeout,
        "max_retries": retries,
        "retry_on_timeout": False,
        "verify_certs": settings.es_verify_certs,
        # orjson decodes a search's answer (300 candidates' named scores) in a third of json's time
        "serializer": OrjsonSerializer(),
    }
    if settings.es_ca_certs:
        kwargs["ca_certs"] = str(settings.es_ca_certs)
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key
    elif settings.es_username:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password or "")
    hosts = [u.strip() for u in settings.es_url.split(",") if u.strip()]
    return Elasticsearch(hosts, **kwargs)
