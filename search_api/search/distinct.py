"""How far each everyday question may lift its article: its distinctiveness, weighed once when the
vector index is built (``search.vectors``; overview: ``search.semantic``).

A document scores its own text's cosine, lifted towards its best everyday question. A question
that comes as close to another article's text as to anything is generic ("公司不给钱怎么办"): a
question that matches it says little about which article answers, yet lifts its own article as
much as a question only one article answers. So each question's cosine is lowered, before the
lift, by ``QUESTION_WEIGHT`` times how much closer than the average question it comes to the
nearest text of another document (and raised by as much when it comes less close): a hubness
correction in the manner of CSLS, fixed per question, so a search costs one subtraction more.

"Another document" leaves out the question's own article and its near copies (own texts at a
cosine of at least ``NEAR_COPY`` to the article's: a corpus copied with new titles, as the ×N
benchmarks make), which would otherwise make every question look generic.

Measured on the seven development sets (nDCG@10; docs/benchmarks.md, session 17): with these
offsets and the lift at 0.45 (``search.vectors.EXTRA_WEIGHT``, 0.5 before) the main set goes from
0.8486 to 0.8522 and the mean of the seven from 0.7668 to 0.7682. Neither half does it alone (the
lift at 0.45: 0.8492 / 0.7669; the offsets at 0.5: 0.8492 / 0.7671 with weight 0.5). A weight per
question multiplying its lift (by its margin over the nearest other text) lost 0.01-0.09 of the mean.

Cost: one pass of the questions' vectors over the documents' own texts, in float32 blocks:
O(questions × documents) — ~2,600 questions × 73,000 documents at ×20, a few seconds on one
core, with ~20 MB held at a time (the questions as float32 and one block).
"""

from __future__ import annotations

import numpy as np

QUESTION_WEIGHT = 0.4
NEAR_COPY = 0.98
BLOCK = 256  # own texts scored at a time (the block's arrays: a few MB at ×20)


def question_offsets(
    matrix_t: np.ndarray,
    scales: np.ndarray,
    n_docs: int,
    owner: np.ndarray,
    weight: float = QUESTION_WEIGHT,
    block: int = BLOCK,
) -> np.ndarray:
    """What to subtract from each extra text's cosine (float32, one per extra text, in cosine units).

    ``matrix_t``: the index's int8 vectors as columns [DIM, texts] — the ``n_docs`` documents' own
    texts first, then the extra texts, owned by ``owner`` (document positions); ``scales``: each
    text's scale (vector ≈ int8 column × scale). Zero everywhere when ``weight`` is 0, when there
    are no extra texts, or for a question no other document is there to compare with.
    """
    owner = np.asarray(owner, dtype=np.int64)
    out = np.zeros(len(owner), dtype=np.float32)
    if weight == 0 or not len(owner) or n_docs < 2:
        return out
    scales = np.asarray(scales, dtype=np.float32)
    questions = _float_rows(matrix_t, scales, slice(n_docs, n_docs + len(owner)))
    owners, slot = np.unique(owner, return_inverse=True)
    owners_own = _float_rows(matrix_t, scales, owners)
    nearest = np.full(len(owner), -np.inf, dtype=np.float32)
    for start in range(0, n_docs, block):
        stop = min(start + block, n_docs)
        own = _float_rows(matrix_t, scales, slice(start, stop))
        cos = questions @ own.T  # [questions, block]
        copies = (owners_own @ own.T)[slot] >= NEAR_COPY  # the owner and its near copies
        inside = (owner >= start) & (owner < stop)
        copies[np.flatnonzero(inside), owner[inside] - start] = True
        cos[copies] = -np.inf
        np.maximum(nearest, cos.max(axis=1), out=nearest)
    found = np.isfinite(nearest)
    if found.any():
        out[found] = weight * (nearest[found] - nearest[found].mean(dtype=np.float64))
    return out


def _float_rows(matrix_t: np.ndarray, scales: np.ndarray, texts: slice | np.ndarray) -> np.ndarray:
    """The ``texts`` (a slice or positions) as float32 rows (their int8 columns times their scales)."""
    rows = matrix_t[:, texts].T.astype(np.float32)
    rows *= scales[texts, None]
    return rows
