"""The JSON API contract of DESIGN.md, on the real corpus and the embedded engine."""

import pytest


def test_search_contract_fields(corpus_client):
    r = corpus_client.get("/api/search", params={"q": "被炒鱿鱼了有没有赔偿", "size": 5})
    assert r.status_code == 200
    data = r.json()
    assert data["total"] > 0 and len(data["hits"]) == 5
    for hit in data["hits"]:
        for key in ("id", "kind", "title", "url", "snippet"):
            assert hit[key], key
        assert hit["kind"] in ("article", "law", "case", "policy", "news")
        if hit["kind"] == "article":
            assert (
                isinstance(hit["article"], int) and hit["source_title"].startswith(("中华人民共和国", "最高", "工伤"))
            ) or hit["source_title"]
    articles = [h for h in data["hits"] if h["kind"] == "article"]
    assert articles


def test_article_number_and_official_title(corpus_client):
    data = corpus_client.get("/api/search", params={"q": "劳动合同法第47条"}).json()
    top = data["hits"][0]
    assert top["id"] == "labor-contract-law.47"
    assert top["article"] == 47 and top["source_title"] == "中华人民共和国劳动合同法"
    assert top["url"] == "/doc/labor-contract-law.47"


def test_guiding_case_number(corpus_client):
    data = corpus_client.get("/api/search", params={"q": "末位淘汰 不能胜任工作", "kind": "case"}).json()
    case = next(h for h in data["hits"] if h["id"].startswith("guiding-case-018"))
    assert case["case_number"] == 18


def test_kind_filter_and_pagination(corpus_client):
    p1 = corpus_client.get("/api/search", params={"q": "加班费", "kind": "article", "size": 5, "page": 1}).json()
    p2 = corpus_client.get("/api/search", params={"q": "加班费", "kind": "article", "size": 5, "page": 2}).json()
    assert {h["kind"] for h in p1["hits"] + p2["hits"]} == {"article"}
    assert not {h["id"] for h in p1["hits"]} & {h["id"] for h in p2["hits"]}
    assert p1["total"] == p2["total"]


@pytest.mark.parametrize("q", ["", "   ", "\t\n"])
def test_empty_query_is_400_with_message(corpus_client, q):
    r = corpus_client.get("/api/search", params={"q": q})
    assert r.status_code == 400
    assert "q" in r.json()["error"] or "搜索" in r.json()["error"]


HOSTILE = [
    "工资" * 2000 + "x" * 6000,  # 10,000 characters (a URL stays under httpx's 64 KB limit)
    "\x00\x07\x1b[31m控制字符\x7f",
    '"unbalanced quote',
    "AND OR NOT",
    "工资 AND 赔偿",
    "加班* OR 工伤",
    'NEAR("工伤" "认定", 3)',
    "title:工资 body:赔偿",
    "((((工伤",
    "工伤)))",
    '{"query": {"match_all": {}}}',
    "<script>alert(1)</script>",
    "'; DROP TABLE docs; --",
]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_queries_are_answered_never_500(corpus_client, q):
    r = corpus_client.get("/api/search", params={"q": q})
    assert r.status_code == 200, r.text[:300]
    assert "hits" in r.json()


def test_filler_only_query_is_helpfully_empty(corpus_client):
    data = corpus_client.get("/api/search", params={"q": "怎么办？"}).json()
    assert data["total"] == 0 and data["hits"] == []
    assert data["message"]


def test_bad_parameters_are_400_not_500(corpus_client):
    assert corpus_client.get("/api/search", params={"q": "工资", "size": "many"}).status_code == 400
    assert corpus_client.get("/api/search", params={"q": "工资", "page": "-3"}).status_code == 400


def test_document_endpoint(corpus_client):
    r = corpus_client.get("/api/documents/labor-contract-law.40")
    assert r.status_code == 200
    doc = r.json()
    assert doc["text"].startswith("第四十条")
    assert doc["source_title"] == "中华人民共和国劳动合同法" and doc["article"] == 40
    assert doc["chapter_path"] and "tokens" not in doc
    assert any(c["id"].startswith("guiding-case-018") for c in doc["cited_by"])


def test_unknown_document_is_404_json(corpus_client):
    r = corpus_client.get("/api/documents/no-such-doc")
    assert r.status_code == 404 and r.json()["error"]


def test_openapi_and_docs(corpus_client):
    spec = corpus_client.get("/openapi.json").json()
    assert "/api/search" in spec["paths"] and "/api/documents/{doc_id}" in spec["paths"]
    assert corpus_client.get("/docs").status_code == 200


def test_healthz(corpus_client):
    r = corpus_client.get("/healthz")
    assert r.status_code == 200 and r.json()["engine"]["ok"] is True


def test_top_articles_come_with_the_cases_citing_them(corpus_client):
    data = corpus_client.get("/api/search", params={"q": "劳动合同法第40条", "size": 3}).json()
    top = data["hits"][0]
    assert top["id"] == "labor-contract-law.40"
    related = [c["id"] for c in top["related_cases"]]
    assert any(r.startswith("guiding-case-018") for r in related)  # 末位淘汰 case cites §39 and §40
    for c in top["related_cases"]:
        case = corpus_client.get(f"/api/documents/{c['id']}").json()
        assert "labor-contract-law.40" in case["cites"]
