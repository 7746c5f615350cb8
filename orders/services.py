"""Business verbs on orders. The admin, the REST API and Celery tasks all call these.

Rules of the house:
* keyword-only arguments, ``<entity>_<verb>`` names;
* a state changes only through a model transition, run by ``_transition`` which saves and
  appends the timeline event in one transaction;
* provider calls never run while a row lock is held: a verb claims the order under a lock
  (moving it to an in-flight state such as ``placing``), commits, then calls the provider,
  then records the outcome in a second short transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed

from merchants.models import Merchant, ProviderAccount
from providers import registry
from providers.errors import (
    ProviderBadReply,
    ProviderError,
    ProviderNotSupported,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
    ProviderValidationError,
)
from providers.statuses import ItemLifecycle, Lifecycle
from providers.types import OrderSnapshot, PlacementResult

from . import snapshots
from .errors import OrderActionRefused, OrderValidationError
from .models import TRANSITION_PERMISSION, Order, OrderEvent, OrderItem, Shipment, ShipmentLine
from .timeline import Actor, CallRecorder, actor_or_none, event_add

logger = logging.getLogger(__name__)
S = Lifecycle

ADDRESS_FIELDS = (
    "contact_name", "contact_email", "phone_prefix", "phone_number", "address_line1",
    "address_line2", "city", "region", "postal_code", "country",
)
EDITABLE_FIELDS = (*ADDRESS_FIELDS, "currency", "shipping_total", "provider_options")


# --- helpers ---------------------------------------------------------------------------------
def _locked(order: Order) -> Order:
    """Re-read the order under a row lock (inside an atomic block)."""
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("merchant__account")
        .get(pk=order.pk)
    )


def _transition(
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
        _require_permission(actor)
    before = order.state
    try:
        method(**kwargs)
    except TransitionNotAllowed as exc:
        raise OrderActionRefused(
            f"'{name}' is not allowed now (state: {before}).",
            allowed=order_transitions_available(order=order) if isinstance(order, Order) else [],
            code="not_allowed",
        ) from exc
    order.save()
    target = order if isinstance(order, Order) else order.order
    kind = (
        OrderEvent.Kind.TRANSITION if isinstance(order, Order)
        else OrderEvent.Kind.ITEM if isinstance(order, OrderItem)
        else OrderEvent.Kind.SHIPMENT
    )
    label = "" if isinstance(order, Order) else f"{order._meta.verbose_name} {order.pk}: "
    event_add(
        order=target,
        kind=kind,
        message=message or f"{label}{before} → {order.state} ({name})",
        from_state=before,
        to_state=order.state,
        actor=actor,
    )


def _require_permission(actor: Actor) -> None:
    """People need the transition permission; system actors (tasks: None) do not."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return
    if not actor.has_perm(TRANSITION_PERMISSION):  # type: ignore[union-attr]
        raise OrderActionRefused(
            "You do not have permission to change orders (read-only access).", code="forbidden"
        )


def _recalculate_totals(order: Order) -> None:
    total = order.items.aggregate(
        t=Sum(F("unit_price") * F("quantity"))
    )["t"] or Decimal("0")
    order.items_total = Decimal(total).quantize(Decimal("0.01"))
    order.total = order.items_total + (order.shipping_total or Decimal("0"))
    order.save(update_fields=["items_total", "total", "updated_at"])


def _require_draft(order: Order, what: str) -> None:
    if order.state != S.DRAFT:
        raise OrderActionRefused(
            f"{what} is only possible while the order is a draft (it is {order.get_state_display()}).",
            code="not_allowed",
        )


# --- create and edit -------------------------------------------------------------------------
@transaction.atomic
def order_create(
    *,
    merchant: Merchant,
    items: Iterable[Mapping[str, Any]],
    actor: Actor = None,
    reference: str | None = None,
    **fields: Any,
) -> Order:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise OrderValidationError("Unknown fields.", fields={f: "Unknown field." for f in unknown})
    order = Order(merchant=merchant, **fields)
    if reference:
        order.reference = reference
    if order.country:
        order.country = order.country.upper()
    try:
        order.full_clean(exclude=["state"])
    except ValidationError as exc:
        raise OrderValidationError(
            "The order is not valid.",
            fields={k: " ".join(v) for k, v in exc.message_dict.items()},
        ) from exc
    order.save()
    rows = [OrderItem(order=order, **dict(item)) for item in items]
    for index, row in enumerate(rows):
        if not row.quantity or row.quantity < 1:
            raise OrderValidationError(
                "Quantity must be at least 1.", fields={f"items[{index}].quantity": "Must be ≥ 1."}
            )
    OrderItem.objects.bulk_create(rows)
    _recalculate_totals(order)
    event_add(order=order, kind=OrderEvent.Kind.TRANSITION, message="Order created",
              to_state=order.state, actor=actor)
    return order


@transaction.atomic
def order_update(*, order: Order, actor: Actor = None, **fields: Any) -> Order:
    order = _locked(order)
    _require_draft(order, "Editing")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise OrderValidationError("Unknown fields.", fields={f: "Not editable." for f in unknown})
    for name, value in fields.items():
        setattr(order, name, value)
    try:
        order.full_clean(exclude=["state"])
    except ValidationError as exc:
        raise OrderValidationError(
            "The order is not valid.",
            fields={k: " ".join(v) for k, v in exc.message_dict.items()},
        ) from exc
    order.save()
    _recalculate_totals(order)
    event_add(order=order, kind=OrderEvent.Kind.NOTE, actor=actor,
              message="Edited: " + ", ".join(sorted(fields)))
    return order


@transaction.atomic
def order_item_add(*, order: Order, actor: Actor = None, **fields: Any) -> OrderItem:
    order = _locked(order)
    _require_draft(order, "Adding items")
    item = OrderItem(order=order, **fields)
    if item.quantity < 1:
        raise OrderValidationError("Quantity must be at least 1.", fields={"quantity": "Must be ≥ 1."})
    item.save()
    _recalculate_totals(order)
    event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor, message=f"Item added: {item}")
    return item


@transaction.atomic
def order_item_remove(*, item: OrderItem, actor: Actor = None) -> None:
    order = _locked(item.order)
    _require_draft(order, "Removing items")
    label = str(item)
    item.delete()
    _recalculate_totals(order)
    event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor, message=f"Item removed: {label}")


def order_note_add(*, order: Order, text: str, actor: Actor = None) -> OrderEvent:
    return event_add(order=order, kind=OrderEvent.Kind.NOTE, message=text.strip(), actor=actor)


# --- placement -------------------------------------------------------------------------------
def order_place(*, order: Order, actor: Actor = None) -> Order:
    """Send a draft (or failed) order to its provider, exactly once.

    The claim (draft/failed → placing) happens under a row lock and commits before the call,
    so a second worker or a redelivered task finds ``placing`` and does nothing. The outcome:
    ``placed``; ``failed`` (rejected, or unavailable — the caller may retry); or
    ``placement_unknown`` (the request may have been acted on: reconcile, never re-send).
    Raises ``OrderActionRefused`` before any call when the order cannot be placed now, and
    re-raises ``ProviderUnavailable`` after recording it so a task can schedule a retry.
    """
    with transaction.atomic():
        order = _locked(order)
        if order.state not in (S.DRAFT, S.FAILED):
            raise OrderActionRefused(
                f"Only a draft or failed order can be placed (this one is {order.get_state_display()}).",
                code="not_allowed",
            )
        merchant = order.merchant
        if not merchant.can_order:
            raise OrderActionRefused(
                f"Merchant '{merchant}' is not authorized ({merchant.get_auth_state_display()}); "
                "authorize it before placing orders.",
                code="merchant_not_authorized",
            )
        service = registry.service_for(merchant.account, recorder=CallRecorder(order))
        if not service.places_orders or not service.supports("place_order"):
            raise OrderActionRefused(
                f"{service.label} orders are not placed from dropdesk.", code="not_supported"
            )
        if not order.items.exists():
            raise OrderValidationError("The order has no items.", fields={"items": "Add at least one item."})
        problems = service.validate_for_placement(order)
        if problems:
            raise OrderValidationError(
                "The order cannot be sent as it is: "
                + "; ".join(f"{k}: {v}" for k, v in problems.items()),
                fields=problems,
            )
        _transition(order, "place", actor=actor)

    try:
        result = service.place_order(order)
    except ProviderUnavailable as exc:
        _placement_finish(order, "placement_failed", reason=f"Provider unavailable: {exc}", actor=actor)
        raise
    except ProviderValidationError as exc:
        _placement_finish(order, "placement_failed", reason=str(exc), actor=actor)
        return order
    except ProviderRejected as exc:
        _placement_finish(order, "placement_failed", reason=f"Rejected by provider: {exc}", actor=actor)
        return order
    except (ProviderOutcomeUnknown, ProviderBadReply) as exc:
        _placement_finish(
            order, "placement_outcome_unknown",
            reason=f"Outcome unknown: {exc}. Not re-sent automatically; reconcile before retrying.",
            actor=actor,
        )
        return order
    except Exception as exc:  # a bug of ours mid-call: the request may have gone out
        logger.exception("placement of %s crashed", order.reference)
        _placement_finish(
            order, "placement_outcome_unknown",
            reason=f"Internal error while placing ({exc.__class__.__name__}); the request may "
            "have reached the provider. Reconcile before retrying.",
            actor=actor,
        )
        return order
    _placement_apply(order, result, actor=actor)
    return order


def _placement_finish(order: Order, name: str, *, reason: str, actor: Actor) -> None:
    with transaction.atomic():
        fresh = _locked(order)
        _transition(fresh, name, actor=actor, reason=reason,
                    message=f"{fresh.state} → {name.replace('_', ' ')}: {reason}")
    order.refresh_from_db()


def _placement_apply(order: Order, result: PlacementResult, *, actor: Actor) -> None:
    with transaction.atomic():
        fresh = _locked(order)
        fresh.external_ids = [str(i) for i in result.external_ids]
        fresh.external_id = fresh.external_ids[0] if fresh.external_ids else ""
        fresh.raw_status = str(result.raw_status or "")
        if result.raw:
            fresh.raw_data = {**fresh.raw_data, "placement": result.raw}
        if result.expires_at:
            fresh.expires_at = result.expires_at
        _transition(fresh, "placement_succeeded", actor=actor,
                    message=f"Placed: provider id(s) {', '.join(fresh.external_ids) or '—'}"
                    + (f". {result.message}" if result.message else ""))
        if result.state and result.state not in (S.PLACED, fresh.state):
            _transition(fresh, "sync_state", target=result.state, actor=actor)
        if result.confirmed_quantities:
            _apply_confirmed_quantities(fresh, result.confirmed_quantities, actor=actor)
    order.refresh_from_db()


def _apply_confirmed_quantities(order: Order, confirmed: Mapping[int, int], *, actor: Actor) -> None:
    items = list(order.items.filter(pk__in=list(confirmed)))
    short = []
    for item in items:
        item.confirmed_quantity = confirmed[item.pk]
        if item.shortfall:
            short.append(f"{item.sku or item.product_id}: {item.confirmed_quantity}/{item.quantity}")
    OrderItem.objects.bulk_update(items, ["confirmed_quantity"])
    if short:
        event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor,
                  message="Shortfall: the provider took less than asked — " + "; ".join(short),
                  data={"shortfall": short})


def order_reconcile(
    *, order: Order, actor: Actor = None, placed: bool, external_id: str = ""
) -> Order:
    """Settle a ``placement_unknown`` order by the operator's word."""
    with transaction.atomic():
        order = _locked(order)
        if placed and not external_id.strip():
            raise OrderValidationError(
                "Give the provider's order id when the order was placed.",
                fields={"external_id": "Required when the order was placed."},
            )
        _transition(order, "reconcile", actor=actor, check_perm=True, placed=placed,
                    external_id=external_id.strip(),
                    message=("Reconciled: placed as " + external_id.strip()) if placed
                    else "Reconciled: not placed; back to draft")
    return order


def order_reconcile_from_provider(*, order: Order, actor: Actor = None) -> Order:
    """Settle a ``placement_unknown`` order by looking it up at the provider, where it can.

    Found: placed (with its id). Not found: back to draft (nothing was created there).
    Raises ProviderNotSupported when the provider has no lookup (the operator decides).
    """
    service = registry.service_for(order.merchant.account, recorder=CallRecorder(order))
    result = service.reconcile_placement(order)
    with transaction.atomic():
        fresh = _locked(order)
        if fresh.state != S.PLACEMENT_UNKNOWN:
            return fresh
        if result is None:
            _transition(fresh, "reconcile", actor=actor, placed=False,
                        message="Reconciled by lookup: the provider has no such order; back to draft")
        else:
            ids = [str(i) for i in result.external_ids]
            _transition(fresh, "reconcile", actor=actor, placed=True,
                        external_id=ids[0] if ids else "",
                        message="Reconciled by lookup: placed as " + (", ".join(ids) or "?"))
            if ids:
                fresh.external_ids = ids
            fresh.raw_status = str(result.raw_status or fresh.raw_status)
            fresh.save()
            if result.confirmed_quantities:
                _apply_confirmed_quantities(fresh, result.confirmed_quantities, actor=actor)
    order.refresh_from_db()
    return order


# --- sync ------------------------------------------------------------------------------------
def order_sync(*, order: Order, actor: Actor = None) -> Order:
    """Refresh one order from its provider (state, totals, items, shipments)."""
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if not order.external_id:
        raise OrderActionRefused("This order has no provider id yet: nothing to sync.",
                                 code="not_allowed")
    service = registry.service_for(order.merchant.account, recorder=CallRecorder(order))
    try:
        snapshot = service.fetch_order(order)
    except ProviderNotSupported:
        raise
    except ProviderError as exc:
        event_add(order=order, kind=OrderEvent.Kind.ERROR, actor=actor,
                  message=f"Sync failed: {exc}")
        raise
    order_apply_snapshot(order=order, snapshot=snapshot, actor=actor)
    order.refresh_from_db()
    return order


@transaction.atomic
def order_apply_snapshot(*, order: Order, snapshot: OrderSnapshot, actor: Actor = None) -> Order:
    fresh = _locked(order)
    snapshots.apply_to_order(fresh, snapshot, actor=actor_or_none(actor))
    return fresh


def account_sync_incoming(
    *, account: ProviderAccount, since: dt.datetime | None = None, actor: Actor = None
) -> dict[str, int]:
    """Pull orders the provider sends us (Tipser, reseller import), page by page.

    Each page is upserted in bulk (queries per page do not grow with its size); the
    provider's cursor is saved on the account after every page, so an interrupted sync
    resumes and a periodic one asks only for what is new or changed.
    """
    service = registry.service_for(account)
    cursor: dict[str, Any] = dict(account.state.get("sync", {}))
    totals = {"pages": 0, "created": 0, "updated": 0, "unchanged": 0}
    for page in service.iter_incoming(since=since, cursor=cursor):
        counts = snapshots.upsert_page(account=account, page=page)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        totals["pages"] += 1
        ProviderAccount.objects.filter(pk=account.pk).update(
            state={**account.state, "sync": cursor}
        )
        account.state = {**account.state, "sync": cursor}
    cursor["last_run"] = timezone.now().isoformat()
    account.state = {**account.state, "sync": cursor}
    ProviderAccount.objects.filter(pk=account.pk).update(state=account.state)
    return totals


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
    _require_permission(actor)
    if not can_proceed(method):
        raise OrderActionRefused(
            f"'{name}' is not allowed now (state: {order.get_state_display()}).",
            allowed=order_transitions_available(order=order), code="not_allowed",
        )
    if call is not None:
        service = registry.service_for(order.merchant.account, recorder=CallRecorder(order))
        try:
            call(service)
        except ProviderError as exc:
            with transaction.atomic():
                fresh = _locked(order)
                fresh.failure_reason = f"{name} refused by provider: {exc}"
                fresh.save(update_fields=["failure_reason", "updated_at"])
                event_add(order=fresh, kind=OrderEvent.Kind.ERROR, actor=actor,
                          message=fresh.failure_reason)
            raise
    with transaction.atomic():
        fresh = _locked(order)
        _transition(fresh, name, actor=actor, message=message, **kwargs)
    return fresh


def order_cancel(*, order: Order, actor: Actor = None, reason: str = "") -> Order:
    local = order.state in (S.DRAFT, S.FAILED) and not order.external_id
    return _provider_then_transition(
        order, "cancel", None if local else (lambda svc: svc.cancel_order(order)),
        actor=actor, reason=reason,
        message="Cancelled" + (f": {reason}" if reason else ""),
    )


def order_hold(*, order: Order, actor: Actor = None) -> Order:
    return _provider_then_transition(order, "hold", None, actor=actor)


def order_release(*, order: Order, actor: Actor = None) -> Order:
    return _provider_then_transition(order, "release", None, actor=actor)


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
    to the provider where it takes shipping information, and move the order on."""
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if not tracking_number.strip():
        raise OrderValidationError("A tracking number is required.",
                                   fields={"tracking_number": "Required."})
    if not can_proceed(order.ship):
        raise OrderActionRefused(
            f"Shipping is not allowed now (state: {order.get_state_display()}).",
            allowed=order_transitions_available(order=order), code="not_allowed",
        )
    all_items = {i.pk: i for i in order.items.all()}
    shipped_before = dict(
        ShipmentLine.objects.filter(item__order=order)
        .exclude(shipment__state=Shipment.State.CANCELLED)
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
        raise OrderValidationError("Nothing valid to ship.", fields=problems or {"items": "All items are already shipped."})

    with transaction.atomic():
        shipment = Shipment.objects.create(
            order=order, carrier=carrier, service=service, tracking_number=tracking_number.strip(),
            tracking_url=tracking_url, notify_customer=notify_customer, comment=comment,
        )
        ShipmentLine.objects.bulk_create(
            [ShipmentLine(shipment=shipment, item_id=pk, quantity=q) for pk, q in wanted.items()]
        )
    provider = registry.service_for(order.merchant.account, recorder=CallRecorder(order))
    if provider.supports("push_shipment"):
        try:
            provider.push_shipment(shipment)
        except ProviderError as exc:
            with transaction.atomic():
                shipment.raw_data = {"push_error": str(exc)}
                shipment.save(update_fields=["raw_data", "updated_at"])
                fresh = _locked(order)
                fresh.failure_reason = f"Shipping push refused: {exc}"
                fresh.save(update_fields=["failure_reason", "updated_at"])
                event_add(order=fresh, kind=OrderEvent.Kind.ERROR, actor=actor,
                          message=fresh.failure_reason)
            raise
        shipment.pushed_at = timezone.now()
    with transaction.atomic():
        shipment.save()
        _transition(shipment, "ship", actor=actor,
                    message=f"Shipment {shipment} ({sum(wanted.values())} unit(s))")
        complete = all(remaining[pk] - wanted.get(pk, 0) <= 0 for pk in all_items)
        fresh = _locked(order)
        _transition(fresh, "ship", actor=actor, complete=complete,
                    message=f"{'Shipped' if complete else 'Partially shipped'}: {shipment}")
        items_to_mark = [all_items[pk] for pk in wanted if remaining[pk] - wanted[pk] <= 0]
        for item in items_to_mark:
            if item.state != ItemLifecycle.SHIPPED:
                item.sync_state(target=ItemLifecycle.SHIPPED)
                item.save()
    return shipment


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
    refused = [str(i) for i in items if not can_proceed(getattr(i, transition_name))]
    if refused:
        raise OrderActionRefused(
            f"'{transition_name}' is not allowed by the provider for: {', '.join(refused)}.",
            code="not_allowed",
        )
    target = {
        "acknowledge": ItemLifecycle.ACKNOWLEDGED, "hold": ItemLifecycle.ON_HOLD,
        "ship": ItemLifecycle.SHIPPED, "cancel": ItemLifecycle.CANCELLED,
        "mark_returned": ItemLifecycle.RETURNED,
    }[transition_name]
    service = registry.service_for(order.merchant.account, recorder=CallRecorder(order))
    try:
        service.set_item_status(order, items, target, comment=comment)
    except ProviderError as exc:
        Order.objects.filter(pk=order.pk).update(failure_reason=f"Item status refused: {exc}")
        event_add(order=order, kind=OrderEvent.Kind.ERROR, actor=actor,
                  message=f"Item status change refused: {exc}")
        raise
    code = order.status_table.item_code_for(target)
    with transaction.atomic():
        for item in items:
            item.refresh_from_db()
            _transition(item, transition_name, actor=actor)
            # The provider's next statuses for the new status arrive with the next sync; till
            # then the status table decides.
            item.raw_status = code or item.raw_status
            item.next_statuses = None
            item.save(update_fields=["raw_status", "next_statuses", "updated_at"])
    return items


# --- the transition catalogue used by the admin and the API ----------------------------------
def order_transitions_available(*, order: Order, user: Any = None) -> list[str]:
    transitions = (
        order.get_available_user_state_transitions(user)
        if user is not None else order.get_available_state_transitions()
    )
    return [t.name for t in transitions if t.custom.get("admin", True)]


def order_run_transition(
    *, order: Order, name: str, actor: Actor = None, payload: Mapping[str, Any] | None = None
) -> Any:
    """Run an operator-visible order transition by name through its service verb."""
    payload = dict(payload or {})
    verbs: dict[str, Callable[..., Any]] = {
        "place": order_place,
        "reconcile": order_reconcile,
        "reopen": order_reopen,
        "hold": order_hold,
        "release": order_release,
        "ship": order_ship,
        "complete": order_complete,
        "cancel": order_cancel,
    }
    verb = verbs.get(name)
    if verb is None:
        raise OrderActionRefused(f"Unknown transition '{name}'.", code="unknown")
    _require_permission(actor)
    return verb(order=order, actor=actor, **payload)


# --- REST API --------------------------------------------------------------------------------
def order_place_check(*, order: Order, actor: Actor = None) -> None:
    """Refuse now, before queueing a placement, what ``order_place`` would refuse anyway.

    Read-only: the claim itself (and every check again, under the row lock) happens in
    ``order_place`` when the task runs.
    """
    _require_permission(actor)
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if order.state not in (S.DRAFT, S.FAILED) or not can_proceed(order.place):
        raise OrderActionRefused(
            f"'place' is not allowed now (state: {order.get_state_display()}).",
            allowed=order_transitions_available(order=order), code="not_allowed",
        )
    merchant = order.merchant
    if not merchant.can_order:
        raise OrderActionRefused(
            f"Merchant '{merchant}' is not authorized ({merchant.get_auth_state_display()}); "
            "authorize it before placing orders.",
            code="merchant_not_authorized",
        )
    service = registry.service_for(merchant.account)
    if not service.places_orders or not service.supports("place_order"):
        raise OrderActionRefused(
            f"{service.label} orders are not placed from dropdesk.", code="not_supported"
        )
    if not order.items.exists():
        raise OrderValidationError("The order has no items.", fields={"items": "Add at least one item."})
    problems = service.validate_for_placement(order)
    if problems:
        raise OrderValidationError(
            "The order cannot be sent as it is: " + "; ".join(f"{k}: {v}" for k, v in problems.items()),
            fields=problems,
        )
