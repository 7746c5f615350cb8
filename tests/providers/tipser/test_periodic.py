"""A periodic Tipser sync costs what can have changed, not the history (issue 20).

The provider is faked at the wire (``responses``) with the reading of the ``states`` filter
kept in ``providers.tipser.statuses``: orders dated from ``from`` on with at least one item in
one of the ``states``; pages of ``pageSize`` with ``itemsCount``.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from django.utils import timezone

from orders import services
from orders.models import Order

from .conftest import ORDERS_URL, wire_order

pytestmark = pytest.mark.django_db


class FakeTipser:
    def __init__(self, mocked: responses.RequestsMock) -> None:
        self.orders: dict[str, dict] = {}
        self.list_calls: list[dict[str, str]] = []
        self.detail_calls: list[str] = []
        mocked.add_callback(responses.GET, ORDERS_URL, callback=self.list)
        mocked.add_callback(responses.GET, re.compile(re.escape(ORDERS_URL) + r"/\w+"),
                            callback=self.detail)

    def add(self, n: int, *, days_ago: float, status: int) -> dict:
        date = timezone.now() - dt.timedelta(days=days_ago)
        order = wire_order(n, status=status, date=date.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        self.orders[order["id"]] = order
        return order

    def list(self, request):  # type: ignore[no-untyped-def]
        import json

        q = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
        self.list_calls.append(q)
        states = {int(s) for s in q["states"].split(",")}
        found = sorted(
            (o for o in self.orders.values()
             if o["orderDate"][:10] >= q["from"] and any(i["status"] in states for i in o["items"])),
            key=lambda o: o["orderDate"],
        )
        size, index = int(q["pageSize"]), int(q["pageIndex"])
        body = {"itemsCount": len(found), "pageIndex": index,
                "items": found[index * size:(index + 1) * size]}
        return 200, {}, json.dumps(body)

    def detail(self, request):  # type: ignore[no-untyped-def]
        import json

        order_id = urlparse(request.url).path.rsplit("/", 1)[1]
        self.detail_calls.append(order_id)
        if order_id not in self.orders:
            return 404, {}, json.dumps({"error": {"id": "NotFound", "message": "No such order"}})
        return 200, {}, json.dumps(self.orders[order_id])

    def calls(self) -> int:
        return len(self.list_calls) + len(self.detail_calls)


def _fake_with_history(mocked, settled: int) -> FakeTipser:  # type: ignore[no-untyped-def]
    fake = FakeTipser(mocked)
    for n in range(settled):  # shipped or cancelled, 2 to 25 days ago
        fake.add(n, days_ago=2 + 23 * n / max(1, settled), status=2 if n % 3 else 3)
    fake.add(99_999, days_ago=20, status=0)  # one old order still open
    return fake


@pytest.mark.parametrize("settled", [10, 120])
def test_a_periodic_sync_does_not_grow_with_settled_orders(mocked, account, tipser_merchant,
                                                           settled):
    account.options = {"page_size": 5}
    account.save()
    fake = _fake_with_history(mocked, settled)
    first = services.account_sync_incoming(account=account)
    assert first["created"] == settled + 1
    assert fake.calls() >= (settled + 1) / 5  # the first run walks the history once

    fake.list_calls.clear()
    periodic = services.account_sync_incoming(account=account)
    # one page of open orders since the open one's day, one page of every state since
    # yesterday — whatever the number of settled orders
    assert fake.calls() == 2, fake.list_calls
    open_query, new_query = fake.list_calls
    assert open_query["states"] == "0,1,6"
    assert open_query["from"] == (timezone.now() - dt.timedelta(days=20)).date().isoformat()
    assert new_query["states"] == "0,1,2,3,4,6"
    assert new_query["from"] == (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    assert periodic["created"] == 0


def test_an_open_order_that_was_settled_since_is_fetched_by_id(mocked, account, tipser_merchant):
    account.options = {"page_size": 5}
    account.save()
    fake = _fake_with_history(mocked, 12)
    services.account_sync_incoming(account=account)
    # shipped at Tipser since: the open query no longer returns it
    for item in fake.orders["ord99999"]["items"]:
        item.update(status=2, nextStatuses=[4])
    fake.list_calls.clear()
    services.account_sync_incoming(account=account)
    assert fake.detail_calls == ["ord99999"]
    order = Order.objects.get(merchant=tipser_merchant, external_id="ord99999")
    assert order.items.get().state == "shipped"

    # nothing is open any more: the next run asks only for what is new
    fake.list_calls.clear()
    fake.detail_calls.clear()
    services.account_sync_incoming(account=account)
    assert [q["states"] for q in fake.list_calls] == ["0,1,2,3,4,6"] and not fake.detail_calls


def test_an_open_order_gone_at_tipser_is_dropped_not_fatal(mocked, account, tipser_merchant):
    account.options = {"page_size": 5}
    account.save()
    fake = _fake_with_history(mocked, 3)
    services.account_sync_incoming(account=account)
    del fake.orders["ord99999"]
    services.account_sync_incoming(account=account)
    assert fake.detail_calls == ["ord99999"]
    account.refresh_from_db()
    assert account.state["sync"]["open_ids"] == []
