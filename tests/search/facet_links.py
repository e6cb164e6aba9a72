"""The check that a result page's facet links keep their counts (tests.search.test_narrowing and the
engine contract's fused searches on both engines)."""

from __future__ import annotations

from search_api.search.service import SearchService

QUESTIONS = (
    "厂里把我第一个月工资压着，说干满半年才发",
    "干活不小心把机器弄坏了，老板说每个月从工资里扣",
    "浙江的工伤保险待遇怎么算",
    "被辞退了经济补偿怎么算",
)


def facet_links(response) -> list[tuple[str, str, int]]:
    """(filter field, value, count) for the facet links a result page shows."""
    by_title = {
        h["source_title"]: h["id"].rpartition(".")[0] or h["id"] for h in response.hits if h.get("source_title")
    }
    links = [(f, v, n) for f in ("kind", "region", "topics") for v, n in response.facets.get(f, {}).items()]
    links += [
        ("source_id", by_title[t], n) for t, n in response.facets.get("source_title", {}).items() if t in by_title
    ]
    return links


def assert_links_keep_their_counts(service: SearchService) -> None:
    checked = 0
    for q in QUESTIONS:
        whole = service.search(q, facets=True, related=False, size=50)
        order = [h["id"] for h in whole.hits]
        for field, value, count in facet_links(whole):
            narrowed = service.search(q, filters={field: [value]}, facets=True, related=False, size=50)
            assert narrowed.total == count, (q, field, value)
            assert narrowed.facets[field if field != "source_id" else "kind"], (q, field, value)
            ids = [h["id"] for h in narrowed.hits]
            # the unfiltered page's order, kept to what passes (when the whole set fits one page of 50)
            if whole.total <= 50:
                assert ids == [i for i in order if i in set(ids)], (q, field, value)
            checked += 1
    assert checked >= 20
