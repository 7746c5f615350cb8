from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from providers.statuses import Lifecycle

from .models import Order, OrderEvent

NEEDS_ACTION = (Lifecycle.FAILED, Lifecycle.PLACEMENT_UNKNOWN)


def order_list(*, merchant_id: int | None = None, provider: str | None = None) -> QuerySet[Order]:
    qs = Order.objects.select_related("merchant__account")
    if merchant_id:
        qs = qs.filter(merchant_id=merchant_id)
    if provider:
        qs = qs.filter(merchant__account__provider=provider)
    return qs


def order_list_needing_action(*, merchant_id: int | None = None) -> QuerySet[Order]:
    return order_list(merchant_id=merchant_id).filter(state__in=NEEDS_ACTION)


def order_detail(*, pk: int) -> Order:
    return (
        Order.objects.select_related("merchant__account")
        .prefetch_related(
            "items",
            "shipments__lines",
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor")),
        )
        .get(pk=pk)
    )
