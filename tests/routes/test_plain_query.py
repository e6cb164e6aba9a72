"""/api/search reads a plainly valid query string itself (web.plain_query) and leaves every other one
to FastAPI: the answers are the same either way, and only the cost differs."""

from __future__ import annotations

import re

import pytest
from starlette.datastructures import QueryParams
from starlette.requests import Request

from search_api.routes import api, pages
from search_api.web.plain_query import PlainQueryRoute, plain_query_route

DEFAULTS = {"size": 10, "page": 1, "facets": False, "kind": None, "law": None, "region": None, "topic": None}


def search_route_class() -> type[PlainQueryRoute]:
    (route,) = [r for r in api.router.routes if getattr(r, "path", None) == "/api/search"]
    assert isinstance(route, PlainQueryRoute)
    return type(route)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=欠薪", {"q": "欠薪"}),
        ("q=+欠薪+&size=050&page=3&facets=true", {"q": " 欠薪 ", "size": 50, "page": 3, "facets": True}),
        (
            "q=x&facets=0&kind=case&kind=article&law=labor-law",
            {"q": "x", "kind": ["case", "article"], "law": ["labor-law"]},
        ),
        ("q=x&unknown=1", {"q": "x"}),  # FastAPI ignores undeclared parameters too
    ],
)
def test_plainly_valid_query_strings_are_read_here(query, expected):
    assert api.plain_search_args(QueryParams(query)) == {**DEFAULTS, **expected}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "size=5",
        "q=",
        "q=+%09",
        "q=a&q=b",
        "q=a&size=0",
        "q=a&size=51",
        "q=a&size=abc",
        "q=a&size=%2B5",
        "q=a&size=%EF%BC%95",
        "q=a&page=201",
        "q=a&page=0",
        "q=a&facets=yes",
        "q=a&facets=TRUE",
        "q=a&size=" + "9" * 5000,  # int() would refuse it with a ValueError (a 500)
        "q=a&page=1&page=2",
    ],
)
def test_anything_else_is_left_to_fastapi(query):
    assert api.plain_search_args(QueryParams(query)) is None


QUERIES = [
    "q=被炒鱿鱼了有没有赔偿&size=5",
    "q=加班费&kind=article&size=5&page=2",
    "q=工伤&facets=true&region=全国",
    "q=工伤&facets=yes",  # FastAPI's spelling of true: its handler, the same answer
    "q=欠薪&size=0",
    "q=欠薪&size=abc",
    "q=%20%20",
    "size=5",
    "q=a&q=离职",
    "q=欠薪&page=" + "1" * 5000,
]


def test_both_paths_give_the_same_answers(corpus_client, monkeypatch):
    route_class = search_route_class()
    taken: list[str] = []
    parse = route_class.parse

    def counting(params):
        args = parse(params)
        if args is not None:
            taken.append(str(params))
        return args

    def answers():
        out = []
        for query in QUERIES:
            r = corpus_client.get(f"/api/search?{query}")
            body = r.json()
            for volatile in ("took_ms", "query_id"):
                body.pop(volatile, None)
            out.append((r.status_code, body))
        return out

    monkeypatch.setattr(route_class, "parse", staticmethod(counting))
    plain = answers()
    assert len(taken) == 3  # the first three: read here
    monkeypatch.setattr(route_class, "parse", staticmethod(lambda params: None))
    assert answers() == plain
    # FastAPI's answers: its spelling of true, three refusals (400, its messages), the last q of two
    assert [status for status, _ in plain] == [200, 200, 200, 200, 400, 400, 400, 400, 200, 400]


def test_the_result_page_reads_its_two_parameters_itself_unless_one_is_repeated():
    assert pages.plain_page_args(QueryParams("q=欠薪&page=2")) == {"q": "欠薪", "page": "2"}
    assert pages.plain_page_args(QueryParams("kind=case")) == {"q": "", "page": None}
    assert pages.plain_page_args(QueryParams("q=a&q=b")) is None


def test_the_result_page_is_the_same_on_both_paths(corpus_client, monkeypatch):
    (route,) = [r for r in pages.router.routes if getattr(r, "path", None) == "/search"]
    route_class = type(route)
    assert issubclass(route_class, PlainQueryRoute)
    queries = ["q=加班费&kind=article&page=2", "q=", "q=工伤&q=被辞退了怎么办", "q=被炒了能拿多少钱&script=trad"]

    def pages_seen():
        corpus_client.cookies.clear()  # ?script=trad is remembered in a cookie
        # each search has its own query id in the page's links
        return [re.sub(r"qid=[0-9a-f-]+", "qid=…", corpus_client.get(f"/search?{q}").text) for q in queries]

    try:
        plain = pages_seen()
        monkeypatch.setattr(route_class, "parse", staticmethod(lambda params: None))
        assert pages_seen() == plain
    finally:
        corpus_client.cookies.clear()  # the client is shared: later tests expect simplified pages
    assert "加班" in plain[0] and "被辞退" in plain[2] and "法條" in plain[3]


def test_an_endpoint_with_dependencies_is_refused_when_its_route_is_built():
    from fastapi import APIRouter, Depends

    def needs(request: Request, user: str = Depends(lambda: "x")):
        return user

    async def coroutine(request: Request, q: str = ""):
        return q

    for endpoint in (needs, coroutine):
        with pytest.raises(TypeError, match="plain-query route"):
            APIRouter().add_api_route("/x", endpoint, route_class_override=plain_query_route(lambda params: None))


def test_the_plain_reading_accepts_nothing_the_declared_parameters_refuse(corpus_client):
    """The parser's bounds and defaults are the signature's, as /openapi.json states them: a bound
    narrowed there and not here would let the direct path answer what FastAPI refuses."""
    (operation,) = corpus_client.get("/openapi.json").json()["paths"]["/api/search"].values()
    schema = {p["name"]: p["schema"] for p in operation["parameters"]}
    for name in ("size", "page"):
        low, high, default = schema[name]["minimum"], schema[name]["maximum"], schema[name]["default"]
        assert api.plain_search_args(QueryParams(f"q=a&{name}={low - 1}")) is None
        assert api.plain_search_args(QueryParams(f"q=a&{name}={high + 1}")) is None
        assert api.plain_search_args(QueryParams(f"q=a&{name}={high}"))[name] == high
        assert api.plain_search_args(QueryParams("q=a"))[name] == default
    assert api.plain_search_args(QueryParams("q=a"))["facets"] is schema["facets"]["default"]
    assert set(schema) == {*api.SEARCH_SCALARS, *api.SEARCH_LISTS}
