"""core.provider_reads: the one pattern for a provider read a web request asks for."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from core import provider_reads as reads

KEY = reads.read_key("test-read", 7)


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def test_first_ask_queues_once_and_is_pending():
    queued: list[int] = []
    first = reads.read_request(key=KEY, max_age=60, enqueue=lambda: queued.append(1))
    second = reads.read_request(key=KEY, max_age=60, enqueue=lambda: queued.append(1))
    assert first.pending and second.pending
    assert queued == [1]  # the second ask does not queue the same read again


def test_stored_data_is_ready_until_it_is_too_old(monkeypatch):
    reads.read_store_data(KEY, [{"name": "gift"}])
    result = reads.read_request(key=KEY, max_age=60, enqueue=lambda: pytest.fail("queued"))
    assert result.ready and result.data == [{"name": "gift"}] and result.read_at is not None
    later = timezone.now() + dt.timedelta(seconds=61)
    monkeypatch.setattr(timezone, "now", lambda: later)
    queued: list[int] = []
    assert reads.read_request(key=KEY, max_age=60, enqueue=lambda: queued.append(1)).pending
    assert queued == [1]


def test_a_task_that_ran_at_once_answers_ready():
    result = reads.read_request(key=KEY, max_age=60,
                                enqueue=lambda: reads.read_store_data(KEY, {"ok": True}))
    assert result.ready and result.data == {"ok": True}


def test_a_failure_is_answered_once_then_read_again():
    reads.read_store_failure(KEY, "Brandsdistribution refused the credentials.")
    failed = reads.read_request(key=KEY, max_age=60, enqueue=lambda: pytest.fail("queued"))
    assert failed.failed and failed.error == "Brandsdistribution refused the credentials."
    queued: list[int] = []
    assert reads.read_request(key=KEY, max_age=60, enqueue=lambda: queued.append(1)).pending
    assert queued == [1]


def test_refresh_reads_again_and_forget_drops_the_result():
    reads.read_store_data(KEY, 1)
    queued: list[int] = []
    assert reads.read_request(key=KEY, max_age=60, enqueue=lambda: queued.append(1),
                              refresh=True).pending
    assert queued == [1]
    reads.read_store_data(KEY, 2)
    assert reads.read_peek(key=KEY).data == 2
    reads.read_forget(KEY)
    assert reads.read_peek(key=KEY) is None


def test_a_lost_message_is_queued_again_after_the_pending_window(monkeypatch):
    queued: list[int] = []
    reads.read_request(key=KEY, max_age=60, enqueue=lambda: queued.append(1))
    later = timezone.now() + dt.timedelta(seconds=reads.PENDING_SECONDS + 1)
    cache.delete(f"{KEY}:pending")  # what the cache does when the marker's timeout passes
    monkeypatch.setattr(timezone, "now", lambda: later)
    reads.read_request(key=KEY, max_age=60, enqueue=lambda: queued.append(1))
    assert queued == [1, 1]


def test_a_failure_keeps_its_code_and_the_code_is_optional():
    reads.read_store_failure(KEY, "Reseller refused: no such item.", code="provider_rejected")
    failed = reads.read_peek(key=KEY)
    assert failed.failed and failed.code == "provider_rejected"
    reads.read_store_failure(KEY, "The provider failed.")  # as before: no code
    assert reads.read_peek(key=KEY).code == ""
