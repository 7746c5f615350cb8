"""Enqueue pipeline work (receivers, admin and API call this after commit)."""

from __future__ import annotations

from collections.abc import Iterable

from orders.timeline import Actor

from . import tasks


def route_enqueue(order_ids: Iterable[int]) -> None:
    for pk in order_ids:
        tasks.sales_order_route_task.delay(pk)


def tracking_enqueue(supplier_order_ids: Iterable[int]) -> None:
    for pk in supplier_order_ids:
        tasks.supplier_tracking_task.delay(pk)


def supplier_changed_enqueue(supplier_order_ids: Iterable[int]) -> None:
    for pk in supplier_order_ids:
        tasks.supplier_order_settled_task.delay(pk)


def place_enqueue(supplier_order_ids: Iterable[int], *, actor: Actor = None) -> None:
    """Queue each supplier order's placement (``tasks.supplier_orders_place_queue``)."""
    tasks.supplier_orders_place_queue(supplier_order_ids, actor=actor)
