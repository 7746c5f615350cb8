"""The operator's path against the sandbox, in process: our HTTP client's requests are handed
by `responses` to the sandbox views through the Django test client (no network at all)."""

from __future__ import annotations

import random
import re
from urllib.parse import urlsplit

import pytest
import responses

from orders import services
from orders.models import Order
from providers.tipser.models import SandboxMerchant, SandboxShipping
from providers.tipser.sandbox import orders_generate
from tests.factories import AccountFactory, MerchantFactory

pytestmark = pytest.mark.django_db
KEY = "roundtrip-key-456"


@pytest.fixture
def sandbox(client, mocked, settings):
    # the sandbox runs in this thread, inside the test's transaction: a read-ahead thread
    # would not see its rows (orders/readahead.py)
    settings.ACCOUNT_SYNC_READ_AHEAD = False

    def forward(request):
        url = urlsplit(request.url)
        response = client.generic(
            request.method,
            f"{url.path}?{url.query}",
            request.body or b"",
            content_type="application/json",
        )
        return response.status_code, {"Content-Type": "application/json"}, response.content

    for method in (responses.GET, responses.PUT, responses.POST):
        mocked.add_callback(
            method, re.compile(r"http://testserver/sandbox/tipser/.*"), callback=forward
        )
    return SandboxMerchant.objects.create(api_key=KEY, name="shop")


def test_operator_syncs_acknowledges_and_ships_and_the_sandbox_reflects_it(sandbox):
    account = AccountFactory(
        provider="tipser",
        credentials={"api_key": KEY},
        base_url="http://testserver/sandbox/tipser/",
        options={"page_size": 2},
    )
    merchant = MerchantFactory(account=account)
    made = orders_generate(merchant=sandbox, count=3, rng=random.Random(2), items=2)

    totals = services.account_sync_incoming(account=account)
    assert totals["created"] == 3 and totals["pages"] == 2
    order = Order.objects.get(merchant=merchant, external_id=made[0].order_id)
    assert order.state == "placed" and order.items.count() == 2

    services.order_items_set_status(
        order=order, items=list(order.items.all()), transition_name="acknowledge"
    )
    services.order_sync(order=order)
    assert {(i.state, tuple(i.next_statuses)) for i in order.items.all()} == {
        ("acknowledged", ("1", "2", "3"))
    }

    shipment = services.order_ship(order=order, carrier="DHL", tracking_number="JJD000123")
    assert shipment.pushed_at is not None
    made[0].refresh_from_db()
    assert {i["status"] for i in made[0].data["items"]} == {2}
    assert SandboxShipping.objects.get(order=made[0]).body["trackingNumber"] == "JJD000123"

    # a new order arrives; the next periodic sync brings only it as new, nothing duplicated
    orders_generate(merchant=sandbox, count=1, rng=random.Random(4))
    totals = services.account_sync_incoming(account=account)
    assert totals["created"] == 1
    assert Order.objects.filter(merchant=merchant).count() == 4
    order.refresh_from_db()
    assert order.state == "shipped"
