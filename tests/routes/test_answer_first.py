"""Issue 16 over HTTP: the answer card (page and JSON), the next steps by topic after the third result,
the district's own contacts, and the traditional view in Taiwan standard forms."""

from __future__ import annotations

import textwrap

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from search_api.app import create_app
from tests.conftest import make_settings

ARBITRATION_FEE = "去仲裁委告老板要花钱吗"
DISMISSED = "公司把我开了能要多少补偿"


def soup(response) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:300]
    return BeautifulSoup(response.text, "html.parser")


def test_card_answers_the_arbitration_fee_with_its_article(corpus_client):
    page = soup(corpus_client.get("/search", params={"q": ARBITRATION_FEE}))
    card = page.select_one("main section.answer")
    assert card is not None
    quote = card.select_one("blockquote")
    assert quote.select_one("p").get_text() == "劳动争议仲裁不收费。"
    assert "收费" in [m.get_text() for m in quote.select("mark")]
    cite = quote.select_one("footer a")
    assert cite.get_text() == "《劳动争议调解仲裁法》第五十三条"
    assert cite["href"] == "/doc/labor-dispute-mediation-arbitration-law.53"
    assert "申请劳动仲裁要交钱吗" in card.get_text()  # the article's everyday question
    assert card.select_one("p.calc-link a")["href"].startswith("/calc/")
    # the card opens the results: before the count and the first hit
    main = str(page.select_one("main"))
    assert main.index('class="answer"') < main.index('class="hit"')


def test_card_in_the_json_api(corpus_client):
    data = corpus_client.get("/api/search", params={"q": ARBITRATION_FEE}).json()
    assert data["confident"] is True
    answer = data["answer"]
    assert answer["id"] == "labor-dispute-mediation-arbitration-law.53"
    assert answer["sentence"] == "劳动争议仲裁不收费。"
    assert answer["citation"] == "《劳动争议调解仲裁法》第五十三条"
    assert answer["quote"] == "劳动争议仲裁不收费。——《劳动争议调解仲裁法》第五十三条"
    assert answer["source_title"] == "中华人民共和国劳动争议调解仲裁法" and answer["article"] == 53
    assert "<mark>收费</mark>" in answer["highlighted"]
    assert answer["question"] == "申请劳动仲裁要交钱吗"
    assert answer["calculator"]["url"] == f"/calc/{answer['calculator']['name']}"


def test_card_links_the_calculator_of_the_topic(corpus_client):
    answer = corpus_client.get("/api/search", params={"q": "被炒鱿鱼有赔偿吗"}).json()["answer"]
    assert answer["calculator"] == {"name": "severance", "title": "经济补偿计算器", "url": "/calc/severance"}
    assert answer["sentence"] in corpus_client.get(f"/api/documents/{answer['id']}").json()["text"]


@pytest.mark.parametrize("q", ["今天天气怎么样", "xyzzyqq"])
def test_no_card_without_an_answer(corpus_client, q):
    page = soup(corpus_client.get("/search", params={"q": q}))
    assert page.select_one("section.answer") is None
    assert corpus_client.get("/api/search", params={"q": q}).json()["answer"] is None


def test_no_card_past_the_first_page(corpus_client):
    data = corpus_client.get("/api/search", params={"q": ARBITRATION_FEE, "page": 2}).json()
    assert data["answer"] is None


def test_dismissal_steps_sit_after_the_third_result(corpus_client):
    page = soup(corpus_client.get("/search", params={"q": DISMISSED}))
    main = page.select_one("main")
    panel = main.select_one("aside.steps")
    assert panel["data-topic"] == "dismissal"
    assert panel.select_one("h2").get_text() == "被辞退、解除劳动合同：下一步怎么办"
    # server-rendered order: three results, the panel, then the fourth result onwards
    hits = main.select("li.hit")
    assert len(hits) >= 4
    order = [el for el in main.find_all(["li", "aside"]) if el.name == "aside" or "hit" in el.get("class", [])]
    assert order.index(panel) == 3
    assert [ol["start"] for ol in main.select("ol.hits")] == ["1", "4"]
    calcs = {a.get_text(): a["href"] for a in panel.select("p.calcs a")}
    assert calcs["经济补偿"] == "/calc/severance" and calcs["违法解除赔偿金"] == "/calc/unlawful-termination"
    links = {a["href"] for a in panel.select("li a")}
    assert {
        "/doc/labor-dispute-mediation-arbitration-law.27",  # 仲裁时效一年
        "/doc/labor-contract-law.87",  # 违法解除的赔偿金
        "/doc/labor-dispute-mediation-arbitration-law.53",  # 仲裁不收费 (general)
    } <= links
    assert panel.select("ul.evidence li") and "热线" in panel.get_text()
    assert panel.select_one("p.help a")["href"] == "/help"  # 我要维权: the online help request


@pytest.mark.parametrize(
    ("q", "topic", "article"),
    [
        ("上班路上出车祸算工伤吗", "work_injury", "/doc/work-injury-insurance-regulations.17"),
        ("公司拖欠工资怎么办", "wage_arrears", "/doc/labor-security-supervision-regulations.20"),
        ("公司不交社保怎么办", "social_insurance", "/doc/social-insurance-law.63"),
    ],
)
def test_steps_follow_the_question_topic(corpus_client, q, topic, article):
    panel = soup(corpus_client.get("/search", params={"q": q})).select_one("aside.steps")
    assert panel["data-topic"] == topic
    assert article in {a["href"] for a in panel.select("li a")}


def contacts_client(tmp_path, corpus_index):
    path = tmp_path / "contacts.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            contacts:
              - district: 市南区
                name: 市南区劳动人事争议仲裁院（测试）
                address: 测试路 1 号
                phone: 0000-1111
            """
        ),
        encoding="utf-8",
    )
    settings = make_settings(tmp_path / "data", sqlite_path=corpus_index, district_contacts_file=path)
    return TestClient(create_app(settings))


def test_the_district_chosen_shows_its_contacts(tmp_path, corpus_index):
    with contacts_client(tmp_path, corpus_index) as client:
        with_district = soup(client.get("/search", params={"q": DISMISSED, "district": "市南区"}))
        contacts = with_district.select_one("aside.steps ul.contacts")
        assert contacts is not None and "测试路 1 号" in contacts.get_text()
        assert contacts.select_one("a")["href"] == "tel:00001111"
        # the traditional view's form sends the district in traditional characters
        trad = soup(client.get("/search", params={"q": DISMISSED, "district": "市南區", "script": "trad"}))
        assert "測試路 1 號" in trad.select_one("aside.steps ul.contacts").get_text()
        client.cookies.clear()
        # another district, or none chosen: no contacts, the national hotlines only
        for params in ({"q": DISMISSED, "district": "市北区"}, {"q": DISMISSED}):
            panel = soup(client.get("/search", params=params)).select_one("aside.steps")
            assert panel.select_one("ul.contacts") is None and "12351" in panel.get_text()


def test_traditional_view_uses_taiwan_standard_forms(corpus_client):
    page = corpus_client.get("/search", params={"q": ARBITRATION_FEE, "script": "trad"}).text
    assert "勞動爭議仲裁不收費" in page
    assert "為" in page and "爲" not in page  # 為 (Taiwan/Hong Kong standard), not OpenCC's inherited 爲
    doc = corpus_client.get("/doc/labor-contract-law.47", params={"script": "trad"}).text
    assert "爲" not in doc and "裏" not in doc
    corpus_client.cookies.clear()


def test_every_card_calculator_exists():
    from search_api.calc import CALCULATORS
    from search_api.search.answer import CALCULATOR_FOR_TOPIC

    assert {name for name, _ in CALCULATOR_FOR_TOPIC.values()} <= set(CALCULATORS)


def test_openapi_describes_the_answer(corpus_client):
    spec = corpus_client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    search = spec["paths"]["/api/search"]["get"]
    assert "`answer`" in search["description"]
    ok = search["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    answer = schemas[ok]["properties"]["answer"]
    assert "answer" in schemas[ok]["required"]
    refs = [a.get("$ref", "").rsplit("/", 1)[-1] for a in answer["anyOf"]]
    card = schemas[next(r for r in refs if r)]
    assert {"sentence", "citation", "quote", "question", "calculator", "id", "url"} <= set(card["required"])
    assert {"type": "null"} in answer["anyOf"]
