"""orders.readahead.read_ahead: the next page is fetched while the caller works on this one."""

from __future__ import annotations

import threading

import pytest

from orders.readahead import read_ahead


def _pages(log: list[str], cursor: dict, count: int, *, fail_at: int | None = None,
           fetching: threading.Event | None = None):  # type: ignore[no-untyped-def]
    try:
        for n in range(count):
            if n == 1 and fetching is not None:
                fetching.set()
            if n == fail_at:
                raise ConnectionError(f"page {n}: connection reset")
            log.append(f"fetched {n}")
            cursor["page"] = n + 1
            yield [f"order {n}"]
    finally:
        log.append("closed")


@pytest.mark.parametrize("enabled", [True, False])
def test_pages_come_in_order_each_with_the_cursor_as_it_stood_after_it(enabled):  # type: ignore[no-untyped-def]
    log: list[str] = []
    cursor: dict = {}
    got = list(read_ahead(_pages(log, cursor, 4), snapshot=lambda: dict(cursor), enabled=enabled))
    assert got == [([f"order {n}"], {"page": n + 1}) for n in range(4)]
    assert log[-1] == "closed"


def test_the_next_page_is_fetched_while_the_caller_holds_this_one():  # type: ignore[no-untyped-def]
    fetching = threading.Event()
    pages = read_ahead(_pages([], {}, 3, fetching=fetching), snapshot=dict)
    next(pages)
    # we have not asked for page 1, yet it is on its way
    assert fetching.wait(5), "page 1 was not fetched while page 0 was being worked on"
    assert [p for p, _ in pages] == [["order 1"], ["order 2"]]


def test_without_read_ahead_nothing_is_fetched_early():  # type: ignore[no-untyped-def]
    fetching = threading.Event()
    pages = read_ahead(_pages([], {}, 3, fetching=fetching), snapshot=dict, enabled=False)
    next(pages)
    assert not fetching.wait(0.2)


def test_an_error_comes_after_the_pages_before_it():  # type: ignore[no-untyped-def]
    log: list[str] = []
    got = []
    with pytest.raises(ConnectionError, match="page 2: connection reset"):
        for page, _ in read_ahead(_pages(log, {}, 5, fail_at=2), snapshot=dict):
            got.append(page)
    assert got == [["order 0"], ["order 1"]]
    assert log == ["fetched 0", "fetched 1", "closed"]


def test_stopping_early_closes_the_generator_one_page_ahead_at_most():  # type: ignore[no-untyped-def]
    log: list[str] = []
    pages = read_ahead(_pages(log, {}, 50), snapshot=dict)
    for page, _ in pages:
        assert page == ["order 0"]
        break
    pages.close()
    for thread in threading.enumerate():
        if thread.name == "read-ahead":
            thread.join(5)
    assert log[-1] == "closed"
    assert len([line for line in log if line.startswith("fetched")]) <= 3
