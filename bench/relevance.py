"""Relevance on the project's evaluation set: nDCG@10, Recall@10 (answering documents) and MRR@10
for each engine and for two baselines, in one run, with per-slice numbers and the worst questions.

Baselines (same corpus, all documents, no thesaurus, no filler removal, no priors):
  plain-bm25-standard  the issue's plain baseline: one token per Chinese character, lower-cased and
                       nothing else, as Elasticsearch's default `standard` analyzer does (no
                       traditional->simplified conversion, no width folding); BM25 in SQLite FTS5
  plain-bm25-bigram    overlapping character bigrams, as the `cjk` analyzer does
  plain-bm25-jieba     jieba search-mode tokens of the raw question
  normalised-unigram   a stronger reference: labourkb's own normalisation (traditional->simplified,
                       full->half width) before one-token-per-character BM25
With an Elasticsearch engine run, the first two are also run on the real server with its real
analyzers (`es-standard`: the `standard` analyzer; `es-bigram`: standard tokenizer + a shingle
filter, since this build has no analysis-common and so no `cjk`), to check the emulation.
Gains are printed over plain-bm25-standard and over normalised-unigram.

Usage: .venv/bin/python bench/relevance.py [--engine sqlite|elasticsearch|both] [--worst 10] [--json]
                                          [--questions corpus/eval/blind-1.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sqlite3
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORPUS, LEXICON, QUESTIONS, load_questions
from ingest.normalise import normalise
from ingest.pipeline import ingest
from ingest.tokenise import get_tokeniser

K = 10
Ranker = Callable[[str], list[str]]


def ndcg(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    dcg = sum((2 ** grades.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    answers = {d for d, g in grades.items() if g >= 2}
    return len(answers & set(ranked[:k])) / len(answers) if answers else 0.0


def reciprocal_rank(ranked: list[str], grades: dict[str, int], k: int = K) -> float:
    for i, d in enumerate(ranked[:k]):
        if grades.get(d, 0) >= 2:
            return 1.0 / (i + 1)
    return 0.0


def evaluate(name: str, rank: Ranker, questions: list[dict]) -> dict:
    rows = []
    for q in questions:
        ranked = rank(q["q"])
        rows.append(
            {
                "id": q["id"],
                "q": q["q"],
                "slice": q["slice"],
                "top": ranked[:5],
                "ndcg": ndcg(ranked, q["relevant"]),
                "recall": recall(ranked, q["relevant"]),
                "mrr": reciprocal_rank(ranked, q["relevant"]),
                "answers": [d for d, g in q["relevant"].items() if g >= 2],
            }
        )

    def mean(rs: list[dict], key: str) -> float:
        return round(sum(r[key] for r in rs) / len(rs), 3) if rs else 0.0

    slices = defaultdict(list)
    for r in rows:
        slices[r["slice"]].append(r)
    return {
        "name": name,
        "n": len(rows),
        "ndcg@10": mean(rows, "ndcg"),
        "recall@10": mean(rows, "recall"),
        "mrr@10": mean(rows, "mrr"),
        "slices": {
            s: {"n": len(rs), "ndcg@10": mean(rs, "ndcg"), "recall@10": mean(rs, "recall"), "mrr@10": mean(rs, "mrr")}
            for s, rs in sorted(slices.items())
        },
        "rows": rows,
    }


class PlainBM25:
    """A bare FTS5 BM25 index of every document's title and text, for the baselines."""

    def __init__(self, docs, tokens: Callable[[str], list[str]]):
        self.tokens = tokens
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE t USING fts5(id UNINDEXED, title, body, tokenize='unicode61')")
        self.db.executemany(
            "INSERT INTO t VALUES (?, ?, ?)",
            [(d.id, " ".join(tokens(d.title)), " ".join(tokens(d.text))) for d in docs],
        )

    def rank(self, q: str) -> list[str]:
        toks = list(dict.fromkeys(self.tokens(q)))
        if not toks:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in toks)
        return [r[0] for r in self.db.execute("SELECT id FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT ?", (match, K))]


CJK = r"[\u3400-\u9fff]"


def standard_tokens(text: str) -> list[str]:
    """What the `standard` analyzer makes of Chinese text: each CJK character a token, other
    letter/digit runs whole, everything lower-cased, nothing converted."""
    return re.findall(CJK + r"|[^\W_]+?(?=" + CJK + r"|[\W_]|$)", text.lower())


def bigram_tokens(text: str) -> list[str]:
    """What the `cjk` analyzer makes of it: overlapping bigrams of CJK runs, a lone character as is."""
    out: list[str] = []
    for run in re.findall(CJK + r"+|[^\W_]+", text.lower()):
        if len(run) > 1 and re.match(CJK, run):
            out += [run[i : i + 2] for i in range(len(run) - 1)]
        else:
            out.append(run)
    return out


def normalised_unigrams(text: str) -> list[str]:
    """labourkb's normalisation (traditional->simplified, full->half width), then one token per character."""
    return standard_tokens(normalise(text))


class EsPlainBM25:
    """The plain baseline on the real server: title and text analysed by ``analyzer``, BM25,
    a ``most_fields`` match of the raw question (the sum over both fields, as FTS5 does)."""

    SETTINGS: ClassVar[dict] = {
        "number_of_shards": 1,
        "number_of_replicas": 0,
        "analysis": {
            "filter": {
                "bigrams": {
                    "type": "shingle",
                    "min_shingle_size": 2,
                    "max_shingle_size": 2,
                    "output_unigrams": False,
                    "output_unigrams_if_no_shingles": True,
                    "token_separator": "",
                }
            },
            "analyzer": {"bigram": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "bigrams"]}},
        },
    }

    def __init__(self, client, index: str, docs, analyzer: str):
        from elasticsearch.helpers import bulk

        self.client, self.index = client, index
        field = {"type": "text", "analyzer": analyzer}
        client.indices.create(
            index=index, settings=self.SETTINGS, mappings={"properties": {"title": field, "text": field}}
        )
        bulk(client, ({"_index": index, "_id": d.id, "title": d.title, "text": d.text} for d in docs), refresh=True)

    def rank(self, q: str) -> list[str]:
        res = self.client.search(
            index=self.index,
            size=K,
            source=False,
            query={"multi_match": {"query": q, "fields": ["title", "text"], "type": "most_fields"}},
        )
        return [h["_id"] for h in res["hits"]["hits"]]

    def drop(self) -> None:
        self.client.indices.delete(index=self.index, ignore_unavailable=True)


# Vectors are cached by embedded text across runs: only the first run embeds the corpus.
VECTORS_DIR = Path(__file__).resolve().parent.parent / "data" / "bench-vectors"


def engine_ranker(engine, semantic: bool = False) -> Ranker:
    from search_api.search.service import SearchService
    from search_api.settings import Settings

    settings = Settings(lexicon_dir=LEXICON, querylog_enabled=False, semantic=semantic, data_dir=VECTORS_DIR)
    service = SearchService(settings, engine)
    if semantic:
        service.semantic.start(background=False)
        if service.semantic.retriever is None:
            raise SystemExit(f"semantic layer: {service.semantic.status} (run `labourkb model fetch`)")
    return lambda q: [h["id"] for h in service.search(q, size=K, related=False).hits]


def all_documents(engine) -> list:
    from search_api.engines.base import SearchQuery

    docs = []
    for kind in ("article", "law", "case", "policy", "news"):
        res = engine.search(SearchQuery(terms=[], filters={"kind": [kind]}, size=10_000))
        docs += [h.doc for h in res.hits]
    return docs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="sqlite", choices=["sqlite", "elasticsearch", "both"])
    # default 0: printing the failures of a blind set makes it a tuning set (corpus/eval/README.md)
    ap.add_argument("--worst", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the full result as JSON")
    ap.add_argument(
        "--questions",
        type=Path,
        default=QUESTIONS,
        help="evaluation set (default corpus/eval/questions.jsonl; corpus/eval/blind-*.jsonl "
        "are the sets written blind, see corpus/eval/README.md)",
    )
    args = ap.parse_args()
    questions = load_questions(args.questions)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        from search_api.engines.sqlite import SqliteEngine

        sqlite_engine = SqliteEngine(Path(tmp) / "rel.sqlite3")
        ingest([CORPUS], sqlite_engine, lexicon_dir=LEXICON)
        docs = all_documents(sqlite_engine)
        tok = get_tokeniser(LEXICON)
        results.append(evaluate("plain-bm25-standard", PlainBM25(docs, standard_tokens).rank, questions))
        results.append(evaluate("plain-bm25-bigram", PlainBM25(docs, bigram_tokens).rank, questions))
        results.append(evaluate("plain-bm25-jieba", PlainBM25(docs, tok.tokenise).rank, questions))
        results.append(evaluate("normalised-unigram", PlainBM25(docs, normalised_unigrams).rank, questions))
        if args.engine in ("sqlite", "both"):
            results.append(evaluate("labourkb-sqlite-lexical", engine_ranker(sqlite_engine), questions))
            results.append(evaluate("labourkb-sqlite", engine_ranker(sqlite_engine, semantic=True), questions))
        if args.engine in ("elasticsearch", "both"):
            import uuid

            from search_api.engines import es_server
            from search_api.engines.elasticsearch import ElasticsearchEngine
            from search_api.settings import Settings

            run_id = uuid.uuid4().hex[:6]
            es = ElasticsearchEngine(
                Settings(
                    engine="elasticsearch", es_url=es_server.ensure_running(), es_index_prefix=f"relevance-{run_id}"
                )
            )
            plain = []
            try:
                for analyzer in ("standard", "bigram"):
                    plain.append(EsPlainBM25(es.client, f"relevance-plain-{run_id}-{analyzer}", docs, analyzer))
                    results.append(evaluate(f"es-{analyzer}", plain[-1].rank, questions))
                ingest([CORPUS], es, lexicon_dir=LEXICON)
                results.append(evaluate("labourkb-elasticsearch-lexical", engine_ranker(es), questions))
                results.append(evaluate("labourkb-elasticsearch", engine_ranker(es, semantic=True), questions))
            finally:
                for p in plain:
                    p.drop()
                es.drop_indices()
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return
    print(
        f"{len(questions)} questions of {args.questions.name}; "
        "metrics @10 (nDCG graded 2/1; Recall and MRR of grade-2 answers)\n"
    )
    print(f"{'run':24} {'nDCG':>6} {'Recall':>7} {'MRR':>6}")
    for r in results:
        print(f"{r['name']:24} {r['ndcg@10']:6.3f} {r['recall@10']:7.3f} {r['mrr@10']:6.3f}")
    by_name = {r["name"]: r["ndcg@10"] for r in results}
    ours = [r for r in results if r["name"].startswith("labourkb-")]
    for r in ours:
        print(
            f"{r['name']}: nDCG@10 {r['ndcg@10'] - by_name['plain-bm25-standard']:+.3f} over plain-bm25-standard, "
            f"{r['ndcg@10'] - by_name['normalised-unigram']:+.3f} over normalised-unigram"
        )
    print("\nper slice (nDCG / Recall / MRR):")
    for r in results:
        cells = "  ".join(
            f"{s} {v['ndcg@10']:.2f}/{v['recall@10']:.2f}/{v['mrr@10']:.2f} (n={v['n']})"
            for s, v in r["slices"].items()
        )
        print(f"  {r['name']:24} {cells}")
    for r in ours:
        print(f"\nworst {args.worst} for {r['name']}:")
        for row in sorted(r["rows"], key=lambda x: (x["ndcg"], x["mrr"]))[: args.worst]:
            print(
                f"  {row['id']} [{row['slice']}] nDCG {row['ndcg']:.2f} {row['q']}\n"
                f"      answers {row['answers']}\n      got     {row['top']}"
            )


if __name__ == "__main__":
    main()
