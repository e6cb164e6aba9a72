"""Fixtures shared by the monitoring tests."""

from __future__ import annotations

import pytest

from tests.monitoring.helpers import Receiver


@pytest.fixture
def receiver():
    """A webhook endpoint on 127.0.0.1 answering 200."""
    hook = Receiver()
    yield hook
    hook.close()
