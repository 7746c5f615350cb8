"""Pipeline tasks: load by id, call the service, enqueue what it says."""

from __future__ import annotations

import random

from celery import shared_task
from django.db import transaction

from orders.models import Order

from . import dispatch, services


@shared_task(acks_late=True, ignore_result=True)
def sales_order_route_task(order_id: int) -> str:
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return "missing"
    result = services.sales_order_route(order=order)
    if result.to_place:
        transaction.on_commit(lambda: dispatch.place_enqueue(result.to_place))
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
        dispatch.place_enqueue(result.to_place)
    return result.status if result else "no change"


@shared_task(ignore_result=True)
def pipeline_sweep_task() -> int:
    """Every few minutes: route what a lost task left unrouted, push tracking a lost task left."""
    pending = services.pipeline_pending_orders()
    dispatch.route_enqueue(pending)
    dispatch.tracking_enqueue(services.supplier_orders_with_unpushed_tracking())
    return len(pending)
