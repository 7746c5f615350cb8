"""Where events come from: every state-machine transition (django-fsm's ``post_transition``)
of orders, items, shipments and merchants, new orders and shipments (``post_save`` and the
bulk signals of a sync page). Each writes outbox rows in the current transaction; the
deliveries are handed to the worker when it commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django_fsm.signals import post_transition

from merchants.models import Merchant
from orders.lifecycle import Lifecycle as S
from orders.models import Order, OrderItem, Shipment
from orders.signals import rows_created, rows_updated

from . import dispatch
from .models import EventType
from .selectors import subscription_targets
from .services import PendingEvent, webhook_events_record

FAILURE_EVENTS = {S.FAILED: EventType.ORDER_PLACEMENT_FAILED,
                  S.PLACEMENT_UNKNOWN: EventType.ORDER_PLACEMENT_UNKNOWN}


def _record(events: list[PendingEvent]) -> None:
    ids = webhook_events_record(events=events)
    if ids:
        transaction.on_commit(lambda: dispatch.deliveries_enqueue(ids))


def _order_merchant(order_id: int) -> int | None:
    return Order.objects.filter(pk=order_id).values_list("merchant_id", flat=True).first()


def _transition_events(instance: Any, name: str, source: str, target: str) -> list[PendingEvent]:
    change = {"from": source, "to": target, "action": name}
    if isinstance(instance, Order):
        failed = target in FAILURE_EVENTS or target == S.CANCELLED
        change["reason"] = instance.failure_reason if failed else ""
        events = [PendingEvent(EventType.ORDER_STATE_CHANGED, instance.merchant_id, "order", instance.pk,
                               instance.pk, change)]
        if target in FAILURE_EVENTS:
            events.append(PendingEvent(FAILURE_EVENTS[target], instance.merchant_id, "order",
                                       instance.pk, instance.pk, change))
        return events
    if isinstance(instance, OrderItem):
        return [PendingEvent(EventType.ITEM_STATUS_CHANGED, _order_merchant(instance.order_id), "item",
                             instance.pk, instance.order_id, change)]
    if isinstance(instance, Shipment):
        return [PendingEvent(EventType.SHIPMENT_UPDATED, _order_merchant(instance.order_id), "shipment",
                             instance.pk, instance.order_id, change)]
    if isinstance(instance, Merchant):
        return [PendingEvent(EventType.MERCHANT_AUTHORIZATION_CHANGED, instance.pk, "merchant",
                             instance.pk, None, change)]
    return []


def on_transition(sender: Any, instance: Any, name: str, source: str, target: str, **kwargs: Any) -> None:
    if instance.pk is None or source == target or not subscription_targets():
        return  # a row built in memory (sync page) is announced when it is inserted
    _record(_transition_events(instance, name, source, target))


def _created_events(instances: list[Any]) -> list[PendingEvent]:
    events = []
    for obj in instances:
        if isinstance(obj, Order):
            events.append(PendingEvent(EventType.ORDER_CREATED, obj.merchant_id, "order", obj.pk, obj.pk,
                                       {"to": obj.state}))
        elif isinstance(obj, Shipment):
            events.append(PendingEvent(EventType.SHIPMENT_CREATED, _order_merchant(obj.order_id),
                                       "shipment", obj.pk, obj.order_id, {"to": obj.state}))
    return events


def on_save(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw and subscription_targets():
        _record(_created_events([instance]))


def on_rows_created(sender: Any, instances: list[Any], **kwargs: Any) -> None:
    if instances and subscription_targets():
        _record(_created_events(instances))


def on_rows_updated(sender: Any, instances: list[Any], **kwargs: Any) -> None:
    if sender is Shipment and instances and subscription_targets():
        _record([PendingEvent(EventType.SHIPMENT_UPDATED, _order_merchant(s.order_id), "shipment", s.pk,
                              s.order_id, {"to": s.state}) for s in instances])


def connect() -> None:
    for model in (Order, OrderItem, Shipment, Merchant):
        post_transition.connect(on_transition, sender=model, dispatch_uid=f"webhooks-{model.__name__}")
    for model in (Order, Shipment):
        post_save.connect(on_save, sender=model, dispatch_uid=f"webhooks-created-{model.__name__}")
    rows_created.connect(on_rows_created, dispatch_uid="webhooks-rows-created")
    rows_updated.connect(on_rows_updated, dispatch_uid="webhooks-rows-updated")
