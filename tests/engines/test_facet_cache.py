"""The embedded engine's facet counts: counted with numpy, cached per (index version, analysed query).

The cache must never outlive the index it counted: a case published or withdrawn (by this worker
or another process on the same file) and a rebuild each change the counts on the next search.
"""

import itertools
import random

import numpy as np
import pytest

from ingest.pipeline import ingest
from ingest.tokenise import get_tokeniser
from search_api import db
from search_api.accounts.store import Store
from search_api.cases.index import CaseIndex, preparer
from search_api.cases.workflow import CaseService
from search_api.engines.base import FACET_FIELDS, SearchQuery, Term
from search_api.engines.facets import FacetCache, FacetCodes
from search_api.engines.ranking import count_facets
from search_api.engines.sqlite import SqliteEngine
from search_api.search.rebuild import rebuild_index
from tests.conftest import LEXICON, make_settings
from tests.engines.facet_reference import facet_values
from tests.fixtures.cases import CASE, PASSWORD
from tests.fixtures.corpus import write_corpus


@pytest.fixture
def indexed(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    settings = make_settings(tmp_path / "data", corpus_dir=corpus)
    engine = SqliteEngine(settings.index_path)
    ingest([corpus], engine, lexicon_dir=LEXICON)
    return settings, engine


def wage_query(**kw) -> SearchQuery:
    terms = [Term(t) for t in get_tokeniser(LEXICON).tokenise("拖欠劳动报酬 工资")]
    return SearchQuery(terms=terms, facets=True, **kw)


def as_lists(facets):
    """Facets with their order made visible (the page lists values in this order)."""
    return [(field, list(counts.items())) for field, counts in facets.items()]


def case_service(settings, engine):
    store = Store(db.app_database(settings))
    cases = CaseService(store.cases, CaseIndex(engine, prepare=preparer(get_tokeniser(LEXICON))))
    users = {role: store.users.create(f"{role}1", PASSWORD, role) for role in ("lawyer", "reviewer")}
    return cases, users


def publish(cases, users) -> int:
    case = cases.create(users["lawyer"], CASE)
    cases.submit(users["lawyer"], case.id)
    cases.review(users["reviewer"], case.id, "publish")
    return case.id


def test_counts_are_those_of_counting_each_document(indexed):
    _, engine = indexed
    conn = engine.db
    values = facet_values(conn)
    codes = FacetCodes(conn)
    rowids = sorted(values)
    rng = random.Random(7)
    subsets = [rowids, rowids[::-1], [rowids[0]]] + [rng.sample(rowids, rng.randint(1, len(rowids))) for _ in range(30)]
    for subset in subsets:
        expected = count_facets(dict(zip(FACET_FIELDS, values[r], strict=True)) for r in subset)
        # same values, same counts, and ties in the same order (first seen in the ranked set first)
        assert as_lists(codes.count(np.array(subset))) == as_lists(expected)
    assert codes.count(np.array([], dtype=np.int64)) == {}


def test_a_repeated_question_is_counted_once(indexed):
    _, engine = indexed
    first = engine.search(wage_query())
    assert first.facets["kind"] and engine.facet_cache.misses == 1
    again = engine.search(wage_query(offset=1, size=2))  # the next page: the same answering set
    assert engine.facet_cache.hits == 1
    assert as_lists(again.facets) == as_lists(first.facets)
    # a caller changing what it got changes nothing for the next one
    again.facets["kind"].clear()
    assert as_lists(engine.search(wage_query()).facets) == as_lists(first.facets)
    # another filter or another boost is another answering set
    article_only = engine.search(wage_query(filters={"kind": ["article"]}))
    assert set(article_only.facets["kind"]) == {"article"}
    engine.search(wage_query(boosts={"region": {"上海": 2.0}}))
    assert engine.facet_cache.misses == 3 and len(engine.facet_cache) == 3


def test_publishing_and_withdrawing_a_case_change_the_counts(indexed):
    settings, engine = indexed
    before = engine.search(wage_query()).facets
    engine.search(wage_query())  # now cached
    assert engine.facet_cache.hits == 1
    cases, users = case_service(settings, engine)

    case_id = publish(cases, users)
    after = engine.search(wage_query())
    assert f"lawyer-case-{case_id}" in {h.id for h in engine.search(wage_query(size=50)).hits}
    assert after.facets["kind"]["case"] == before["kind"].get("case", 0) + 1
    assert after.facets["region"]["北京"] == before["region"].get("北京", 0) + 1
    assert after.total == sum(after.facets["kind"].values())

    cases.withdraw(users["reviewer"], case_id)
    assert as_lists(engine.search(wage_query()).facets) == as_lists(before)


def test_a_case_published_by_another_worker_changes_the_counts(indexed):
    settings, reader = indexed
    before = reader.search(wage_query()).facets
    assert as_lists(reader.search(wage_query()).facets) == as_lists(before)  # cached in this worker
    other_worker = SqliteEngine(settings.index_path)  # another process serving the same index file
    cases, users = case_service(settings, other_worker)
    publish(cases, users)
    after = reader.search(wage_query()).facets
    assert after["kind"]["case"] == before["kind"].get("case", 0) + 1


def test_a_rebuild_changes_the_counts(indexed):
    settings, engine = indexed
    before = engine.search(wage_query()).facets
    assert before["kind"]["case"] == 1
    (settings.corpus_dir / "cases" / "case-901.md").unlink()
    rebuild_index(settings, SqliteEngine(settings.index_path))  # `labourkb rebuild` in another process
    after = engine.search(wage_query()).facets
    assert "case" not in after["kind"]
    assert {k: n for k, n in before["kind"].items() if k != "case"} == after["kind"]


def test_the_cache_is_bounded_and_keyed_by_index_version():
    cache = FacetCache(max_entries=2)
    counts = {"kind": {"article": 3}}
    for key in ("a", "b", "c"):  # as the engine does: asked first, counted and kept when missing
        assert cache.get(1, key) is None
        cache.put(1, key, counts)
    assert len(cache) == 2 and cache.get(1, "a") is None  # least recently used went first
    assert cache.get(1, "c") == counts
    assert cache.get(2, "c") is None and len(cache) == 0  # another index version: nothing is kept
    cache.put(1, "d", counts)  # counted on the old version while the index changed: not kept
    assert cache.get(2, "d") is None


def test_different_terms_weights_or_groups_are_different_questions(indexed):
    _, engine = indexed
    base = [Term("劳动报酬"), Term("投诉", weight=0.5, group=1)]
    variants = [base, base[:1], [base[0], Term("投诉", weight=1.0, group=1)], [base[0], Term("投诉", 0.5, group=0)]]
    for terms in variants:
        engine.search(SearchQuery(terms=terms, facets=True))
    assert engine.facet_cache.misses == len(variants) and engine.facet_cache.hits == 0
    for terms, _ in itertools.product(variants, range(2)):
        engine.search(SearchQuery(terms=terms, facets=True))
    assert engine.facet_cache.hits == 2 * len(variants)
