"""Every document a calculator cites exists in the index, under the title the page shows for it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from search_api.calc.articles import SHORT_TITLES, label
from search_api.calc.deadlines import KINDS, deadline
from search_api.calc.double_wage import double_wage
from search_api.calc.hours import annual_leave, overtime
from search_api.calc.injury import work_injury
from search_api.calc.severance import severance, unlawful_termination


def every_cited_id() -> set[str]:
    day = dt.date(2005, 3, 1)
    results = [
        severance(day, dt.date(2024, 6, 30), D(8000)),
        unlawful_termination(day, dt.date(2024, 6, 30), D(8000)),
        double_wage(dt.date(2023, 3, 1), None, D(6000), end=dt.date(2024, 6, 15)),
        double_wage(dt.date(2023, 3, 1), dt.date(2023, 6, 15), D(6000)),
        overtime(D(6000), D(1)),
        annual_leave(D(12), 3, D(6000)),
        *(work_injury(g, D(5000)) for g in (1, 5, 7)),
        *(deadline(k, dt.date(2024, 1, 1)) for k in KINDS),
    ]
    return {a for r in results for a in r.articles}


def test_labels():
    assert label("labor-contract-law.47") == "《劳动合同法》第四十七条"
    assert label("labor-contract-law-implementing-regulations.27") == "《劳动合同法实施条例》第二十七条"
    assert (
        label("monthly-working-days-and-wage-conversion-notice") == "《关于职工全年月平均工作时间和工资折算问题的通知》"
    )


def test_every_cited_document_is_in_the_index_with_that_title(corpus_client):
    ids = every_cited_id()
    assert len(ids) >= 25
    for doc_id in sorted(ids):
        response = corpus_client.get(f"/api/documents/{doc_id}")
        assert response.status_code == 200, doc_id
        doc = response.json()
        assert doc["short_title"] == SHORT_TITLES[doc_id.partition(".")[0]], doc_id
        if doc["kind"] == "article":
            assert label(doc_id) == f"《{doc['short_title']}》{doc['article_label']}", doc_id
