"""Pieces every order verb uses: the row lock, the transition runner, the permission check, totals."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.db.models import F, Sum
from django_fsm import TransitionNotAllowed

from orders.lifecycle import Lifecycle

from .. import bulkruns, labels
from ..errors import OrderActionRefused
from ..models import (
    TRANSITION_PERMISSION,
    Order,
    OrderEvent,
    OrderItem,
    Shipment,
)
from ..timeline import Actor, event_add

logger = logging.getLogger(__name__)
S = Lifecycle


# --- helpers ---------------------------------------------------------------------------------
def lock_order(order: Order, *, items: bool = False) -> Order:
    """Re-read the order under a row lock (inside an atomic block); with its items if asked."""
    queryset = Order.objects.select_for_update(of=("self",)).select_related("merchant__account")
    if items:
        queryset = queryset.prefetch_related("items")
    return queryset.get(pk=order.pk)


def transition_apply(
    order: Order | OrderItem | Shipment,
    name: str,
    *,
    actor: Actor = None,
    message: str = "",
    check_perm: bool = False,
    **kwargs: Any,
) -> None:
    """Run a model transition, save, and append the timeline event (caller's transaction)."""
    method = getattr(order, name)
    if check_perm:
        require_permission(actor)
    before = order.state
    try:
        method(**kwargs)
    except TransitionNotAllowed as exc:
        raise OrderActionRefused(
            labels.not_possible(name, before),
            allowed=order_transitions_available(order=order) if isinstance(order, Order) else [],
            code="not_allowed",
        ) from exc
    order.save()
    if isinstance(order, Order) and order.state != before:  # bulk items follow their order
        bulkruns.bulk_items_follow(order=order, before=before)
    target: Order = order if isinstance(order, Order) else order.order  # type: ignore[union-attr]
    kind = (
        OrderEvent.Kind.TRANSITION if isinstance(order, Order)
        else OrderEvent.Kind.ITEM if isinstance(order, OrderItem)
        else OrderEvent.Kind.SHIPMENT
    )
    label = "" if isinstance(order, Order) else f"{str(order._meta.verbose_name).capitalize()} {order}: "
    event_add(
        order=target,
        kind=kind,
        message=message or f"{label}{labels.moved(before, order.state, name)}",
        from_state=before,
        to_state=order.state,
        actor=actor,
    )


def require_permission(actor: Actor) -> None:
    """People need the transition permission; system actors (tasks: None) do not."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return
    if not actor.has_perm(TRANSITION_PERMISSION):  # type: ignore[union-attr]
        raise OrderActionRefused(
            "You do not have permission to change orders (read-only access).", code="forbidden"
        )


def totals_recalculate(order: Order) -> None:
    total = order.items.aggregate(
        t=Sum(F("unit_price") * F("quantity"))
    )["t"] or Decimal("0")
    order.items_total = Decimal(total).quantize(Decimal("0.01"))
    order.total = order.items_total + (order.shipping_total or Decimal("0"))
    order.save(update_fields=["items_total", "total", "updated_at"])


def require_draft(order: Order, what: str) -> None:
    if order.state != S.DRAFT:
        raise OrderActionRefused(
            f"{what} is only possible while the order is a draft (it is {order.get_state_display()}).",
            code="not_allowed",
        )



def order_transitions_available(*, order: Order, user: Any = None) -> list[str]:
    transitions = (
        order.get_available_user_state_transitions(user)  # type: ignore[attr-defined]
        if user is not None else order.get_available_state_transitions()  # type: ignore[attr-defined]
    )
    return [t.name for t in transitions if t.custom.get("admin", True)]

