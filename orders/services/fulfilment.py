"""Moves after placement: cancel, hold, release, complete, reopen, ship and item status moves."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django_fsm import can_proceed

from orders.lifecycle import ItemLifecycle, Lifecycle
from orders.provider_requests import (
    item_requests,
    order_request,
    order_service_recorded,
    shipment_request,
)
from providers import registry
from providers.errors import (
    ProviderBadReply,
    ProviderError,
    ProviderOutcomeUnknown,
)

from .. import claims, labels
from ..errors import OrderActionRefused, OrderValidationError
from ..models import (
    Order,
    OrderEvent,
    OrderItem,
    Shipment,
    ShipmentLine,
)
from ..timeline import Actor, event_add
from .common import lock_order, order_transitions_available, require_permission, transition_apply

logger = logging.getLogger(__name__)
S = Lifecycle

SHIP_PUSH_REFUSED = "Shipping push refused"


# --- moves after placement -------------------------------------------------------------------
def _provider_then_transition(
    order: Order,
    name: str,
    call: Callable[[Any], None] | None,
    *,
    actor: Actor,
    message: str = "",
    **kwargs: Any,
) -> Order:
    """Check the transition may run, make the provider call (no lock held), then transition.

    A provider refusal leaves the local state as it was and records the reason.
    """
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    method = getattr(order, name)
    require_permission(actor)
    if not can_proceed(method):
        raise OrderActionRefused(
            labels.not_possible(name, order.state),
            allowed=order_transitions_available(order=order), code="not_allowed",
        )
    if call is None:
        with transaction.atomic():
            fresh = lock_order(order)
            claims.refuse_if_busy(fresh)  # e.g. a provider draft being created right now
            transition_apply(fresh, name, actor=actor, message=message, **kwargs)
        return fresh
    service = order_service_recorded(order)
    with claims.provider_write(order=order, operation=name, label=name.replace("_", " ").title(),
                               actor=actor):
        order = Order.objects.select_related("merchant__account").get(pk=order.pk)
        if not can_proceed(getattr(order, name)):  # a request that raced this one moved it
            raise OrderActionRefused(
                f"'{name}' is not allowed now (state: {order.get_state_display()}).",
                allowed=order_transitions_available(order=order), code="not_allowed",
            )
        try:
            call(service)
        except ProviderError as exc:
            with transaction.atomic():
                fresh = lock_order(order)
                fresh.failure_reason = f"{name} refused by provider: {exc}"
                fresh.save(update_fields=["failure_reason", "updated_at"])
                event_add(order=fresh, kind=OrderEvent.Kind.ERROR, actor=actor,
                          message=fresh.failure_reason)
            raise
        with transaction.atomic():
            fresh = lock_order(order)
            transition_apply(fresh, name, actor=actor, message=message, **kwargs)
    return fresh


def order_cancel(*, order: Order, actor: Actor = None, reason: str = "") -> Order:
    local = order.state in (S.DRAFT, S.FAILED) and not order.external_id
    return _provider_then_transition(
        order, "cancel", None if local else (lambda svc: svc.cancel_order(order_request(order))),
        actor=actor, reason=reason,
        message="Cancelled" + (f": {reason}" if reason else ""),
    )


def order_hold(*, order: Order, actor: Actor = None) -> Order:
    call = _provider_verb(order, "hold_order")
    return _provider_then_transition(order, "hold", call, actor=actor)


def order_release(*, order: Order, actor: Actor = None) -> Order:
    call = _provider_verb(order, "release_order")
    return _provider_then_transition(order, "release", call, actor=actor)


def _provider_verb(order: Order, operation: str) -> Callable[[Any], None] | None:
    """The provider call for an order-level verb, when the provider has one (else local)."""
    cls = registry.get(order.merchant.account.provider)
    if cls is None or not cls.supports(operation) or not order.external_id:
        return None
    return lambda svc: getattr(svc, operation)(order_request(order))


def order_complete(*, order: Order, actor: Actor = None) -> Order:
    return _provider_then_transition(order, "complete", None, actor=actor)


def order_reopen(*, order: Order, actor: Actor = None) -> Order:
    return _provider_then_transition(order, "reopen", None, actor=actor)


def order_ship(
    *,
    order: Order,
    actor: Actor = None,
    carrier: str = "",
    tracking_number: str,
    tracking_url: str = "",
    service: str = "",
    items: Mapping[int, int] | None = None,
    notify_customer: bool = True,
    comment: str = "",
) -> Shipment:
    """Record a shipment (items and quantities; all unshipped items when none given), push it
    to the provider where it takes shipping information, and move the order on.

    The push is claimed (``orders.claims``) before the shipment row is written and the call
    made: a concurrent or repeated request for the same order is refused (409), never sent."""
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    tracking = tracking_number.strip()
    if not tracking:
        raise OrderValidationError("A tracking number is required.",
                                   fields={"tracking_number": "Required."})
    _ship_allowed(order)
    fields = {"carrier": carrier, "service": service, "tracking_number": tracking,
              "tracking_url": tracking_url, "notify_customer": notify_customer,
              "comment": comment}
    provider = order_service_recorded(order)
    if not provider.supports("push_shipment"):  # local only: one transaction under the lock
        with transaction.atomic():
            shipment, plan = _shipment_prepare(order, fields, items, actor=actor)
            _shipment_settle(order, shipment, plan, actor=actor)
        return shipment
    with claims.provider_write(order=order, operation="push_shipment",
                               label=f"Shipment {tracking}", actor=actor,
                               key=claims.intent_key(tracking, sorted((items or {}).items()))):
        with transaction.atomic():
            shipment, plan = _shipment_prepare(order, fields, items, actor=actor)
        try:
            provider.push_shipment(shipment_request(shipment))
        except ProviderError as exc:
            _shipment_push_failed(order, shipment, exc, actor=actor)
            raise
        shipment.pushed_at = timezone.now()
        with transaction.atomic():
            _shipment_settle(order, shipment, plan, actor=actor)
    return shipment


def _ship_allowed(order: Order) -> None:
    if not can_proceed(order.ship):
        raise OrderActionRefused(
            labels.not_possible("ship", order.state),
            allowed=order_transitions_available(order=order), code="not_allowed",
        )


def order_shipment_check(*, order: Order, tracking_number: str,
                         items: Mapping[int, int] | None = None) -> None:
    """What can be checked before queuing a shipment (no provider call, no lock): allowed
    now, a tracking number, no shipment with it yet, quantities within what is left."""
    if not tracking_number.strip():
        raise OrderValidationError("A tracking number is required.",
                                   fields={"tracking_number": "Required."})
    _ship_allowed(order)
    _shipment_plan(order, tracking_number.strip(), items)


def _shipment_plan(order: Order, tracking: str, items: Mapping[int, int] | None) -> tuple[
        dict[int, OrderItem], list[Shipment], dict[int, int], dict[int, int]]:
    """Refuse a shipment already recorded with this tracking number and quantities beyond what
    is left; return (all items, unpushed shipments it replaces, remaining, wanted)."""
    all_items = {i.pk: i for i in order.items.all()}
    # A shipment whose push failed with an unknown outcome stays pending with the reason; it
    # does not hold its items: shipping them again replaces it (the operator was told).
    unpushed = list(order.shipments.filter(state=Shipment.State.PENDING, pushed_at__isnull=True,
                                           raw_data__has_key="push_error"))
    same = (order.shipments.filter(tracking_number=tracking)
            .exclude(state=Shipment.State.CANCELLED).exclude(pk__in=[s.pk for s in unpushed])
            .first())
    if same is not None:
        raise OrderActionRefused(
            f"A shipment with tracking number {same.tracking_number} is already recorded on "
            f"this order ({same.get_state_display()}); it was not sent again.", code="duplicate")
    shipped_before = dict(
        ShipmentLine.objects.filter(item__order=order)
        .exclude(shipment__state=Shipment.State.CANCELLED)
        .exclude(shipment__in=unpushed)
        .values_list("item_id")
        .annotate(q=Sum("quantity"))
    )
    remaining = {pk: max(0, it.quantity - shipped_before.get(pk, 0)) for pk, it in all_items.items()}
    wanted = dict(items) if items else {pk: q for pk, q in remaining.items() if q}
    problems = {}
    for pk, qty in wanted.items():
        if pk not in all_items:
            problems[f"items.{pk}"] = "Not an item of this order."
        elif qty < 1 or qty > remaining[pk]:
            problems[f"items.{pk}"] = f"Quantity must be 1–{remaining[pk]}."
    if problems or not wanted:
        raise OrderValidationError(
            "Nothing valid to ship.", fields=problems or {"items": "All items are already shipped."}
        )
    return all_items, unpushed, remaining, wanted


def _shipment_prepare(order: Order, fields: Mapping[str, Any], items: Mapping[int, int] | None,
                      *, actor: Actor) -> tuple[Shipment, dict[str, Any]]:
    """Under the order's row lock: check again, refuse a shipment already recorded with the
    same tracking number, write the shipment and its lines (caller's transaction)."""
    order = lock_order(order)
    _ship_allowed(order)
    all_items, unpushed, remaining, wanted = _shipment_plan(order, fields["tracking_number"], items)
    shipment = Shipment.objects.create(order=order, **fields)
    ShipmentLine.objects.bulk_create(
        [ShipmentLine(shipment=shipment, item_id=pk, quantity=q) for pk, q in wanted.items()]
    )
    for old in unpushed:  # their items are being shipped again: replaced by this one
        if not set(old.lines.values_list("item_id", flat=True)) & set(wanted):
            continue
        transition_apply(old, "cancel", actor=actor,
                    message=f"Replaced by shipment {shipment} (the provider had not taken it)")
    return shipment, {"all_items": all_items, "remaining": remaining, "wanted": wanted}


def _shipment_push_failed(order: Order, shipment: Shipment, exc: ProviderError, *,
                          actor: Actor) -> None:
    """A refused push cancels its shipment (kept, with the reason); an unknown outcome leaves
    it pending with the reason (the provider may have it; shipping again replaces it)."""
    unknown = isinstance(exc, (ProviderOutcomeUnknown, ProviderBadReply))
    with transaction.atomic():
        shipment.raw_data = {"push_error": str(exc), **({"outcome_unknown": True} if unknown
                                                        else {})}
        shipment.save(update_fields=["raw_data", "updated_at"])
        if not unknown:
            transition_apply(shipment, "cancel", actor=actor,
                        message=f"Shipment {shipment} not taken by the provider: {exc}")
        fresh = lock_order(order)
        fresh.failure_reason = (
            f"{SHIP_PUSH_REFUSED}: {exc} — correct the shipping data and use Ship again"
            + (" (the provider may have it: check there first; this shipment is then replaced)."
               if unknown else ".")
        )
        fresh.save(update_fields=["failure_reason", "updated_at"])
        event_add(order=fresh, kind=OrderEvent.Kind.ERROR, actor=actor,
                  message=fresh.failure_reason)


def _shipment_settle(order: Order, shipment: Shipment, plan: Mapping[str, Any], *,
                     actor: Actor) -> None:
    all_items, remaining, wanted = plan["all_items"], plan["remaining"], plan["wanted"]
    shipment.save()
    transition_apply(shipment, "ship", actor=actor,
                message=f"Shipment {shipment} ({sum(wanted.values())} unit(s))")
    complete = all(remaining[pk] - wanted.get(pk, 0) <= 0 for pk in all_items)
    fresh = lock_order(order)
    if fresh.failure_reason.startswith(SHIP_PUSH_REFUSED):
        fresh.failure_reason = ""  # an earlier refused push of these items: now settled
    transition_apply(fresh, "ship", actor=actor, complete=complete,
                message=f"{'Shipped' if complete else 'Partially shipped'}: {shipment}")
    for pk in wanted:
        item = all_items[pk]
        if remaining[pk] - wanted[pk] <= 0 and item.state != ItemLifecycle.SHIPPED:
            item.sync_state(target=ItemLifecycle.SHIPPED)
            item.save()


def order_items_set_status(
    *,
    order: Order,
    items: list[OrderItem],
    transition_name: str,
    actor: Actor = None,
    comment: str = "",
) -> list[OrderItem]:
    """Move several items of one order to the same status: one provider request with all
    their ids; every item must allow the move (its provider ``nextStatuses``) first."""
    if not items:
        raise OrderValidationError("Choose at least one item.", fields={"items": "Required."})
    if any(item.order_id != order.pk for item in items):
        raise OrderValidationError("Items must belong to the order.", fields={"items": "Wrong order."})
    target = {
        "acknowledge": ItemLifecycle.ACKNOWLEDGED, "hold": ItemLifecycle.ON_HOLD,
        "ship": ItemLifecycle.SHIPPED, "cancel": ItemLifecycle.CANCELLED,
        "mark_returned": ItemLifecycle.RETURNED,
    }[transition_name]
    _items_allow(items, transition_name)
    service = order_service_recorded(order)
    with claims.provider_write(order=order, operation="set_item_status", actor=actor,
                               label=f"Item status change ({transition_name})"):
        # read again under the claim: a request that raced this one may have moved them
        fresh_items = {i.pk: i for i in OrderItem.objects.filter(pk__in=[i.pk for i in items])}
        items = [fresh_items[i.pk] for i in items if i.pk in fresh_items]
        _items_allow(items, transition_name)
        try:
            service.set_item_status(order_request(order), item_requests(items), target,
                                    comment=comment)
        except ProviderError as exc:
            Order.objects.filter(pk=order.pk).update(failure_reason=f"Item status refused: {exc}")
            event_add(order=order, kind=OrderEvent.Kind.ERROR, actor=actor,
                      message=f"Item status change refused: {exc}")
            raise
        items = _items_settle(order, items, transition_name, target, service, actor=actor)
    return items


ITEM_TARGETS = {
    "acknowledge": ItemLifecycle.ACKNOWLEDGED, "hold": ItemLifecycle.ON_HOLD,
    "ship": ItemLifecycle.SHIPPED, "cancel": ItemLifecycle.CANCELLED,
    "mark_returned": ItemLifecycle.RETURNED,
}


def order_items_status_check(
    *, order: Order, items: list[OrderItem], transition_name: str, actor: Actor = None
) -> None:
    """What can be checked before queuing an item status move (no provider call): the
    permission, the items, and that each allows the move now."""
    require_permission(actor)
    if not items:
        raise OrderValidationError("Choose at least one item.", fields={"items": "Required."})
    if any(item.order_id != order.pk for item in items):
        raise OrderValidationError("Items must belong to the order.", fields={"items": "Wrong order."})
    if transition_name not in ITEM_TARGETS:
        raise OrderValidationError(f"Unknown item status move '{transition_name}'.",
                                   fields={"transition": "Unknown."})
    for item in items:
        item.order = order  # the transition condition reads the provider's table
    _items_allow(items, transition_name)


def _items_allow(items: list[OrderItem], transition_name: str) -> None:
    refused = [str(i) for i in items if not can_proceed(getattr(i, transition_name))]
    if refused or not items:
        raise OrderActionRefused(
            f"'{transition_name}' is not allowed by the provider for: "
            f"{', '.join(refused) or 'these items'}.",
            code="not_allowed",
        )


def _items_settle(order: Order, items: list[OrderItem], transition_name: str, target: str,
                  service: Any, *, actor: Actor) -> list[OrderItem]:
    code = order.status_table.item_code_for(target)
    with transaction.atomic():
        for item in items:
            item.refresh_from_db()
            transition_apply(item, transition_name, actor=actor)
            # The provider's next statuses for the new status arrive with the next sync; till
            # then the status table decides.
            item.raw_status = code or item.raw_status
            item.next_statuses = None
            item.save(update_fields=["raw_status", "next_statuses", "updated_at"])
        implied = service.order_state_after_items(order_request(order),
                                                  item_requests(order.items.all()))
        if implied:
            fresh = lock_order(order)
            if implied != fresh.state and fresh.state not in S.FINAL:
                transition_apply(fresh, "sync_state", actor=actor, target=implied,
                            message=f"{labels.moved(fresh.state, implied)} (follows its items)")
    return items


