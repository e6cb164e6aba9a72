"""Everyday questions weighed by their distinctiveness (``search.distinct``): a question that comes
close to another document's text lifts its article less than one no other document comes near;
the weights are fixed at build time, deterministic, blind to near copies of the question's own
article, and an index without everyday questions builds and searches as before. No model needed:
hand-made unit vectors."""

from __future__ import annotations

import numpy as np
import pytest

from search_api.search.distinct import QUESTION_WEIGHT, question_offsets
from search_api.search.embedder import DIM, l2_normalise, quantise_rows
from search_api.search.vectors import EXTRA_WEIGHT, VectorIndex

AXES = np.linalg.qr(np.random.default_rng(5).standard_normal((DIM, 8)))[0].T  # 8 orthonormal directions


def unit(*parts: tuple[float, int]) -> np.ndarray:
    return l2_normalise(sum(w * AXES[i] for w, i in parts)[None, :])[0].astype(np.float32)


# four documents, each its own direction; "generic" (owned by d0) leans towards d1's text, while
# "distinct" (owned by d2) leans towards a direction no document has. Both sit at 0.6 from their own text.
OWN = {f"d{i}": unit((1.0, i)) for i in range(4)}
GENERIC = unit((0.6, 0), (0.8, 1))
DISTINCT = unit((0.6, 2), (0.8, 5))


def index(**kw) -> VectorIndex:
    vectors = {k.encode(): v for k, v in OWN.items()} | {b"generic": GENERIC, b"distinct": DISTINCT}
    texts = {"d0": [b"d0", b"generic"], "d1": [b"d1"], "d2": [b"d2", b"distinct"], "d3": [b"d3"]}
    return VectorIndex.from_vectors(texts, vectors, **kw)


def lift(idx: VectorIndex, query: np.ndarray, doc_id: str) -> float:
    """How far the document's everyday question raises it above its own text's cosine."""
    return dict(idx.search(query, 4))[doc_id] - float(OWN[doc_id] @ query)


def test_a_distinctive_question_lifts_its_article_more_than_a_generic_one():
    weighed, plain = index(), index(question_weight=0)
    # unweighed, both questions lift their article alike (the query is the question itself)
    assert lift(plain, GENERIC, "d0") == pytest.approx(lift(plain, DISTINCT, "d2"), abs=0.01)
    assert lift(plain, GENERIC, "d0") == pytest.approx(EXTRA_WEIGHT * (1 - 0.6), abs=0.01)
    # weighed: the generic one (0.8 from d1's text) less, the distinctive one (0 from any) more
    assert lift(weighed, GENERIC, "d0") < lift(plain, GENERIC, "d0") - 0.05
    assert lift(weighed, DISTINCT, "d2") > lift(plain, DISTINCT, "d2") + 0.05
    # the offsets are QUESTION_WEIGHT × (nearest other text − the questions' mean): ±0.4 × 0.4
    assert weighed.extra_offset == pytest.approx([QUESTION_WEIGHT * 0.4, -QUESTION_WEIGHT * 0.4], abs=0.01)
    assert lift(weighed, GENERIC, "d0") == pytest.approx(EXTRA_WEIGHT * (1 - 0.16 - 0.6), abs=0.01)
    # a document without everyday questions scores its own text's cosine either way
    assert dict(weighed.search(GENERIC, 4))["d1"] == pytest.approx(0.8, abs=0.01)


def test_the_weights_are_deterministic_and_centred():
    ids, q, scales, owner = corpus(400, 120)
    first = question_offsets(q.T, scales, len(ids), owner)
    again = VectorIndex(ids, q.T, scales, owner).extra_offset
    assert np.array_equal(first, again)
    assert first.dtype == np.float32 and len(first) == 120 and np.ptp(first) > 0
    assert abs(float(first.mean())) < 1e-5  # as many lowered as raised
    assert not question_offsets(q.T, scales, len(ids), owner, weight=0).any()


def test_near_copies_of_the_own_article_do_not_make_a_question_generic():
    """A corpus copied ×3 (the ×N benchmarks: same vectors under new ids) weighs its questions as ×1."""
    ids, q, scales, owner = corpus(300, 90)
    vectors = {i.encode(): q[n].astype(np.float32) * scales[n] for n, i in enumerate(ids)}
    asks = {f"ask{j}".encode(): q[len(ids) + j].astype(np.float32) * scales[len(ids) + j] for j in range(90)}
    texts = {i: [i.encode()] + [f"ask{j}".encode() for j in np.flatnonzero(owner == n)] for n, i in enumerate(ids)}
    once = VectorIndex.from_vectors(texts, vectors | asks)
    copied = dict(texts) | {f"{i}~{c}": [i.encode()] for i in ids for c in (1, 2)}
    thrice = VectorIndex.from_vectors(copied, vectors | asks)
    assert len(thrice) == 3 * len(once)
    assert thrice.extra_offset == pytest.approx(once.extra_offset, abs=1e-5)


def test_an_index_without_everyday_questions_builds_and_searches():
    vectors = {k.encode(): v for k, v in OWN.items()}
    idx = VectorIndex.from_vectors({k: [k.encode()] for k in OWN}, vectors)
    assert len(idx.extra_offset) == 0
    assert idx.search(OWN["d2"], 2)[0] == ("d2", pytest.approx(1.0, abs=0.01))
    # one document with a question: nothing to compare it with, no offset
    alone = VectorIndex.from_vectors({"d0": [b"d0", b"generic"]}, {b"d0": OWN["d0"], b"generic": GENERIC})
    assert alone.extra_offset.tolist() == [0.0]
    assert VectorIndex.from_vectors({}, {}).search(GENERIC, 3) == []


def corpus(n_docs: int, n_extra: int, seed: int = 7) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """``n_docs`` own texts, then ``n_extra`` questions owned by the first documents, as int8 rows
    with a low-rank topic structure (questions near their owner's text, some near others')."""
    rng = np.random.default_rng(seed)
    own = l2_normalise(rng.standard_normal((n_docs, 24)) @ rng.standard_normal((24, DIM)))
    owner = np.sort(rng.integers(0, n_docs // 3, n_extra)).astype(np.int32)
    other = rng.integers(0, n_docs, n_extra)
    mix = rng.uniform(0, 0.8, n_extra)[:, None]
    asks = l2_normalise(own[owner] + mix * own[other] + 0.5 * l2_normalise(rng.standard_normal((n_extra, DIM))))
    q, scales = quantise_rows(np.vstack([own, asks]))
    return [f"d{i}" for i in range(n_docs)], q, scales, owner
