"""The snippet's window search (``search.highlight.snippet``) against the plain definition: the
window of ``width`` characters, starting a quarter width before a match, holding the most distinct
matched terms (then the most matches), the first such window on ties."""

import random

from search_api.search import highlight


def _reference_start(text: str, terms: list[str], width: int) -> int | None:
    flat, norm = highlight._flat_aligned(text)
    spans = highlight.find_spans(flat, terms, norm)
    if not spans:
        return None
    best, best_score = 0, -1
    for s, _ in spans:
        begin = max(0, s - width // 4)
        window = [norm[a:b] for a, b in spans if a >= begin and b <= begin + width]
        score = len(set(window)) * 10 + len(window)
        if score > best_score:
            best, best_score = begin, score
    return best


def test_the_window_is_the_best_one_by_the_definition():
    rng = random.Random(11)
    alphabet = "工资加班费劳动合同解除赔偿。，"
    checked = 0
    for _ in range(1500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 700)))
        terms = ["".join(rng.choice(alphabet[:10]) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 5))]
        width = rng.choice([20, 60, 120])
        start = _reference_start(text, terms, width)
        got = highlight.snippet(text, terms, width)
        if start is None:
            assert "<mark>" not in got
            continue
        flat = highlight._flat_aligned(text)[0]
        # the snippet shows the reference window, moved back to a clause boundary within 20 characters
        begin = start
        for i in range(start, max(0, start - 20), -1):
            if i == 0 or flat[i - 1] in "。；;：:，,\n ":
                begin = i
                break
        plain = got.replace("<mark>", "").replace("</mark>", "")
        assert plain.strip("…") == flat[begin : begin + width], (text, terms, width)
        checked += 1
    assert checked > 1000
