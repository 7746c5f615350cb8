"""Bulk "mark shipped": each order offered its provider's carriers, as the single-order form
(``orders.forms.OrderShipForm``) does: read by the worker, never in the request."""

from __future__ import annotations

from typing import Any

from django_fsm import can_proceed

from .. import dispatch
from ..forms import carrier_note
from ..models import Order


def bulk_ship_rows(orders: list[Order]) -> list[dict[str, Any]]:
    """One row per order: may it ship now, and its carriers (None: free text). A list not
    read yet is queued for the worker and the row says so (``carriers_note``): the operator
    types the carrier or reloads."""
    rows = []
    for order in orders:
        allowed = can_proceed(order.ship)
        carriers = None
        note = ""
        if allowed:
            result = dispatch.order_carrier_choices_read(order=order)
            if result.ready:
                carriers = result.data
            else:
                note = carrier_note(result)
        rows.append({"order": order, "allowed": allowed, "carriers": carriers or None,
                     "carriers_note": note})
    return rows
