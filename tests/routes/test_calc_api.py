"""GET /api/calc/<name>: the worked examples through the JSON API, and every refusal a 400 naming the field."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from search_api.app import create_app
from tests.conftest import REPO_ROOT, make_settings

EXAMPLES = [
    # (path, params, field, value) — each computed by hand in tests/calc/
    (
        "severance",
        {"start": "2008-01-01", "end": "2024-06-30", "monthly_wage": "40000", "local_avg_wage": "10000"},
        "amount",
        360000.0,
    ),
    ("severance", {"start": "2020-01-01", "end": "2022-06-29", "monthly_wage": "7000"}, "amount", 17500.0),
    (
        "unlawful-termination",
        {"start": "2016-07-01", "end": "2017-10-20", "monthly_wage": "6329.82"},
        "amount",
        18989.46,
    ),
    (
        "double-wage",
        {"start": "2016-04-08", "signed": "none", "monthly_wage": "10000", "end": "2017-05-08"},
        "amount",
        110000.0,
    ),
    ("double-wage", {"start": "2023-03-01", "signed": "2023-06-15", "monthly_wage": "6000"}, "amount", 14758.60),
    (
        "overtime",
        {"monthly_wage": "8700", "workday_hours": "10", "restday_hours": "8", "holiday_hours": "8"},
        "amount",
        2750.0,
    ),
    ("annual-leave", {"service_years": "12"}, "days", 10),
    ("annual-leave", {"service_years": "12", "unused_days": "4", "monthly_wage": "8700"}, "amount", 3200.0),
    ("work-injury", {"grade": "7", "monthly_wage": "30000", "local_avg_wage": "8000"}, "amount", 312000.0),
    ("deadline", {"kind": "arbitration", "date": "2024-02-29"}, "date", "2025-02-28"),
    ("deadline", {"kind": "lawsuit", "date": "2024-12-20"}, "date", "2025-01-04"),
]


@pytest.mark.parametrize(("name", "params", "field", "value"), EXAMPLES)
def test_worked_examples(corpus_client, name, params, field, value):
    response = corpus_client.get(f"/api/calc/{name}", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body[field] == value
    assert body["calculator"] == name
    assert body["steps"] and body["articles"] and body["disclaimer"]
    assert all("." in a or "-" in a for a in body["articles"])


def test_the_contract_shape(corpus_client):
    body = corpus_client.get(
        "/api/calc/severance", params={"start": "2016-07-01", "end": "2017-10-20", "monthly_wage": "6000"}
    ).json()
    assert set(body) >= {"amount", "steps", "articles", "inputs", "formula", "notes", "disclaimer", "summary"}
    assert body["articles"][:2] == ["labor-contract-law.46", "labor-contract-law.47"]
    assert {"label": "入职日期", "value": "2016年7月1日"} in body["inputs"]
    assert "days" not in body and "date" not in body


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("severance", {"end": "2024-01-01", "monthly_wage": "5000"}, "start"),
        ("severance", {"start": "2020-13-01", "end": "2024-01-01", "monthly_wage": "5000"}, "start"),
        ("severance", {"start": "2023-02-30", "end": "2024-01-01", "monthly_wage": "5000"}, "start"),
        ("severance", {"start": "2020-01-01", "end": "2019-01-01", "monthly_wage": "5000"}, "end"),
        ("severance", {"start": "2001-01-01", "end": "2005-01-01", "monthly_wage": "5000"}, "end"),
        ("severance", {"start": "2020-01-01", "end": "2024-01-01", "monthly_wage": "-1"}, "monthly_wage"),
        ("severance", {"start": "2020-01-01", "end": "2024-01-01", "monthly_wage": "五千"}, "monthly_wage"),
        ("severance", {"start": "2020-01-01", "end": "2024-01-01", "monthly_wage": "NaN"}, "monthly_wage"),
        ("severance", {"start": "2020-01-01", "end": "2024-01-01", "monthly_wage": "1e999"}, "monthly_wage"),
        (
            "severance",
            {"start": "2020-01-01", "end": "2024-01-01", "monthly_wage": "5000", "local_avg_wage": "0"},
            "local_avg_wage",
        ),
        (
            "severance",
            {"start": "2020-01-01", "end": "2024-01-01", "monthly_wage": "5000", "district": "市南区"},
            "district",
        ),
        ("unlawful-termination", {"start": "9999-01-01", "end": "9999-12-31", "monthly_wage": "5000"}, "start"),
        ("double-wage", {"start": "2023-01-01", "monthly_wage": "5000"}, "signed"),
        ("double-wage", {"start": "2023-01-01", "signed": "maybe", "monthly_wage": "5000"}, "signed"),
        ("overtime", {"monthly_wage": "5000", "workday_hours": "-3"}, "workday_hours"),
        ("overtime", {"workday_hours": "3"}, "monthly_wage"),
        ("annual-leave", {"service_years": "100"}, "service_years"),
        ("annual-leave", {"service_years": "5", "unused_days": "2.5"}, "unused_days"),
        ("work-injury", {"grade": "11", "monthly_wage": "5000"}, "grade"),
        ("work-injury", {"grade": "一级", "monthly_wage": "5000"}, "grade"),
        ("deadline", {"kind": "appeal", "date": "2024-01-01"}, "kind"),
        ("deadline", {"kind": "lawsuit", "date": "01/02/2024"}, "date"),
    ],
)
def test_refusals_are_400_in_chinese_naming_the_field(corpus_client, name, params, field):
    response = corpus_client.get(f"/api/calc/{name}", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert f"（{field}）" in body["error"], body
    assert field in body["errors"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["error"])


def test_several_refused_fields_are_all_listed(corpus_client):
    body = corpus_client.get("/api/calc/severance", params={"start": "x", "monthly_wage": "0"}).json()
    assert set(body["errors"]) == {"start", "end", "monthly_wage"}


ODD = [
    "",
    " ",
    "0",
    "-0",
    "1e308",
    "Infinity",
    "-inf",
    "0x10",
    "1,000",
    "２０２４-０１-０１",
    "2024-1-1",
    "none",
    "\u0000",
    "9" * 400,
]


@pytest.mark.parametrize("value", ODD)
def test_odd_values_never_crash(corpus_client, value):
    for name, params in [
        ("severance", {"start": value, "end": "2024-01-01", "monthly_wage": value}),
        ("double-wage", {"start": "2024-01-01", "signed": value, "monthly_wage": "5000", "end": value}),
        ("overtime", {"monthly_wage": "5000", "holiday_hours": value}),
        ("annual-leave", {"service_years": value, "unused_days": value, "monthly_wage": value}),
        ("work-injury", {"grade": value, "monthly_wage": "5000", "district": value}),
        ("deadline", {"kind": "arbitration", "date": value}),
    ]:
        response = corpus_client.get(f"/api/calc/{name}", params=params)
        assert response.status_code in (200, 400), (name, value, response.text)
        assert "error" in response.json() or "steps" in response.json()


@pytest.fixture
def configured_client(tmp_path):
    settings = make_settings(tmp_path / "data", local_wages_file=REPO_ROOT / "docs" / "local-wages.example.yaml")
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_configured_district_supplies_the_average_wage(configured_client):
    params = {"start": "2008-01-01", "end": "2024-06-30", "monthly_wage": "40000", "district": "示例区"}
    body = configured_client.get("/api/calc/severance", params=params).json()
    assert body["amount"] == 360000.0 and body["details"]["capped"] is True
    assert any("示例区 2024 年度" in s for s in body["steps"])
    # a typed figure wins over the district's
    body = configured_client.get("/api/calc/severance", params={**params, "local_avg_wage": "20000"}).json()
    assert body["amount"] == 680000.0  # 40,000 < 60,000: no cap, 17 months


def test_an_unconfigured_district_is_refused_listing_the_configured_ones(configured_client):
    params = {"start": "2020-01-01", "end": "2024-06-30", "monthly_wage": "5000", "district": "市南区"}
    body = configured_client.get("/api/calc/severance", params=params).json()
    assert "（district）" in body["error"] and "示例区" in body["error"]


def test_the_operations_are_documented_with_their_parameters(corpus_client):
    paths = corpus_client.get("/openapi.json").json()["paths"]
    op = paths["/api/calc/severance"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["start"]["schema"] == {"type": "string", "format": "date"} and params["start"]["required"]
    assert params["monthly_wage"]["schema"]["exclusiveMinimum"] == 0
    assert not params["local_avg_wage"]["required"]
    assert set(op["responses"]) == {"200", "400"}
    for name in ("unlawful-termination", "double-wage", "overtime", "annual-leave", "work-injury", "deadline"):
        assert f"/api/calc/{name}" in paths
