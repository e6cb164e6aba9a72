"""The embedded engine's per-document caches held as integer codes (×20: a few MB instead of tens of
MB of tuples): boost values and the topics of light documents read back exactly as the tables hold them."""

import json

import pytest

from ingest.pipeline import ingest
from search_api.engines.ranking import BOOST_FIELDS
from search_api.engines.sqlite import SqliteEngine
from search_api.engines.sqlite_schema import id_hits
from tests.conftest import LEXICON, make_settings
from tests.engines.facet_reference import facet_values
from tests.fixtures.corpus import write_corpus


@pytest.fixture
def engine(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    engine = SqliteEngine(make_settings(tmp_path / "data", corpus_dir=corpus).index_path)
    ingest([corpus], engine, lexicon_dir=LEXICON)
    return engine


def test_boost_values_are_the_columns_of_each_document(engine):
    conn = engine.db
    cache = engine._cache_for(conn)
    rows = conn.execute(f"SELECT rowid, {', '.join(BOOST_FIELDS)} FROM docs").fetchall()
    rowids = [r[0] for r in rows]
    assert len({r[1] for r in rows}) > 2 and len({r[3] for r in rows}) > 1  # kinds and laws differ
    for i, field in enumerate(BOOST_FIELDS, start=1):
        assert cache.field_values(conn, field, rowids) == [str(r[i] or "") for r in rows]
    # a rowid these codes have not seen (written by another process since) has no value yet
    assert cache.field_values(conn, "region", [max(rowids) + 5, rowids[0]]) == ["", rows[0][4]]


def test_light_documents_carry_the_topics_of_the_full_ones(engine):
    conn = engine.db
    topics = {i: json.loads(d)["topics"] for i, d in conn.execute("SELECT id, data FROM docs")}
    assert any(len(t) > 1 for t in topics.values())
    light = engine.get_many(list(topics), light=True)
    assert len(light) == len(topics)
    # in the order the facet counts meet them (the tuples the light documents were made from before)
    reference = facet_values(conn)
    rowid = dict(conn.execute("SELECT id, rowid FROM docs").fetchall())
    for doc in light:
        assert sorted(doc.topics) == sorted(topics[doc.id]), doc.id
        assert tuple(doc.topics) == reference[rowid[doc.id]][-1], doc.id
    codes = engine._cache_for(conn).facet_codes(conn)
    assert codes.topics(10**9) == () and codes.topics(-1) == ()


def test_ranked_ids_come_from_the_packed_ids_and_the_index_for_what_they_lack(engine):
    conn = engine.db
    rows = conn.execute("SELECT rowid, id FROM docs ORDER BY rowid").fetchall()
    engine.delete([rows[1][1]])  # a gap: its rowid has no id any more
    cache = engine._cache_for(conn)
    known = cache.doc_ids(conn)
    assert known.get_many([rows[1][0], -1, rows[-1][0] + 1]) == [None, None, None]
    assert known.get_many([r for r, _ in rows[2:]]) == [i for _, i in rows[2:]]
    # a document written after the ids were read is looked up in the index
    conn.execute("INSERT INTO docs (id, data) VALUES ('written-later', '{}')")
    later = conn.execute("SELECT rowid FROM docs WHERE id = 'written-later'").fetchone()[0]
    page = [(later, 3.0), (rows[1][0], 2.0), (rows[0][0], 1.0)]
    assert [(h.id, h.score) for h in id_hits(conn, page, known)] == [("written-later", 3.0), (rows[0][1], 1.0)]
