"""Brandsdistribution placements running at once on one account (the "locked 0" race).

Four threads place orders on one account against a fake provider that keeps one reservation
per account, locks at most what is available, and lets a create take from the reservation
first, then from free stock (as the docs say) — with delays, so calls interleave. Before the
placement turn an order placed in full could be shown short ("locked 0": another order's
create emptied the reservation between this order's read and its lock).

Invariants checked: an order the fake served in full is never shown short and is confirmed in
full; an order reported short was never sent; what a placed order is confirmed is exactly what
the fake gave it; nothing is left reserved by us at the end; per order, lock + create only
+ status by key (one reservation read for the whole run). Runs on SQLite and PostgreSQL (where the placement
turn is also a PostgreSQL advisory lock, tested across connections below).
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import responses
from django.db import connection, connections

from merchants.provider_requests import account_config
from orders.provider_requests import order_request
from providers.brandsdistribution import reservations
from providers.brandsdistribution.service import BrandsdistributionService
from providers.errors import ProviderShortfall, ProviderUnavailable
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

from .helpers import API_KEY, BASE, CREATE, LOCKED, PASSWORD, RESERVE

pytestmark = pytest.mark.django_db


class FakeBrandsdistribution:
    """One account's reservation and stock, thread-safe, answering like the docs."""

    def __init__(self, stock: dict[str, int], delay: float = 0.004) -> None:
        self.available = dict(stock)
        self.locked: dict[str, int] = {}
        self.taken: dict[str, dict[str, int]] = {}  # order key -> what the create gave it
        self.ids: dict[str, int] = {}  # order key -> the provider's order id
        self.calls: list[str] = []
        self.delay = delay
        self._lock = threading.Lock()
        self._next_id = 5000

    def _models(self) -> list[dict[str, int]]:
        return [{"stock_id": int(s), "locked": q, "available": self.available.get(s, 0)}
                for s, q in sorted(self.locked.items()) if q > 0]

    def reservation(self, request):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        with self._lock:
            self.calls.append("reservation")
            return 200, {}, json.dumps({"models": self._models(), "order_id": 0})

    def reserve(self, request):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        with self._lock:
            for op in json.loads(request.body)["operations"]:
                self.calls.append(op["type"])
                for model in op["models"]:
                    sid, qty = str(model["stock_id"]), int(model["quantity"])
                    if op["type"] == "lock":
                        moved = min(qty, self.available.get(sid, 0))
                        self.available[sid] = self.available.get(sid, 0) - moved
                        self.locked[sid] = self.locked.get(sid, 0) + moved
                    else:
                        moved = min(qty, self.locked.get(sid, 0))
                        self.locked[sid] -= moved
                        self.available[sid] = self.available.get(sid, 0) + moved
            reply = {"models": self._models(), "order_id": 0}
        time.sleep(self.delay)
        return 200, {}, json.dumps(reply)

    def create(self, request):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        doc = json.loads(request.body)["order_list"][0]
        with self._lock:
            self.calls.append("create")
            got: dict[str, int] = {}
            for item in doc["item_list"]:
                sid, qty = str(item["stock_id"]), int(item["quantity"])
                from_lock = min(qty, self.locked.get(sid, 0))
                self.locked[sid] = self.locked.get(sid, 0) - from_lock
                from_stock = min(qty - from_lock, self.available.get(sid, 0))
                self.available[sid] = self.available.get(sid, 0) - from_stock
                got[sid] = got.get(sid, 0) + from_lock + from_stock
            self.taken[doc["key"]] = got
            self._next_id += 1
            self.ids[doc["key"]] = self._next_id
            reply = {"models": self._models(), "order_id": 0}  # as the doc's JSON sample
        time.sleep(self.delay)
        return 200, {}, json.dumps(reply)

    def status_by_key(self, request):  # type: ignore[no-untyped-def]
        key = request.url.rsplit("/", 1)[-1]
        with self._lock:
            self.calls.append("status")
            found = [{"order_id": self.ids[key], "ext_ref": key, "status": 5}] if (
                key in self.ids) else []
        return 200, {}, json.dumps({"orders": found})

    def install(self, mocked: responses.RequestsMock) -> None:
        mocked.add_callback(responses.GET, re.compile(re.escape(BASE) + r"/restful/ghost/"
                                                      r"clientorders/clientkey/.+"),
                            callback=self.status_by_key)
        mocked.add_callback(responses.GET, LOCKED, callback=self.reservation)
        mocked.add_callback(responses.POST, RESERVE, callback=self.reserve)
        mocked.add_callback(responses.POST, CREATE, callback=self.create)


def _orders(n: int, items: tuple[tuple[str, int], ...]):  # type: ignore[no-untyped-def]
    account = AccountFactory(provider="brandsdistribution", base_url=BASE,
                             credentials={"api_key": API_KEY, "password": PASSWORD},
                             options={"wire_format": "json"})  # reserve_first: the default
    merchant = MerchantFactory(account=account)
    orders = []
    for k in range(n):
        order = OrderFactory(merchant=merchant, reference=f"RACE-{k:03d}", country="IT",
                             address_line1="Via Roma 1", phone_number="0112838474")
        for sku, qty in items:
            OrderItemFactory(order=order, sku=sku, quantity=qty)
        orders.append(order)
    # the requests built once here: the threads make no database query for them
    return account_config(account), [order_request(order) for order in orders]


def _place_all(account, orders, threads: int = 4):  # type: ignore[no-untyped-def]
    def place(order):  # type: ignore[no-untyped-def]
        try:
            return order, BrandsdistributionService(account).place_order(order)
        except ProviderShortfall as exc:
            return order, exc
        finally:
            connections.close_all()  # a thread's own connection (PostgreSQL advisory lock)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(place, orders))


def _check(fake, results, wanted):  # type: ignore[no-untyped-def]
    placed = shorts = 0
    for order, outcome in results:
        if isinstance(outcome, ProviderShortfall):
            shorts += 1
            assert order.reference not in fake.taken, "a short order was sent"
            continue
        placed += 1
        got = fake.taken[order.reference]
        assert got == wanted, f"{order.reference}: the provider gave {got}"
        confirmed = outcome.confirmed_quantities
        assert confirmed == {i.pk: i.quantity for i in order.items}, (
            f"{order.reference} placed in full but shown {confirmed} ({outcome.message})")
    assert all(q == 0 for q in fake.locked.values()), f"left reserved: {fake.locked}"
    return placed, shorts


def test_four_threads_placing_on_one_account_never_show_a_full_order_short(mocked):
    fake = FakeBrandsdistribution({"1578": 10_000, "1567": 10_000})
    fake.install(mocked)
    account, orders = _orders(24, (("1578", 2), ("1567", 1)))
    results = _place_all(account, orders)
    placed, shorts = _check(fake, results, {"1578": 2, "1567": 1})
    assert (placed, shorts) == (24, 0)
    # steady state: lock + create + status by key per order, the reservation read once
    assert fake.calls.count("reservation") == 1
    assert fake.calls.count("lock") == fake.calls.count("create") == 24
    assert fake.calls.count("status") == 24
    assert "unlock" not in fake.calls
    assert sorted(r.external_ids[0] for _o, r in results) == sorted(
        str(i) for i in fake.ids.values())  # each order's own id, from the status by key


def test_scarce_stock_at_once_short_orders_are_stopped_before_sending_and_released(mocked):
    fake = FakeBrandsdistribution({"1578": 9})  # room for 4 orders of 2, then 1 left
    fake.install(mocked)
    account, orders = _orders(8, (("1578", 2),))
    results = _place_all(account, orders)
    placed, shorts = _check(fake, results, {"1578": 2})
    assert (placed, shorts) == (4, 4)
    assert fake.available["1578"] == 1  # every partial lock was given back


def test_the_placement_turn_excludes_another_connection_on_postgresql(monkeypatch):
    """Processes exclude each other by a PostgreSQL advisory lock on the account: a second
    connection waiting past its limit gets "try again", nothing sent."""
    if connection.vendor != "postgresql":
        pytest.skip("the cross-process turn is a PostgreSQL advisory lock")
    monkeypatch.setattr(reservations, "TURN_WAIT_SECONDS", 0.3)
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with reservations._advisory(4242):
                holding.set()
                done.wait(5)
        finally:
            connections.close_all()

    def contend() -> object:
        try:
            with reservations._advisory(4242):
                return "entered"
        except ProviderUnavailable as exc:
            return exc
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    with ThreadPoolExecutor(1) as pool:
        outcome = pool.submit(contend).result()
    done.set()
    holder.join(5)
    assert isinstance(outcome, ProviderUnavailable) and outcome.retry_after == 30
    with ThreadPoolExecutor(1) as pool:  # released: the next one gets its turn
        assert pool.submit(contend).result() == "entered"


@pytest.mark.postgres
def test_four_workers_placing_through_order_place_on_postgresql(mocked, transactional_db):
    """The worker's path (claim, call, outcome in their own transactions) from four threads,
    each with its own PostgreSQL connection: every order placed, none shown short."""
    if connection.vendor != "postgresql":
        pytest.skip("threads with their own connections: PostgreSQL (SQLite serialises writes)")
    from orders import services
    from orders.models import Order

    fake = FakeBrandsdistribution({"1578": 10_000, "1567": 10_000})
    fake.install(mocked)
    _account, orders = _orders(16, (("1578", 2), ("1567", 1)))

    def place(pk: int) -> str:
        try:
            return services.order_place(order=Order.objects.get(pk=pk)).state
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        states = list(pool.map(place, [o.pk for o in orders]))
    assert states == ["placed"] * 16
    for order in Order.objects.filter(pk__in=[o.pk for o in orders]):
        assert [(i.quantity, i.confirmed_quantity) for i in order.items.order_by("pk")] == [
            (2, 2), (1, 1)], order.reference
        assert not order.has_open_shortfall
    assert all(q == 0 for q in fake.locked.values())
    assert fake.calls.count("reservation") == 1 and "unlock" not in fake.calls
