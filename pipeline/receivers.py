"""What starts pipeline work: new sales orders from a sync, supplier shipments (tracking to
send back) and supplier orders changing state. Receivers only enqueue, after commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django_fsm.signals import post_transition

from orders.lifecycle import Lifecycle as S
from orders.models import Order, Shipment
from orders.signals import rows_created, rows_updated

from . import dispatch, selectors
from .models import RoutingPolicy, SupplierLink

SUPPLIER_STATES = {S.CANCELLED, S.FAILED, S.PLACEMENT_UNKNOWN, S.PLACED, S.IN_PROGRESS}


def _supplier_orders(order_ids: set[int]) -> list[int]:
    return list(SupplierLink.objects.filter(supplier_item__order_id__in=order_ids, active=True)
                .values_list("supplier_item__order_id", flat=True).distinct())


def on_orders_created(sender: Any, instances: list[Any], **kwargs: Any) -> None:
    if sender is not Order or not instances:
        return
    merchants = {o.merchant_id for o in instances}
    routed = set(RoutingPolicy.objects.filter(enabled=True, account__merchants__in=merchants)
                 .values_list("account__merchants", flat=True))
    ids = [o.pk for o in instances if o.merchant_id in routed]
    if ids:
        transaction.on_commit(lambda: dispatch.route_enqueue(ids))


def _shipments_changed(shipments: list[Shipment]) -> None:
    if not shipments or not selectors.pipeline_in_use():
        return
    ids = _supplier_orders({s.order_id for s in shipments if s.pk})
    if ids:
        transaction.on_commit(lambda: dispatch.tracking_enqueue(ids))


def on_rows(sender: Any, instances: list[Any], **kwargs: Any) -> None:
    if sender is Shipment:
        _shipments_changed(instances)


def on_shipment_saved(sender: Any, instance: Shipment, created: bool, raw: bool = False, **kw: Any) -> None:
    if not raw:
        _shipments_changed([instance])


def on_transition(sender: Any, instance: Any, name: str, source: str, target: str, **kw: Any) -> None:
    if instance.pk is None or not selectors.pipeline_in_use():
        return
    if isinstance(instance, Shipment):
        _shipments_changed([instance])
    elif isinstance(instance, Order) and target in SUPPLIER_STATES and source != target:
        ids = _supplier_orders({instance.pk})
        if ids:
            transaction.on_commit(lambda: dispatch.supplier_changed_enqueue(ids))


def connect() -> None:
    rows_created.connect(on_orders_created, dispatch_uid="pipeline-orders-created")
    rows_created.connect(on_rows, dispatch_uid="pipeline-rows-created")
    rows_updated.connect(on_rows, dispatch_uid="pipeline-rows-updated")
    post_save.connect(on_shipment_saved, sender=Shipment, dispatch_uid="pipeline-shipment-saved")
    for model in (Order, Shipment):
        post_transition.connect(on_transition, sender=model, dispatch_uid=f"pipeline-{model.__name__}")
