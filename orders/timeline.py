"""Writing the order timeline (OrderEvent rows). Used by services only."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from providers.types import CallRecord

from .models import Order, OrderEvent

Actor = AbstractBaseUser | AnonymousUser | None


def actor_or_none(actor: Actor) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def event_add(
    *, order: Order, kind: str, message: str = "", actor: Actor = None, **fields: Any
) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order, kind=kind, message=message[:4000], actor=actor_or_none(actor), **fields
    )


def call_event(order: Order, record: CallRecord) -> OrderEvent:
    return OrderEvent(
        order=order,
        kind=OrderEvent.Kind.PROVIDER_CALL,
        message=(f"{record.method} {record.url}" + (f" — {record.message}" if record.message else ""))[:4000],
        operation=record.operation,
        http_status=record.http_status,
        duration_ms=record.duration_ms,
        outcome=record.outcome,
    )


class CallRecorder:
    """Recorder handed to a provider service: each call lands on the order's timeline at once
    (outside any transaction), so even a call whose outcome we never learn is on record."""

    def __init__(self, order: Order | None) -> None:
        self.order = order
        self.records: list[CallRecord] = []

    def __call__(self, record: CallRecord) -> None:
        self.records.append(record)
        if self.order is not None:
            call_event(self.order, record).save()
