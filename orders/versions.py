"""No lost work under concurrency (issue 21, finding 9).

Every edit of an order carries the version it was based on: the admin's change form sends it
back in a hidden ``_base_version`` field, the API takes it as ``If-Match`` (the detail's
``ETag``). A write whose base changed meanwhile — the worker placed the order, another
operator or an integration edited it or its items — is refused with a plain message saying
what changed, by whom and when; the caller shows the operator's input back.

A version is ``<state>.<order updated_at, µs>.<digest of the items>``: the state in clear (the
message names what it was), the order's last save, and its items' count and last change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.db.models import Count, Max
from django.utils import timezone
from django.utils.formats import date_format

from .errors import OrderActionRefused
from .models import Order, OrderEvent, OrderItem

STATE_VERBS = {
    "placing": "sent to the provider",
    "placed": "placed",
    "failed": "marked failed",
    "placement_unknown": "sent to the provider (outcome unknown)",
    "cancelled": "cancelled",
    "expired": "expired",
    "draft": "put back to draft",
}


class OrderVersionConflict(OrderActionRefused):
    """The order changed since the version the write was based on."""

    def __init__(self, message: str, *, current: str) -> None:
        super().__init__(message, code="version_conflict")
        self.current = current


def _micros(value: dt.datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def order_version(order: Order) -> str:
    items = OrderItem.objects.filter(order_id=order.pk).aggregate(n=Count("pk"),
                                                                 last=Max("updated_at"))
    last = items["last"]
    digest = hashlib.sha256(f"{items['n']}|{_micros(last) if last else 0}".encode()).hexdigest()
    return f"{order.state}.{_micros(order.updated_at)}.{digest[:12]}"


def _who(event: OrderEvent | None) -> str:
    if event is None or event.actor is None:
        return "the worker" if event is not None else "someone else"
    return getattr(event.actor, "username", "") or "another user"


def order_version_conflict(*, order: Order, base: str) -> str:
    """'' when ``base`` is the order's current version, else what changed, for people."""
    if not base or base == order_version(order):
        return ""
    parts = base.split(".")
    base_state = parts[0]
    try:
        since = dt.datetime.fromtimestamp(int(parts[1]) / 1_000_000, tz=dt.UTC)
    except (IndexError, ValueError):
        since = None
    events = OrderEvent.objects.filter(order_id=order.pk).select_related("actor")
    if since is not None:
        events = events.filter(created_at__gt=since)
    tail = "while you were editing; your changes were not saved — review them below."
    if base_state != order.state:
        event = (events.filter(kind=OrderEvent.Kind.TRANSITION, to_state=order.state)
                 .order_by("-created_at", "-id").first())
        verb = STATE_VERBS.get(order.state, f"moved to “{order.get_state_display()}”")
        when = f" at {_hhmm(event.created_at)}" if event is not None else ""
        return f"This order was {verb} by {_who(event)}{when} {tail}"
    event = events.exclude(kind=OrderEvent.Kind.PROVIDER_CALL).order_by("-created_at",
                                                                      "-id").first()
    if event is None:
        return f"This order was changed by someone else {tail}"
    what = f" ({event.message[:120]})" if event.message else ""
    return f"This order was changed by {_who(event)} at {_hhmm(event.created_at)}{what} {tail}"


def _hhmm(value: dt.datetime) -> str:
    return date_format(timezone.localtime(value), "H:i")


# --- any other row with a state and ``updated_at`` (an item, a shipment) -------------------
def object_version(obj: Any) -> str:
    if isinstance(obj, Order):
        return order_version(obj)
    return f"{getattr(obj, 'state', '')}.{_micros(obj.updated_at)}"


def object_version_conflict(*, obj: Any, base: str) -> str:
    """As ``order_version_conflict``, for an order or a row that belongs to one."""
    if isinstance(obj, Order):
        return order_version_conflict(order=obj, base=base)
    if not base or base == object_version(obj):
        return ""
    what = str(obj._meta.verbose_name)
    tail = "while you were editing; your changes were not saved — review them below."
    try:
        since = dt.datetime.fromtimestamp(int(base.split(".")[1]) / 1_000_000, tz=dt.UTC)
    except (IndexError, ValueError):
        since = obj.updated_at
    event = (OrderEvent.objects.filter(order_id=obj.order_id, created_at__gt=since)
             .exclude(kind=OrderEvent.Kind.PROVIDER_CALL).select_related("actor")
             .order_by("-created_at", "-id").first())
    state = f" (now {obj.get_state_display()})" if hasattr(obj, "get_state_display") else ""
    if event is None:
        return f"This {what} was changed{state} {tail}"
    return (f"This {what} was changed{state} by {_who(event)} at {_hhmm(event.created_at)} "
            f"({event.message[:120]}) {tail}")


def order_version_check(*, order: Order, base: str | None) -> None:
    """Raise ``OrderVersionConflict`` unless ``base`` (when given) is the current version.
    Call it with the order read under its row lock."""
    if base is None or base.strip() == "*":
        return
    message = order_version_conflict(order=order, base=base.strip().strip('"') or "-")
    if message:
        raise OrderVersionConflict(message, current=order_version(order))
