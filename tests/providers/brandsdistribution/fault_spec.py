"""What the reliability helper needs to inject faults into a Brandsdistribution placement.

``make_order()`` builds a draft ready to place (authorized merchant, JSON account with
``reserve_first`` off, so the create call is the only write a placement makes);
``mock_success(rsps, order)`` registers every other response a successful placement needs
(the status by key read after the create; the reservation calls when ``reserve_first`` is on);
``create`` is the non-idempotent create call; ``create_success_json`` its success reply.
"""

from __future__ import annotations

from typing import Any

import responses

from orders.models import Order
from providers.brandsdistribution import client as bd_client
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory

from .helpers import BASE, CREATE, make_account, status_url

STOCK_ID = "148148"
QUANTITY = 2
REFERENCE = "BD-FAULT-1"
FOUND = {"orders": [{"order_id": 4711, "ext_ref": REFERENCE, "status": 5}]}


def make_order() -> Order:
    merchant = MerchantFactory(account=make_account(wire_format="json", reserve_first=False))
    order = OrderFactory(merchant=merchant, address_line1="Via Roma 1", country="IT",
                         reference=REFERENCE,
                         provider_options={"autoConfirm": True})
    OrderItemFactory(order=order, sku=STOCK_ID, quantity=QUANTITY)
    return order


def mock_success(rsps: responses.RequestsMock, order: Order) -> None:
    rsps.add(responses.GET, status_url(order.reference), json=FOUND)
    options = order.merchant.account.options or {}
    if not options.get("reserve_first", True):
        return
    locked = f"{BASE}{bd_client.RESERVATION_PATH}"
    rsps.add(responses.GET, locked, json={"models": [], "order_id": 0})  # the batch's baseline
    # the lock's reply lists the reservation (Rewix "Reserve")
    rsps.add(responses.POST, f"{BASE}{bd_client.RESERVE_PATH}", json={
        "models": [{"stock_id": int(STOCK_ID), "locked": QUANTITY, "available": 5}],
        "order_id": 0,
    })


FAULT_SPEC: dict[str, Any] = {
    "make_order": make_order,
    "mock_success": mock_success,
    "create": ("POST", CREATE),
    # the models remaining in the reservation (none: the order took them all)
    "create_success_json": {"models": [], "order_id": 4711},
    # the status by key tells the truth about what the provider accepted
    "lookup": ("GET", status_url(REFERENCE), FOUND, {"orders": []}),
}
