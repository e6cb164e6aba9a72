"""The coarse first pass of a large vector index (``search.vectors``; overview: ``search.semantic``).

Every text's vector is projected onto the corpus's 128 principal directions and kept as int8: a
quarter of the bytes of the full vectors. A search scans this projection (onnxruntime
``MatMulInteger``, as the full scan does) and hands the best texts to the index, which scores
their documents exactly on the full vectors. Scores of the documents returned are the exact ones.

Why: the exact scan is memory-bound — at ×20 (75,851 texts) it streams 38 MB per question, 3–4 ms
on a quiet core and 12 ms or more while other processes share the memory bus; the projection is
9.7 MB. The pass can only miss a document, never misscore one: on the ×20 index, the exact top 50
of each of the 653 evaluation questions was always among the documents of the best 2,000 texts
here; among those of the best 1,000 (``vectors.COARSE_ROWS``) the top 10 always, the top 50 for
764 of 773 (bench/knn_recall.py, docs/benchmarks.md). Small indexes are scanned exactly (``COARSE_ABOVE``).
"""

from __future__ import annotations

import numpy as np

from search_api.search.embedder import Q_OFFSET, Q_RANGE, int8_file_scorer, quantise_rows

COARSE_DIM = 128
SAMPLE = 4096  # vectors the principal directions are estimated from
BLOCK = 1024  # vectors projected at a time: a few MB of float32 at most


class CoarseIndex:
    """``rows`` (int8 [texts, 512]) and their ``scales`` projected onto ``dim`` principal directions."""

    def __init__(self, rows: np.ndarray, scales: np.ndarray, dim: int = COARSE_DIM):
        n = len(rows)
        step = max(1, n // SAMPLE)
        sample = rows[::step].astype(np.float32)
        sample *= scales[::step, None]
        mean = sample.mean(axis=0)
        # the covariance in float32 from the sample as it is (np.cov would hold two float64 copies)
        cov = (sample.T @ sample) / len(sample) - np.outer(mean, mean)
        del sample
        _, directions = np.linalg.eigh(cov.astype(np.float64))  # ascending eigenvalues
        self.basis = np.ascontiguousarray(directions[:, ::-1][:, :dim], dtype=np.float32)  # [512, dim]
        self.scales = np.zeros(n, dtype=np.float32)
        self._bias = np.zeros(n, dtype=np.float32)

        def project(path: str) -> None:
            # straight into the session's file (mapped, then unmapped before the session loads it):
            # no copy of the projection is held here, during the load or after (session 22)
            matrix_t = np.memmap(path, dtype=np.int8, mode="w+", shape=(dim, n))
            colsum = np.empty(n, dtype=np.int32)
            for i in range(0, n, BLOCK):
                block = rows[i : i + BLOCK].astype(np.float32)
                block *= scales[i : i + BLOCK, None]
                q, s = quantise_rows(block @ self.basis)
                matrix_t[:, i : i + BLOCK] = q.T
                self.scales[i : i + BLOCK] = s
                colsum[i : i + BLOCK] = q.sum(axis=1, dtype=np.int32)
            matrix_t.flush()
            del matrix_t
            self._bias = (Q_OFFSET * colsum).astype(np.float32) * self.scales

        # the session keeps the projection (packed for its kernel)
        self._scorer = int8_file_scorer((dim, n), project)
        self._matrix_bytes = dim * n

    @property
    def available(self) -> bool:
        """False without onnxruntime's kernel (the index then scans exactly)."""
        return self._scorer is not None

    @property
    def nbytes(self) -> int:
        return self.basis.nbytes + self._matrix_bytes + self.scales.nbytes + self._bias.nbytes

    def candidates(self, query: np.ndarray, count: int) -> np.ndarray:
        """The positions of the ``count`` texts nearest to ``query`` in the projection, unordered."""
        projected = np.asarray(query, dtype=np.float32).reshape(-1) @ self.basis
        top = float(np.abs(projected).max()) or 1.0
        a = (np.rint(projected * (Q_RANGE / top)).astype(np.int16) + Q_OFFSET).astype(np.uint8)[None, :]
        scores = self._scorer.run(None, {"A": a})[0][0].astype(np.float32)
        scores *= self.scales
        scores -= self._bias
        if count >= len(scores):
            return np.arange(len(scores))
        return np.argpartition(-scores, count - 1)[:count]
