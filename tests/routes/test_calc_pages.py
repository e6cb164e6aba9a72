"""/calc pages: a form per calculator, its result (inputs, formula, steps, linked articles, disclaimer),
refusals shown beside the field, all without JavaScript."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from search_api.app import create_app
from search_api.calc import CALCULATORS, DISCLAIMER
from tests.conftest import REPO_ROOT, make_settings


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def test_index_links_every_calculator(corpus_client):
    page = soup(corpus_client.get("/calc"))
    links = {a["href"] for a in page.select("ul.calc-list a")}
    assert links == {f"/calc/{name}" for name in CALCULATORS}


@pytest.mark.parametrize("name", list(CALCULATORS))
def test_each_form_has_its_fields_and_no_script(corpus_client, name):
    response = corpus_client.get(f"/calc/{name}")
    assert response.status_code == 200
    page = soup(response)
    form = page.select_one("form.calc")
    assert form["method"] == "get" and form["action"] == f"/calc/{name}"
    shown = {el["name"] for el in form.select("input, select")}
    wanted = {f.name for f in CALCULATORS[name].fields if f.kind != "text"}  # district: only when configured
    assert shown == wanted
    for f in CALCULATORS[name].fields:
        if f.kind != "text":
            assert page.select_one(f"label[for=f-{f.name}]"), f.name
    assert not page.select("script") and not page.select("section.calc-result")


RESULT_CASES = [
    (
        "severance",
        {"start": "2008-01-01", "end": "2024-06-30", "monthly_wage": "40000", "local_avg_wage": "10000"},
        "经济补偿：360,000.00 元",
        "/doc/labor-contract-law.47",
    ),
    (
        "unlawful-termination",
        {"start": "2016-07-01", "end": "2017-10-20", "monthly_wage": "6329.82"},
        "赔偿金：18,989.46 元",
        "/doc/labor-contract-law.87",
    ),
    (
        "double-wage",
        {"start": "2016-04-08", "signed": "none", "monthly_wage": "10000", "end": "2017-05-08"},
        "二倍工资差额（公司另付的一倍）：110,000.00 元",
        "/doc/labor-contract-law-implementing-regulations.7",
    ),
    (
        "overtime",
        {"monthly_wage": "8700", "workday_hours": "10", "restday_hours": "8", "holiday_hours": "8"},
        "加班费：2,750.00 元",
        "/doc/labor-law.44",
    ),
    (
        "annual-leave",
        {"service_years": "12", "unused_days": "4", "monthly_wage": "8700"},
        "未休 4 天，公司应另付（200%）：3,200.00 元",
        "/doc/enterprise-paid-annual-leave-implementing-measures.10",
    ),
    (
        "work-injury",
        {"grade": "5", "monthly_wage": "5000"},
        "伤残津贴：3,500.00 元 / 月",
        "/doc/work-injury-insurance-regulations.36",
    ),
    (
        "deadline",
        {"kind": "work-injury", "date": "2024-05-06"},
        "2025-05-06",
        "/doc/work-injury-insurance-regulations.17",
    ),
]


@pytest.mark.parametrize(("name", "params", "answer", "article"), RESULT_CASES)
def test_result_shows_inputs_formula_steps_articles_and_disclaimer(corpus_client, name, params, answer, article):
    response = corpus_client.get(f"/calc/{name}", params=params)
    assert response.status_code == 200
    page = soup(response)
    result = page.select_one("section.calc-result")
    assert any(answer in p.get_text() for p in result.select("p.answer")), result.select("p.answer")
    assert result.select("dl.inputs dt") and result.select_one("p.formula").get_text()
    assert len(result.select("ol.calc-steps li")) >= 2
    links = [a["href"] for a in result.select("ul.calc-articles a")]
    assert article in links
    for href in links:  # every article link opens the article
        assert corpus_client.get(href).status_code == 200, href
    assert result.select_one("p.disclaimer").get_text() == DISCLAIMER
    # the form is filled in again with what was sent, to adjust and recalculate
    for key, value in params.items():
        field = page.select_one(f"form.calc [name={key}]")
        if value == "none":  # shown as the ticked 没有签 box, the date left empty
            assert page.select_one(f"form.calc input[type=checkbox][name={key}]").has_attr("checked")
        elif field.name == "input":
            assert field["value"] == value, key
        else:
            assert field.select_one("option[selected]")["value"] == value, key


def test_article_links_carry_their_titles(corpus_client):
    page = soup(
        corpus_client.get(
            "/calc/severance", params={"start": "2016-07-01", "end": "2017-10-20", "monthly_wage": "6000"}
        )
    )
    names = [a.get_text() for a in page.select("ul.calc-articles a")]
    assert "《劳动合同法》第四十七条" in names and "《劳动合同法实施条例》第二十七条" in names


def test_a_dismissal_result_links_the_arbitration_deadline_from_the_same_date(corpus_client):
    page = soup(
        corpus_client.get(
            "/calc/unlawful-termination", params={"start": "2016-07-01", "end": "2017-10-20", "monthly_wage": "6000"}
        )
    )
    link = page.select_one("section.calc-result a[href^='/calc/deadline']")
    assert link["href"] == "/calc/deadline?kind=arbitration&date=2017-10-20"
    follow = soup(corpus_client.get(link["href"]))
    assert "2018-10-20" in follow.select_one("p.answer").get_text()


def test_the_not_signed_box_and_an_empty_date_mean_none(corpus_client):
    # the form sends the date field first; an empty date and the ticked box → signed=none
    response = corpus_client.get(
        "/calc/double-wage?start=2020-01-01&signed=&signed=none&monthly_wage=5000&end=2021-06-30"
    )
    page = soup(response)
    assert "55,000.00 元" in page.select_one("p.answer").get_text()
    assert page.select_one("input[type=checkbox][name=signed]").has_attr("checked")
    # a date wins over the box
    response = corpus_client.get("/calc/double-wage?start=2023-03-15&signed=2023-07-15&signed=none&monthly_wage=6000")
    assert "18,000.00 元" in soup(response).select_one("p.answer").get_text()


def test_refusals_are_shown_beside_the_fields_with_status_400(corpus_client):
    response = corpus_client.get(
        "/calc/severance", params={"start": "2020-01-01", "end": "2019-01-01", "monthly_wage": "abc"}
    )
    assert response.status_code == 400
    page = soup(response)
    assert not page.select("section.calc-result")
    alert = page.select_one("div.error[role=alert]").get_text()
    assert "月工资（monthly_wage）须是数字" in alert
    beside = page.select_one("p.field.has-error strong.error").get_text()
    assert "monthly_wage" in beside
    assert page.select_one("input[name=start]")["value"] == "2020-01-01"


def test_unknown_calculator_is_404(corpus_client):
    assert corpus_client.get("/calc/pension").status_code == 404


def test_traditional_characters_view(corpus_client):
    client = TestClient(corpus_client.app)  # its own cookie jar: ?script=trad is remembered in a cookie
    response = client.get("/calc/overtime", params={"monthly_wage": "8700", "workday_hours": "10", "script": "trad"})
    assert "加班費" in response.text and "750.00" in response.text


def test_configured_districts_are_offered_in_the_form(tmp_path):
    settings = make_settings(tmp_path / "data", local_wages_file=REPO_ROOT / "docs" / "local-wages.example.yaml")
    with TestClient(create_app(settings)) as client:
        page = soup(client.get("/calc/severance"))
        options = [o.get_text() for o in page.select("select[name=district] option")]
        assert options[1].startswith("示例区（2024 年度") and len(options) == 3
        result = soup(
            client.get(
                "/calc/severance",
                params={"start": "2008-01-01", "end": "2024-06-30", "monthly_wage": "40000", "district": "示例区"},
            )
        )
        assert "360,000.00 元" in result.select_one("p.answer").get_text()
        assert "示例区" in result.select_one("dl.inputs").get_text()


def test_every_page_links_the_calculators_from_its_footer(corpus_client):
    for path in ("/", "/doc/labor-contract-law.47"):
        assert soup(corpus_client.get(path)).select_one("footer a[href='/calc']"), path


def test_a_district_picked_on_the_traditional_page_is_found(tmp_path):
    settings = make_settings(tmp_path / "data", local_wages_file=REPO_ROOT / "docs" / "local-wages.example.yaml")
    with TestClient(create_app(settings)) as client:
        form = soup(client.get("/calc/severance", params={"script": "trad"}))
        value = form.select("select[name=district] option")[1]["value"]
        assert value == "示例區"  # the whole page, option values included, is converted
        params = {"start": "2008-01-01", "end": "2024-06-30", "monthly_wage": "40000", "district": value}
        result = soup(client.get("/calc/severance", params=params))
        assert "360,000.00" in result.select_one("p.answer").get_text()
