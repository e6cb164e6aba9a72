"""The coarse first pass of a large vector index (``search.coarse``): the documents it returns carry
exactly the scores of the full scan, in the same order, and a large index keeps one int8 copy of
its vectors. No model needed: vectors with the low-rank structure of real embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from search_api.search import embedder
from search_api.search.embedder import DIM, _int8_scorer, l2_normalise, quantise_rows
from search_api.search.vectors import VectorIndex

pytest.importorskip("onnxruntime")


def corpus(n_docs: int, n_extra: int, seed: int = 3) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """``n_docs`` own texts then ``n_extra`` everyday questions owned by the first documents,
    as int8 columns: a 48-dimensional topic structure plus noise, as sentence embeddings have."""
    rng = np.random.default_rng(seed)
    n = n_docs + n_extra
    subject = l2_normalise(rng.standard_normal((n, 48)) @ rng.standard_normal((48, DIM)))
    shared = l2_normalise(rng.standard_normal((1, DIM)))  # all of a model's vectors lean one way
    vectors = l2_normalise(subject + 0.6 * shared + 0.3 * l2_normalise(rng.standard_normal((n, DIM))))
    q, scales = quantise_rows(vectors)
    owner = np.sort(rng.integers(0, n_docs // 4, n_extra)).astype(np.int32)
    return [f"d{i}" for i in range(n_docs)], q, scales, owner


def test_the_coarse_pass_returns_the_exact_scores_of_the_full_scan():
    ids, q, scales, owner = corpus(6000, 900)
    exact = VectorIndex(ids, q.T, scales, owner)  # below the threshold: the full int8 scan
    coarse = VectorIndex(ids, q.T, scales, owner, coarse_above=1000, coarse_rows=500)
    assert exact._coarse is None and coarse._coarse is not None
    rng = np.random.default_rng(11)
    for i in rng.integers(0, len(q), 25):
        # a question near one text (a document's own or an everyday question), as a real one is
        query = l2_normalise((q[i].astype(np.float32) * scales[i] + 0.05 * rng.standard_normal(DIM))[None, :])[0]
        assert coarse.search(query, 20) == exact.search(query, 20)
    assert coarse.search(query, 0) == [] and len(coarse.search(query, 6000)) == 6000


def test_a_large_index_keeps_one_int8_copy_of_its_vectors():
    ids, q, scales, _ = corpus(3000, 0)
    vectors = {i.encode(): q[n].astype(np.float32) * scales[n] for n, i in enumerate(ids)}
    index = VectorIndex.from_vectors({i: [i.encode()] for i in ids}, vectors, coarse_above=1000)
    assert index._coarse is not None
    # the rows _assemble wrote are kept as they are; the columns are a view of them
    assert index.matrix_t.shape == (DIM, 3000) and index.matrix_t.T.flags.c_contiguous
    # the coarse projection adds a quarter of the full vectors' bytes (and 256 KB of directions)
    assert index.nbytes < 2 * 3000 * DIM


def test_the_rows_first_kernel_is_exact_without_saturation():
    scorer = _int8_scorer(rows_first=True)
    assert scorer is not None
    rng = np.random.default_rng(5)
    for rows in (np.abs(rng.standard_normal((300, DIM))), rng.standard_normal((300, DIM))):
        q, _ = quantise_rows(l2_normalise(rows))
        query = rng.integers(1, 128, DIM)  # the index's uint8 query: [1, 127]
        y = scorer.run(None, {"A": q, "B": query.astype(np.uint8)[:, None]})[0][:, 0]
        assert np.array_equal(y, q.astype(np.int64) @ query)


def test_without_a_writable_temporary_directory_the_index_scans_in_numpy(monkeypatch, caplog):
    """The int8 kernel reaches onnxruntime as a file (embedder.int8_matrix_scorer): where none can be
    written, the index says so and scores exactly in numpy, with the same results."""
    ids, q, scales, owner = corpus(3000, 300)
    reference = VectorIndex(ids, q.T, scales, owner, use_onnx=False)  # the float arithmetic it falls back to

    def refused(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(embedder.tempfile, "TemporaryDirectory", refused)
    small = VectorIndex(ids, q.T, scales, owner)
    large = VectorIndex(ids, q.T, scales, owner, coarse_above=1000)
    assert small._scorer is None and large._coarse is None
    assert "no int8 kernel" in caplog.text and "read-only file system" in caplog.text
    query = l2_normalise((q[7].astype(np.float32) * scales[7])[None, :])[0]
    expected = reference.search(query, 10)
    for index in (small, large):
        found = index.search(query, 10)
        assert [d for d, _ in found] == [d for d, _ in expected]
        assert np.allclose([s for _, s in found], [s for _, s in expected], atol=1e-5)
