"""The generation asked of a remote engine at most once a period (``engines.polled``)."""

from __future__ import annotations

import threading

import pytest

from search_api.engines.polled import PolledGeneration


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def slow_on(call: int):
    """A fetch answering ``("a", n)`` for its n-th call, the ``call``-th of which waits for ``release``
    (``entered`` is set when it starts waiting)."""
    entered, release = threading.Event(), threading.Event()
    calls = {"n": 0}

    def fetch():
        calls["n"] += 1
        if calls["n"] == call:
            entered.set()
            assert release.wait(5)
        return ("a", calls["n"])

    return fetch, entered, release, calls


def counter():
    state = {"n": 0}

    def fetch():
        state["n"] += 1
        return ("index-a", state["n"])

    return fetch


def test_asked_once_a_period():
    clock = Clock()
    polled = PolledGeneration(counter(), period=1.0, clock=clock)
    assert polled.get() == ("index-a", 1)
    clock.now += 0.9
    assert polled.get() == ("index-a", 1) and polled.fetches == 1
    clock.now += 0.2
    assert polled.get() == ("index-a", 2) and polled.fetches == 2


def test_expire_fetches_at_once():
    clock = Clock()
    polled = PolledGeneration(counter(), period=1.0, clock=clock)
    polled.get()
    polled.expire()
    assert polled.get() == ("index-a", 2)


def test_a_failed_fetch_leaves_no_value_and_the_next_get_asks_again():
    clock = Clock()
    answers = iter([("a", 1), ConnectionError("node down"), ("a", 2)])

    def fetch():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    polled = PolledGeneration(fetch, period=1.0, clock=clock)
    assert polled.get() == ("a", 1)
    clock.now += 2
    with pytest.raises(ConnectionError):
        polled.get()
    # no stale value is served after a failure, even within the period
    assert polled.get() == ("a", 2) and polled.fetches == 3


def test_while_one_thread_fetches_the_others_use_the_old_value():
    clock = Clock()
    fetch, entered, release, calls = slow_on(2)  # the periodic fetch is slow
    polled = PolledGeneration(fetch, period=1.0, clock=clock)
    assert polled.get() == ("a", 1)
    clock.now += 2
    slow = threading.Thread(target=polled.get)
    slow.start()
    assert entered.wait(5)
    assert polled.get() == ("a", 1)  # not blocked behind the slow fetch
    release.set()
    slow.join(5)
    assert polled.get() == ("a", 2) and calls["n"] == 2


def test_without_a_value_callers_wait_for_the_fetch():
    fetch, entered, release, _ = slow_on(1)
    polled = PolledGeneration(fetch, period=1.0, clock=Clock())
    got = []
    first = threading.Thread(target=lambda: got.append(polled.get()))
    first.start()
    assert entered.wait(5)
    second = threading.Thread(target=lambda: got.append(polled.get()))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # no value to serve: it waits rather than answer None
    release.set()
    first.join(5)
    second.join(5)
    assert got == [("a", 1), ("a", 1)] and polled.fetches == 1


def test_an_expiry_during_a_fetch_is_not_lost():
    clock = Clock()
    fetch, entered, release, _ = slow_on(1)  # a fetch that started before this process wrote
    polled = PolledGeneration(fetch, period=1.0, clock=clock)
    first = threading.Thread(target=polled.get)
    first.start()
    assert entered.wait(5)
    polled.expire()  # the write lands while the fetch is under way
    release.set()
    first.join(5)
    # what that fetch brought back may predate the write: the next get asks again
    assert polled.get() == ("a", 2) and polled.fetches == 2
