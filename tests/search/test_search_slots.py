"""Searches run ``search_slots`` at a time per process; the others wait their turn and all are answered."""

import threading
import time

from search_api.engines.sqlite import SqliteEngine
from search_api.search.service import SearchService


def test_at_most_search_slots_searches_run_at_once_and_every_one_is_answered(corpus_settings):
    service = SearchService(
        corpus_settings.model_copy(update={"search_slots": 2}), SqliteEngine(corpus_settings.index_path)
    )
    inner = service._search
    running, peak, lock = [0], [0], threading.Lock()

    def measured(q, **kw):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.05)  # long enough for the other threads to pile up
            return inner(q, **kw)
        finally:
            with lock:
                running[0] -= 1

    service._search = measured
    answers: dict[int, int] = {}

    def ask(i: int) -> None:
        answers[i] = service.search("拖欠工资怎么办").total

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert peak[0] == 2
    assert len(answers) == 8 and len(set(answers.values())) == 1 and next(iter(answers.values())) > 0
