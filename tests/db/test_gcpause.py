"""config.gcpause: the collector is off inside, back on after (also after an error), pauses
nest across threads, and a collector that was off stays off."""

from __future__ import annotations

import gc
import threading

import pytest

from config.gcpause import gc_paused


@pytest.fixture(autouse=True)
def _collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_back_on_after_even_after_an_error():
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError
    assert gc.isenabled()


def test_nested_and_concurrent_pauses_turn_it_on_only_at_the_last_exit():
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=other)
    with gc_paused():
        thread.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the other thread is still inside
    leave.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


@pytest.mark.django_db
def test_upsert_page_runs_with_the_collector_paused(monkeypatch):
    from orders import snapshots

    seen = []
    monkeypatch.setattr(snapshots, "_upsert_page", lambda **kw: seen.append(gc.isenabled()) or {})
    snapshots.upsert_page(account=None, page=[])  # type: ignore[arg-type]
    assert seen == [False] and gc.isenabled()
