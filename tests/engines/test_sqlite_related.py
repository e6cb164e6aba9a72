"""The SQLite engine's related cases (``engines.sqlite_related``): the browse query's answer, from a
per-version read of the cases, and a case another writer publishes is there from the next lookup."""

from dataclasses import replace

from search_api.engines.base import Related
from search_api.engines.sqlite import SqliteEngine


def _shown(hits):
    return [(h.id, h.doc.title, h.doc.case_number, h.doc.cites, h.score) for h in hits]


def test_related_cases_equal_the_browse_query_for_every_cited_article(corpus_index):
    engine = SqliteEngine(corpus_index)
    cited = sorted({a for d in engine.all_documents() if d.kind == "case" for a in d.cites})
    assert len(cited) > 30
    related = Related()
    for i, article in enumerate(cited):
        ids = [article, *cited[i + 1 : i + 1 + i % 3]]  # one to three articles at a time
        browsed = engine.search(related.query(ids)).hits
        assert _shown(engine.related_cases(ids, related)) == _shown(browsed), ids
    assert engine.related_cases(["no-such-law.1"], related) == []
    tight = Related(per_article=1)
    many = cited[:40]
    assert len(engine.related_cases(many, tight)) == min(
        tight.query(many).size, len(engine.related_cases(many, related))
    )


def test_a_case_published_by_another_writer_is_related_at_once(tmp_path, corpus_index):
    path = tmp_path / "index.sqlite3"
    path.write_bytes(corpus_index.read_bytes())
    reader = SqliteEngine(path)
    case = next(d for d in reader.all_documents() if d.kind == "case" and d.cites)
    article = case.cites[0]
    before = [h.id for h in reader.related_cases([article], Related())]
    assert case.id in before
    writer = SqliteEngine(path)  # as a lawyer's publication in another worker process would
    new = replace(case, id="case-published-now", title="新发布的案例", prior=case.prior * 10, cites=[article])
    assert writer.index_documents([new]).indexed == 1
    after = reader.related_cases([article], Related())
    assert after[0].id == "case-published-now" and after[0].doc.title == "新发布的案例"
    assert writer.delete(["case-published-now"]) == 1
    assert [h.id for h in reader.related_cases([article], Related())] == before
