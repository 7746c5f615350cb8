"""Enqueue pipeline work (receivers, admin and API call this after commit)."""

from __future__ import annotations

from collections.abc import Iterable

from orders import services as order_services
from orders.errors import OrderActionRefused
from orders.models import Order
from orders.timeline import Actor


def route_enqueue(order_ids: Iterable[int]) -> None:
    from .tasks import sales_order_route_task

    for pk in order_ids:
        sales_order_route_task.delay(pk)


def tracking_enqueue(supplier_order_ids: Iterable[int]) -> None:
    from .tasks import supplier_tracking_task

    for pk in supplier_order_ids:
        supplier_tracking_task.delay(pk)


def supplier_changed_enqueue(supplier_order_ids: Iterable[int]) -> None:
    from .tasks import supplier_order_settled_task

    for pk in supplier_order_ids:
        supplier_order_settled_task.delay(pk)


def place_enqueue(supplier_order_ids: Iterable[int], *, actor: Actor = None) -> None:
    """Queue each supplier order's placement; one that cannot be placed (a check before any
    provider call refused it) flags its sale with the reason, and the others still go."""
    from .services import supplier_order_refused

    for order in Order.objects.filter(pk__in=list(supplier_order_ids)).order_by("pk"):
        try:
            order_services.order_place_enqueue(order=order, actor=actor)
        except OrderActionRefused as exc:
            supplier_order_refused(supplier_order=order, reason=str(exc))
