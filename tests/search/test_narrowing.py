"""A facet link's count is what the link shows: a worker's filter narrows the question's answering set.

Before, a filtered search ranked the question again inside the filter, with its own floor: on 60
blind-5 questions, 332 of 400 facet links led to a page with another count ("浙江 (2)" → 42 results,
"案例 (1)" → 21), most of them documents the unfiltered answer had judged too weak to show.
"""

from __future__ import annotations

import pytest

from search_api.engines.sqlite import SqliteEngine
from search_api.search.fusion import NARROWING, split_filters
from search_api.search.service import SearchService
from tests.conftest import semantic_service
from tests.search.facet_links import assert_links_keep_their_counts


@pytest.fixture(scope="module")
def engine(corpus_settings):
    return SqliteEngine(corpus_settings.index_path)


def test_lexical_facet_links_show_what_they_count(corpus_settings, engine):
    assert_links_keep_their_counts(SearchService(corpus_settings, engine))


def test_fused_facet_links_show_what_they_count(corpus_settings, engine, semantic_data_dir):
    assert_links_keep_their_counts(semantic_service(corpus_settings, engine, semantic_data_dir))


def test_citation_filters_still_select_in_the_engine():
    where, narrow = split_filters({"cites": ["labor-law.50"], "kind": ["case"], "id": ["x"]})
    assert where == {"cites": ["labor-law.50"], "id": ["x"]} and narrow == {"kind": ["case"]}
    assert set(NARROWING) >= {"kind", "source_id", "region", "topics"}
