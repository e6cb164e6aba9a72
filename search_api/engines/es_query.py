"""Index mapping and query building for the Elasticsearch engine (plain dicts, no client).

Kept apart from ``elasticsearch.py`` so the request shapes can be read (and
tested) without a server. Everything here uses core Elasticsearch only: the
``whitespace`` analyzer, ``combined_fields``, ``terms`` and named queries, no
scripts, so it runs on the integ-test distribution and on any full cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ingest.model import Document
from search_api.engines.base import (
    FACET_FIELDS,
    FIELD_WEIGHTS,
    FILTER_FIELDS,
    LIGHT_FIELDS,
    MAX_WINDOW,
    SearchHit,
    SearchQuery,
)
from search_api.engines.es_vectors import HIT_VALUES, SOURCE_EXCLUDES, VECTOR_PROPERTIES
from search_api.engines.ranking import CANDIDATES, FACET_SIZE, SPILL, Scorer, answering_many

KEYWORD_FIELDS = tuple(dict.fromkeys(FILTER_FIELDS + FACET_FIELDS + ("id", "source_path")))
# Terms and whitespace-separated tokens per query: each token becomes one clause per
# field, and Lucene refuses queries beyond max_clause_count (8192 with a 512 MB heap).
MAX_TERMS = 300
MAX_TOKENS = 1000
MAX_TOKENS_PER_TERM = 32  # a term is normally one token; a phrase-like term keeps its start
IGNORE_ABOVE = 2048  # keyword values longer than this are stored but not indexed
# Elasticsearch refuses an _id over 512 bytes, so every document's id (at most 512 characters) has its
# doc value: the searches read ids from doc values, never the stored _id (see search_body)
MAX_ID_BYTES = 512

INDEX_SETTINGS = {
    "number_of_shards": 1,
    # 0 replicas on one node (green health), 1 on a real cluster
    "auto_expand_replicas": "0-1",
}

# Root `dynamic: false`: the whole Document lands in _source (display text, metadata)
# but only the fields below are indexed. Vectors (es_vectors) are indexed, not kept in _source.
MAPPING: dict[str, Any] = {
    "dynamic": False,
    "_source": {"excludes": SOURCE_EXCLUDES},
    "properties": {
        **VECTOR_PROPERTIES,
        **{f: {"type": "keyword", "ignore_above": IGNORE_ABOVE} for f in KEYWORD_FIELDS},
        "prior": {"type": "float"},
        "article": {"type": "integer"},  # browse order within a law
        "content_hash": {"type": "keyword", "index": False},
        "tokens": {"properties": {f: {"type": "text", "analyzer": "whitespace"} for f in FIELD_WEIGHTS}},
    },
}


# _source filters of the page's documents and of the related cases (see page_searches)
PAGE_SOURCE = {"_source": {"excludes": ["tokens"]}}
RELATED_SOURCE = {"_source": {"excludes": ["tokens", "text", "sections", "annotation", "citations", "questions"]}}


def _filter_clauses(filters: dict[str, list[str]]) -> list[dict[str, Any]]:
    clauses = []
    for field, values in filters.items():
        values = [str(v) for v in ([values] if isinstance(values, str) else values) if str(v)]
        # longer values are never indexed (ignore_above), and Lucene refuses huge terms
        usable = [v for v in values if len(v) <= IGNORE_ABOVE]
        if usable:
            clauses.append({"terms": {field: usable}})
        elif values:
            clauses.append({"bool": {"must_not": {"match_all": {}}}})
    return clauses


def query_texts(query: SearchQuery) -> dict[str, float]:
    """Usable query terms → weight (blank and non-positive terms dropped, duplicates merged)."""
    weights: dict[str, float] = {}
    budget = MAX_TOKENS
    for term in query.terms:
        tokens = (term.text or "").split()[: min(budget, MAX_TOKENS_PER_TERM)]
        text = " ".join(tokens)
        if text and term.weight > 0 and (text in weights or len(weights) < MAX_TERMS):
            weights[text] = max(weights.get(text, 0.0), float(term.weight))
            budget -= len(tokens)
    return weights


def term_groups(query: SearchQuery) -> dict[int, dict[str, float]]:
    """The usable terms (``query_texts``) by the concept group ``Scorer`` puts them in, each with the
    weight ``Scorer`` gives it (the last of a repeated text); a term ``Scorer`` would not count is left out."""
    scoring = {t.text: (t.group, t.weight) for t in query.terms}
    groups: dict[int, dict[str, float]] = {}
    for text in query_texts(query):
        group, weight = scoring.get(text, (0, 0.0))
        if weight > 0:
            groups.setdefault(group, {})[text] = weight
    return groups


def group_names(groups: dict[int, dict[str, float]]) -> dict[str, int]:
    """Query-clause names (``g0``, ``g1`` …) → the concept group each clause scores."""
    return {f"g{i}": group for i, group in enumerate(groups)}


def _term_clause(text: str, weight: float, fields: list[str], light: dict[str, float]) -> dict[str, Any]:
    combined = {"combined_fields": {"query": text, "fields": fields}}
    if not light:
        combined["combined_fields"]["boost"] = weight
        return combined
    extra = [{"match": {f"tokens.{field}": {"query": text, "boost": fw}}} for field, fw in light.items()]
    return {"bool": {"should": [combined, *extra], "boost": weight}}


def _group_clause(terms: dict[str, float], name: str, fields: list[str], light: dict[str, float]) -> dict[str, Any]:
    """One concept's terms as one named clause scored as ``Scorer`` scores a group: the best term's
    weighted score and ``SPILL`` of the others' (a ``dis_max``'s tie-breaker does exactly that). One
    score per concept instead of one per term (the evaluation questions: a median of 27 terms in 7
    concepts, 47 in 12 at the 90th percentile): the main set's candidate answers 51 → 40 KB to decode."""
    clauses = [_term_clause(text, weight, fields, light) for text, weight in terms.items()]
    clause = clauses[0] if len(clauses) == 1 else {"dis_max": {"queries": clauses, "tie_breaker": SPILL}}
    next(iter(clause.values()))["_name"] = name
    return clause


def search_body(query: SearchQuery, request_cache: bool = True) -> dict[str, Any] | None:
    """The ``_search`` request body for ``query``; None when there is nothing to search.

    With terms: the top candidates by weighted BM25F, each term a named query whose
    own score comes back, for ``engines.ranking`` to order (prior and boosts applied there).
    Without terms but with filters: the filtered set in authority order
    (prior, law, article number), as the SQLite engine browses.
    """
    groups = term_groups(query)
    filters = _filter_clauses(query.filters)
    if not groups and not filters:
        return None
    body: dict[str, Any] = {"from": query.offset, "size": query.size, "track_total_hits": True}
    if groups:
        # Candidates by weighted BM25F (combined_fields sums the weighted fields' term
        # frequencies before saturation, like FTS5's bm25() with column weights); each
        # concept is a named query (_group_clause) so its own score comes back, and the final order
        # is engines.ranking.Scorer, the formula the SQLite engine uses too.
        # combined_fields takes per-field weights of 1 or more; a lighter field (the everyday
        # questions) is a separate match in the same term's clause, so its score adds as in FTS5.
        fields = [f"tokens.{field}^{fw:g}" for field, fw in FIELD_WEIGHTS.items() if fw >= 1]
        light = {field: fw for field, fw in FIELD_WEIGHTS.items() if fw < 1}
        should = [_group_clause(groups[g], name, fields, light) for name, g in group_names(groups).items()]
        body["query"] = {"bool": {"should": should, "minimum_should_match": 1, "filter": filters}}
        body["from"] = 0
        body["size"] = min(MAX_WINDOW, max(CANDIDATES, query.offset + query.size))
        # The total is the answering set's size, counted in Python: the node need not count every
        # match. Counting them costs the node 20-25 % more per candidates request at x20 (39 against
        # 30-33 ms, recorded questions replayed, request cache off) and nothing measurable at x1;
        # the top candidates are the same either way (docs/benchmarks.md, session 27)
        body["track_total_hits"] = False
        # The shard request cache keeps the query phase's top candidates of a repeated question (a
        # next page, a filter link, another worker asking the same) until the next refresh that
        # changes the index, so the answer is the one an uncached search gives; only size-0
        # requests are cached unless asked. The fetch phase (named scores) still runs. Off with the
        # application's result cache (LABOURKB_RESULT_CACHE_MB=0): then every question is ranked anew.
        body["request_cache"] = request_cache
        # no stored field at all, not even _id: reading one decompresses the stored-field block
        # with the _source (half the node's time for 300 candidates); the id comes as a doc value
        body["stored_fields"] = ["_none_"]
        # Only the id: the prior, boost and facet fields come from the engine's kept doc values
        # (``DocumentCache.doc_values``). Three quarters of the node's answer for 300 candidates,
        # fetched and decoded anew for each question: with them, 2.5-3.5 ms more of the node's CPU
        # and 2.5 of the client's per question (docs/benchmarks.md, session 26).
        body["docvalue_fields"] = ["id"]
        body["filter_path"] = HIT_VALUES
    else:
        body["query"] = {"bool": {"filter": filters}}
        if query.light:
            body["_source"] = list(LIGHT_FIELDS)
        body["sort"] = [
            # unmapped_type: indices made before a field was mapped still sort
            {"prior": {"order": "desc", "missing": "_last", "unmapped_type": "float"}},
            {"source_id": "asc"},
            {"article": {"order": "asc", "missing": "_last", "unmapped_type": "integer"}},
            {"id": "asc"},
        ]
    if query.facets and not groups:  # browsing; with terms the engine counts the answering set
        body["aggs"] = {f: {"terms": {"field": f, "size": FACET_SIZE}} for f in FACET_FIELDS}
    return body


def every_case_request(limit: int) -> dict[str, Any]:
    """The ``_search`` for every case in browse order, without texts or tokens (``RELATED_SOURCE``):
    ``limit + 1`` at most, so that more than ``limit`` shows."""
    body = search_body(SearchQuery(terms=[], filters={"kind": ["case"]}, size=limit + 1)) or {}
    return {**body, **RELATED_SOURCE, "track_total_hits": False}


def page_searches(index: str, ids: list[str], related: SearchQuery | None) -> list[dict[str, Any]]:
    """The ``_msearch`` lines for a ranked page: its documents (without their tokens, which no
    page shows) and, when asked, the related cases (without text or tokens: a title and a link)."""
    searches = [{"index": index}, {"query": {"ids": {"values": ids}}, "size": len(ids), **PAGE_SOURCE}]
    if related is not None:
        body = {k: v for k, v in (search_body(related) or {}).items() if k != "filter_path"}  # a URL parameter
        searches += [{"index": index}, {**body, "track_total_hits": False, **RELATED_SOURCE}]
    return searches


def light_request(ids: list[str]) -> dict[str, Any]:
    """The ``_search`` reading the light documents (``LIGHT_FIELDS``) of ``ids`` from doc values. An
    ``mget`` with a ``_source`` filter parses each whole ``_source``: for the semantic side's 50
    candidates, 9-10 ms of the node's CPU per first-time question against 3-5 (docs/benchmarks.md)."""
    return {
        "query": {"ids": {"values": ids}},
        "size": len(ids),
        "stored_fields": ["_none_"],  # the id too from doc values (see search_body)
        "docvalue_fields": list(LIGHT_FIELDS),
        "track_total_hits": False,
        "filter_path": HIT_VALUES,
    }


def doc_freq_request(texts: Iterable[str]) -> dict[str, Any]:
    """The ``_termvectors`` parameters that give the document frequency of every token of ``texts``
    in each searched field: an artificial document holding them all, nothing else returned."""
    joined = " ".join(sorted({token for text in texts for token in text.split()}))
    return {
        "doc": {"tokens": dict.fromkeys(FIELD_WEIGHTS, joined)},
        "fields": [f"tokens.{field}" for field in FIELD_WEIGHTS],
        "term_statistics": True,
        "field_statistics": False,
        "positions": False,
        "offsets": False,
        "filter_path": "term_vectors.*.terms.*.doc_freq",
    }


def doc_freqs(resp: Any, texts: Iterable[str]) -> dict[str, int]:
    """Each text's document frequency from a ``doc_freq_request`` answer: a token's is its largest
    over the fields (the documents holding it in any field, at least), a text of several tokens
    takes its rarest token's (as a phrase, at most that); a token found nowhere: 0."""
    per_token: dict[str, int] = {}
    for field in (resp.get("term_vectors") or {}).values():
        for token, stats in (field.get("terms") or {}).items():
            per_token[token] = max(per_token.get(token, 0), int(stats.get("doc_freq") or 0))
    return {text: min((per_token.get(token, 0) for token in text.split()), default=0) for text in texts}


def hits_of(resp: Any) -> list[dict[str, Any]]:
    """A search answer's hits (an answer cut by ``filter_path`` has no ``hits`` when nothing matched)."""
    return (resp.get("hits") or {}).get("hits") or []


def light_document(doc_id: str, values: dict[str, Any]) -> Document:
    """A light document (``LIGHT_FIELDS``) from doc values (lists) or a filtered ``_source``."""

    def one(name: str, default: Any = "") -> Any:
        v = values.get(name, default)
        return (v[0] if v else default) if isinstance(v, list) else v

    topics = values.get("topics") or []
    return Document(
        id=doc_id,
        kind=one("kind"),
        title="",
        text="",
        prior=round(float(one("prior", 1.0) or 1.0), 6),  # a float32 doc value: 0.55 comes back as 0.5500000119
        doc_type=one("doc_type"),
        source_id=one("source_id"),
        source_title=one("source_title"),
        region=one("region", "全国"),
        level=one("level", "national"),
        topics=list(topics) if isinstance(topics, list) else [topics],
    )


def doc_value(hit: dict[str, Any], field: str) -> Any:
    """A candidate's first doc value of ``field`` (None without one)."""
    values = (hit.get("fields") or {}).get(field)
    return values[0] if values else None


def browsed_hits(raw_hits: list[dict[str, Any]], light: bool = False) -> list[SearchHit]:
    """Hits of a browse request, in their order, scored by prior (``_source`` may leave out the text;
    ``light``: it holds only ``LIGHT_FIELDS``)."""
    return [
        SearchHit(
            id=h["_id"],
            score=float(h["_source"].get("prior") or 0.0),
            doc=light_document(h["_id"], h["_source"])
            if light
            else Document.from_dict({"title": "", "text": "", **h["_source"]}),
        )
        for h in raw_hits
    ]


def hit_id(hit: dict[str, Any]) -> str:
    """A hit's document id: ``_id``, or the ``id`` doc value when stored fields were not read."""
    return hit["_id"] if "_id" in hit else hit["fields"]["id"][0]


def rank_candidates(
    raw_hits: list[dict[str, Any]], query: SearchQuery, searched: SearchQuery | None = None
) -> tuple[list[str], Any, Any, list[int]]:
    """The candidates ranked by the shared formula (``Scorer.score_many``, as the SQLite engine
    ranks), from each concept's own score (``_group_clause``): ``(ids, scores, covered shares,
    order)``, the first three per hit, ``order`` the answering set's hits best first (ties:
    smaller id). ``searched``: the query the request was made from, when some of ``query``'s terms
    were left out (``ranking.negligible_terms``); the coverage still counts every concept of ``query``."""
    names = group_names(term_groups(searched or query))  # clause name → concept group
    ids = [h["_id"] if "_id" in h else h["fields"]["id"][0] for h in raw_hits]  # hit_id, inlined
    rank = np.empty(len(ids), dtype=np.int64)  # a hit's key: its id's place in id order
    rank[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
    # every (hit, concept, score) in three flat lists, then grouped by concept with one stable sort
    # (a loop per matched concept and hit was most of the ranking's time)
    owners: list[int] = []
    matched_names: list[str] = []
    group_scores: list[float] = []
    for key, h in zip(rank.tolist(), raw_hits, strict=True):
        matched = h.get("matched_queries")
        if matched:
            matched_names.extend(matched)
            group_scores.extend(matched.values())
            owners.extend([key] * len(matched))
    order_of = {name: i for i, name in enumerate(names)}
    clauses = np.fromiter(map(order_of.__getitem__, matched_names), dtype=np.int64, count=len(matched_names))
    by_clause = np.argsort(clauses, kind="stable")
    bounds = np.searchsorted(clauses[by_clause], np.arange(len(names) + 1)).tolist()
    keys = np.asarray(owners, dtype=np.int64)[by_clause]
    raw = np.asarray(group_scores, dtype=np.float64)[by_clause]
    matches = [(name, keys[bounds[i] : bounds[i + 1]], raw[bounds[i] : bounds[i + 1]]) for i, name in enumerate(names)]
    hit_of = np.empty(len(ids), dtype=np.int64)
    hit_of[rank] = np.arange(len(ids))

    def values(field: str, at: np.ndarray, default: Any = "") -> list[Any]:
        return [((raw_hits[i].get("fields") or {}).get(field) or [default])[0] for i in hit_of[at].tolist()]

    def prior(at: np.ndarray) -> np.ndarray:
        return np.array(values("prior", at, 1.0), dtype=np.float64)

    found, scores, shares = Scorer.of_groups(query, names).score_many(matches, prior, values)
    kept = answering_many(found, scores)
    at = hit_of[found]
    hit_scores, hit_shares = np.zeros(len(ids)), np.zeros(len(ids))
    hit_scores[at], hit_shares[at] = scores, shares
    return ids, hit_scores, hit_shares, at[kept].tolist()
