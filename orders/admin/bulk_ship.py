"""Bulk "mark shipped": each order offered its provider's carriers, as the single-order form
(``orders.forms.OrderShipForm``) does."""

from __future__ import annotations

from typing import Any

from django_fsm import can_proceed

from merchants.provider_requests import provider_service
from orders.provider_requests import order_request
from providers.errors import ProviderError

from ..models import Order


def bulk_ship_rows(orders: list[Order]) -> list[dict[str, Any]]:
    """One row per order: may it ship now, and its carriers (None: free text). One service
    per account; the provider's list is read by its own cache (e.g. Tipser's markets)."""
    services: dict[int, Any] = {}
    rows = []
    for order in orders:
        allowed = can_proceed(order.ship)
        carriers = None
        if allowed:
            account = order.merchant.account
            service = services.setdefault(account.pk, provider_service(account))
            try:
                carriers = service.carrier_choices(order_request(order))
            except ProviderError:
                carriers = None
        rows.append({"order": order, "allowed": allowed, "carriers": carriers or None})
    return rows
