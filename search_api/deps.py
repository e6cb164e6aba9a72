"""FastAPI dependencies: everything a route needs comes from ``app.state`` set up by ``create_app``."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from fastapi import Request

from search_api.engines.base import SearchEngine
from search_api.monitoring.querylog import QueryLog
from search_api.search.service import SearchService
from search_api.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> SearchEngine:
    return request.app.state.engine


def get_service(request: Request) -> SearchService:
    return request.app.state.service


def get_querylog(request: Request) -> QueryLog | None:
    """The app's query log; None when ``querylog_enabled`` is off."""
    return getattr(request.app.state, "querylog", None)


def client_ip(request: Request) -> str | None:
    """The client's address, decided once for every use (query log, warnings, login throttles).

    The peer address of the connection, unless that peer is a proxy named in
    ``LABOURKB_TRUSTED_PROXIES``: then ``X-Forwarded-For`` is read from the right, and the
    first address that is not a trusted proxy is the client (the left part of the header is
    whatever the client wrote, so it is never believed). ``labourkb serve`` turns uvicorn's own
    proxy-header handling off, so the peer seen here is the real one.
    """
    peer = request.client.host if request.client else None
    trusted = _trusted_networks(get_settings(request).trusted_proxies)
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    client = peer
    for hop in reversed(hops):
        addr = _parse_ip(hop)
        if addr is None:  # garbage in the header: the last proxy we trust is all we know
            return client
        client = str(addr)
        if not any(addr in net for net in trusted):
            return client
    return client


def request_scheme(request: Request) -> str:
    """``https`` or ``http``: how the client reached us, decided by the same trust as ``client_ip``.

    A TLS-terminating proxy forwards plain HTTP; its ``X-Forwarded-Proto`` is believed only
    when the peer is one of ``LABOURKB_TRUSTED_PROXIES``, and only its last value (the one the
    nearest proxy set). From anyone else the header is ignored.
    """
    peer = request.client.host if request.client else None
    trusted = _trusted_networks(get_settings(request).trusted_proxies)
    if trusted and _is_trusted(peer, trusted):
        forwarded = [p.strip().lower() for v in request.headers.getlist("x-forwarded-proto") for p in v.split(",")]
        if forwarded and forwarded[-1] in ("http", "https"):
            return forwarded[-1]
    return request.url.scheme


@lru_cache(maxsize=8)
def _trusted_networks(setting: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip())


def _parse_ip(text: str | None) -> IPAddress | None:
    """An address from a header or peer value; ``[v6]:port`` and ``v4:port`` lose their port."""
    text = (text or "").strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _is_trusted(peer: str | None, trusted: tuple[IPNetwork, ...]) -> bool:
    addr = _parse_ip(peer)
    return addr is not None and any(addr in net for net in trusted)


def user_agent(request: Request) -> str | None:
    return request.headers.get("user-agent")
