"""After a bulk load the Elasticsearch index is merged to one segment per shard (a search walks
each term's postings once instead of once per segment); a small write afterwards is not merged."""

from __future__ import annotations

import time

from ingest.pipeline import ingest
from tests.conftest import CORPUS, LEXICON

FILES = ["labor-contract-law.md", "labor-law.md", "social-insurance-law.md"]


def segments_per_shard(engine) -> list[int]:
    found = engine.client.indices.segments(index=engine.alias)
    return [
        len(copy["segments"])
        for index in found["indices"].values()
        for shard in index["shards"].values()
        for copy in shard
        if copy["routing"]["primary"]
    ]


def test_an_ingest_leaves_one_segment_per_shard(es_engine):
    for name in FILES:  # three loads, each refreshed: three segments at least before the merge
        ingest([CORPUS / "laws" / name], es_engine, lexicon_dir=LEXICON, batch_size=40)
        time.sleep(1.1)  # past the refresh interval: each file's documents in segments of their own
    assert segments_per_shard(es_engine) == [1]
    assert es_engine.count() > 300


def test_a_rebuild_leaves_one_segment_per_shard(es_engine):
    ingest([CORPUS / "laws" / "labor-contract-law.md"], es_engine, lexicon_dir=LEXICON)
    docs = list(es_engine.all_documents())
    es_engine.rebuild(docs)
    assert segments_per_shard(es_engine) == [1]
    assert es_engine.count() == len(docs)


def test_an_unchanged_ingest_does_not_merge(es_engine, monkeypatch):
    ingest([CORPUS / "laws" / "labor-contract-law.md"], es_engine, lexicon_dir=LEXICON)
    merges = []
    monkeypatch.setattr(es_engine, "optimise", lambda *a: merges.append(a))
    report = ingest([CORPUS / "laws" / "labor-contract-law.md"], es_engine, lexicon_dir=LEXICON)
    assert report.unchanged_files == 1 and merges == []  # the ≤ 3 s re-ingest stays that
