"""Pipeline tasks: load by id, call the service, queue what it says (never through
``pipeline.dispatch``, which the receivers, admin and API use and which imports this module)."""

from __future__ import annotations

import random
from collections.abc import Iterable

from celery import shared_task
from django.db import transaction

from orders import dispatch as order_dispatch
from orders.errors import OrderActionRefused
from orders.models import Order
from orders.timeline import Actor

from . import services


def supplier_orders_place_queue(supplier_order_ids: Iterable[int], *, actor: Actor = None) -> None:
    """Queue each supplier order's placement; one that cannot be placed (a check before any
    provider call refused it) flags its sale with the reason, and the others still go."""
    for order in Order.objects.filter(pk__in=list(supplier_order_ids)).order_by("pk"):
        try:
            order_dispatch.order_place_enqueue(order=order, actor=actor)
        except OrderActionRefused as exc:
            services.supplier_order_refused(supplier_order=order, reason=str(exc))


@shared_task(acks_late=True, ignore_result=True)
def sales_order_route_task(order_id: int) -> str:
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return "missing"
    result = services.sales_order_route(order=order)
    if result.to_place:
        transaction.on_commit(lambda: supplier_orders_place_queue(result.to_place))
    return result.status


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=30)
def supplier_tracking_task(self, supplier_order_id: int) -> int:  # type: ignore[no-untyped-def]
    order = Order.objects.filter(pk=supplier_order_id).first()
    if order is None:
        return 0
    pushes = services.supplier_tracking_push(supplier_order=order)
    if any(push.pk is None for push in pushes):  # the sale was busy with another write: again soon
        raise self.retry(countdown=random.uniform(2, 8))
    return len(pushes)


@shared_task(acks_late=True, ignore_result=True)
def supplier_order_settled_task(supplier_order_id: int) -> str:
    order = Order.objects.filter(pk=supplier_order_id).first()
    if order is None:
        return "missing"
    result = services.supplier_order_settled(supplier_order=order)
    if result and result.to_place:
        supplier_orders_place_queue(result.to_place)
    return result.status if result else "no change"


@shared_task(ignore_result=True)
def pipeline_sweep_task() -> int:
    """Every few minutes: route what a lost task left unrouted, push tracking a lost task left."""
    pending = services.pipeline_pending_orders()
    for pk in pending:
        sales_order_route_task.delay(pk)
    for pk in services.supplier_orders_with_unpushed_tracking():
        supplier_tracking_task.delay(pk)
    return len(pending)
