"""The pipeline end to end through the provider sandboxes with a real worker: a Tipser sale
of three items, mapped to two suppliers (Brandsdistribution and Aliseeks), becomes two supplier
orders that are placed, shipped at the suppliers, and Tipser receives the shipping information
for exactly those items — once, even after re-syncs and a worker killed in the middle.

Needs PostgreSQL and Redis (the worker shares the test database); the sandboxes are served by
pytest-django's live server."""

from __future__ import annotations

import io
import random

import pytest
import requests
from django.core.management import call_command

from merchants.models import ProviderAccount
from orders.models import Order
from pipeline.models import RoutingPolicy, SalesRouting, TrackingPush
from pipeline.selectors import supplier_orders_of
from providers.tipser.models import SandboxMerchant, SandboxShipping
from providers.tipser.sandbox import CATALOG, orders_generate
from tests.reliability.test_worker_integration import _wait_for, live_pg, running_worker  # noqa: F401

pytestmark = [pytest.mark.worker, pytest.mark.postgres]
# POMEGRANATE and the linen shirt (→ Brandsdistribution "Moda Torino (JSON)"), the wool scarf
# (→ Aliseeks "Aliseeks demo shop"): pipeline/demo.py's offers
SOLD = [CATALOG[0], CATALOG[1], CATALOG[3]]


@pytest.fixture
def sandboxes(live_pg, live_server, settings):  # noqa: F811
    settings.PUBLIC_BASE_URL = live_server.url
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_pipeline_demo", stdout=io.StringIO())
    tipser = ProviderAccount.objects.get(provider="tipser", name="Tipser demo")
    RoutingPolicy.objects.filter(account=tipser).update(place_mode="auto")
    return live_server.url, tipser


@pytest.fixture
def worker(sandboxes, tmp_path):
    with running_worker(tmp_path, prefix="dd-pipeline") as proc:
        yield proc


def _new_sale(tipser: ProviderAccount) -> str:
    """A customer buys three items at the Tipser sandbox."""
    merchant = SandboxMerchant.objects.get(api_key=tipser.credentials["api_key"])
    [order] = orders_generate(merchant=merchant, count=1, items=3, rng=random.Random(7))
    for line, (name, sku, price) in zip(order.data["items"], SOLD, strict=True):
        line.update(productName=name, sku=sku, quantity=1, amount=1,
                    totalPriceIncVat={"value": float(price), "currency": "EUR", "formatted": f"{price} €"})
    order.save()
    return order.order_id


def _sale(external_id: str) -> Order | None:
    return Order.objects.filter(external_id=external_id).first()


def test_a_sale_is_bought_from_two_suppliers_and_tracked_back_once(worker, sandboxes):
    base, tipser = sandboxes
    sale_id = _new_sale(tipser)
    worker.send("orders.tasks.account_sync_task", tipser.pk)
    _wait_for(lambda: _sale(sale_id) is not None, what="the Tipser sync", timeout=60)
    sale = _sale(sale_id)
    try:
        _wait_for(lambda: len(supplier_orders_of(sale)) == 2
                  and all(o.state in ("placed", "in_progress") for o in supplier_orders_of(sale)),
                  what="two supplier orders placed", timeout=90)
    finally:
        _debug(sale)
    bd_order, ali_order = sorted(supplier_orders_of(sale), key=lambda o: o.merchant.account.provider != "brandsdistribution")
    assert bd_order.merchant.name == "Moda Torino (JSON)" and bd_order.items.count() == 2
    assert ali_order.merchant.name == "Aliseeks demo shop" and ali_order.items.count() == 1

    # the suppliers ship
    bd_account = bd_order.merchant.account
    requests.post(f"{base}/sandbox/brandsdistribution/control/advance/{bd_order.reference}?to=dispatched",
                  auth=(bd_account.credentials["api_key"], bd_account.credentials["password"]),
                  timeout=10).raise_for_status()
    for _ in range(3):
        requests.post(f"{base}/sandbox/aliseeks/control/orders/{ali_order.external_id}/advance/",
                      timeout=10, allow_redirects=False)

    # the supplier syncs run; the worker is killed in the middle and a new one takes over
    worker.send("orders.tasks.order_sync_task", bd_order.pk)
    worker.send("orders.tasks.order_sync_task", ali_order.pk)
    worker.kill()
    worker.start()
    for _ in range(2):  # re-syncs: nothing is pushed twice
        worker.send("orders.tasks.order_sync_task", bd_order.pk)
        worker.send("orders.tasks.order_sync_task", ali_order.pk)
        worker.send("orders.tasks.account_sync_task", tipser.pk)
        worker.send("pipeline.tasks.pipeline_sweep_task")
    try:
        _wait_for(lambda: TrackingPush.objects.filter(sales_order=sale, state="pushed").count() == 2,
                  what="both trackings sent to Tipser", timeout=120)
    finally:
        _debug(sale)
    worker.send("pipeline.tasks.pipeline_sweep_task")
    _wait_for(lambda: "pipeline_sweep_task" in worker.log.read_text().split(" ready.")[-1],
              what="a last sweep", timeout=30)

    shippings = list(SandboxShipping.objects.filter(order__order_id=sale_id).order_by("id"))
    assert len(shippings) == 2, [s.body for s in shippings]
    items = {i.sku: i.external_id for i in sale.items.all()}
    pushed = sorted(sorted(s.body["orderItemsIds"]) for s in shippings)
    assert pushed == sorted([sorted([items[SOLD[0][1]], items[SOLD[1][1]]]), [items[SOLD[2][1]]]])
    sale.refresh_from_db()
    assert sale.state == "shipped" and set(sale.items.values_list("state", flat=True)) == {"shipped"}
    assert SalesRouting.objects.get(order=sale).status == "tracking"


def _debug(sale):  # pragma: no cover - printed when the test fails
    for o in Order.objects.exclude(pk=sale.pk).filter(items__fulfils__isnull=False).distinct():
        print("SUPPLIER", o.reference, o.merchant.account.provider, o.state, o.failure_reason[:300])
    print("ROUTING", SalesRouting.objects.filter(order=sale).values_list("status", "reason").first())
    for push in TrackingPush.objects.all():
        print("PUSH", push.state, push.error[:300])
    for o in supplier_orders_of(sale):
        print("SHIPMENTS", o.reference, list(o.shipments.values_list("tracking_number", "state")),
              list(o.events.order_by("-id").values_list("message", flat=True)[:4]))
