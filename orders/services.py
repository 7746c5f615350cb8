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

import contextlib
import copy
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, Sum
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

from . import bulkruns, claims, labels, snapshots, versions
from .errors import OrderActionRefused, OrderValidationError
from .models import (
    TRANSITION_PERMISSION,
    BulkRun,
    BulkRunItem,
    Order,
    OrderEvent,
    OrderItem,
    Shipment,
    ShipmentLine,
)
from .readahead import read_ahead
from .timeline import Actor, CallRecorder, actor_or_none, event_add

logger = logging.getLogger(__name__)
S = Lifecycle

ADDRESS_FIELDS = (
    "contact_name", "contact_email", "phone_prefix", "phone_number", "address_line1",
    "address_line2", "city", "region", "postal_code", "country",
)
EDITABLE_FIELDS = (*ADDRESS_FIELDS, "currency", "shipping_total", "provider_options")
SHIP_PUSH_REFUSED = "Shipping push refused"


# --- helpers ---------------------------------------------------------------------------------
def _locked(order: Order, *, items: bool = False) -> Order:
    """Re-read the order under a row lock (inside an atomic block); with its items if asked."""
    queryset = Order.objects.select_for_update(of=("self",)).select_related("merchant__account")
    if items:
        queryset = queryset.prefetch_related("items")
    return queryset.get(pk=order.pk)


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
def _validate(order: Order) -> None:
    """The model's own validation, as field errors (the state is the FSM's business)."""
    try:
        order.full_clean(exclude=["state"])
    except ValidationError as exc:
        raise OrderValidationError(
            "The order is not valid.",
            fields={k: " ".join(v) for k, v in exc.message_dict.items()},
        ) from exc


def validate_item(item: OrderItem, prefix: str = "") -> None:
    """An item's own field rules (non-negative prices, …), as field errors."""
    try:
        item.full_clean(exclude=["order", "state"], validate_unique=False,
                        validate_constraints=False)
    except ValidationError as exc:
        raise OrderValidationError(
            "The item is not valid.",
            fields={f"{prefix}{k}": " ".join(v) for k, v in exc.message_dict.items()},
        ) from exc


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
    _validate(order)
    order.save()
    rows = [OrderItem(order=order, **dict(item)) for item in items]
    for index, row in enumerate(rows):
        if not row.quantity or row.quantity < 1:
            raise OrderValidationError(
                "Quantity must be at least 1.", fields={f"items[{index}].quantity": "Must be ≥ 1."}
            )
        validate_item(row, prefix=f"items[{index}].")
    OrderItem.objects.bulk_create(rows)
    _recalculate_totals(order)
    event_add(order=order, kind=OrderEvent.Kind.TRANSITION, message="Order created",
              to_state=order.state, actor=actor)
    return order


@transaction.atomic
def order_update(*, order: Order, actor: Actor = None, base_version: str | None = None,
                 **fields: Any) -> Order:
    """Change a draft's fields. ``base_version`` (``orders.versions``): the version the
    change was based on; refused (``OrderVersionConflict``) when the order moved since."""
    order = _locked(order)
    versions.order_version_check(order=order, base=base_version)
    _require_draft(order, "Editing")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise OrderValidationError("Unknown fields.", fields={f: "Not editable." for f in unknown})
    for name, value in fields.items():
        setattr(order, name, value)
    _validate(order)
    order.save()
    _recalculate_totals(order)
    event_add(order=order, kind=OrderEvent.Kind.NOTE, actor=actor,
              message="Edited: " + ", ".join(sorted(fields)))
    return order


def _claim_if_provider(order: Order, operation: str, label: str, *, actor: Actor,
                       key: str = "") -> contextlib.AbstractContextManager[Any]:
    """The provider-write claim when the order's provider has ``operation``; else nothing."""
    cls = registry.get(order.merchant.account.provider)
    if cls is None or not cls.supports(operation):
        return contextlib.nullcontext()
    return claims.provider_write(order=order, operation=operation, label=label, key=key,
                                 actor=actor)


def order_item_add(*, order: Order, actor: Actor = None, **fields: Any) -> OrderItem:
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    with _claim_if_provider(order, "add_item", "Adding an item", actor=actor):
        _provider_item_check(order, "add_item")  # provider-side drafts: refused before a change
        with transaction.atomic():
            order = _locked(order)
            _require_draft(order, "Adding items")
            item = OrderItem(order=order, **fields)
            if item.quantity < 1:
                raise OrderValidationError("Quantity must be at least 1.",
                                           fields={"quantity": "Must be ≥ 1."})
            validate_item(item)
            item.save()
            _recalculate_totals(order)
            event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor,
                      message=f"Item added: {item}")
        _provider_item_push(item, actor=actor)  # provider-side drafts: add it there too
    return item


def order_item_remove(*, item: OrderItem, actor: Actor = None) -> None:
    order = Order.objects.select_related("merchant__account").get(pk=item.order_id)
    with _claim_if_provider(order, "remove_item", f"Removing item '{item}'", actor=actor):
        if not OrderItem.objects.filter(pk=item.pk).exists():
            raise OrderActionRefused(f"Item '{item}' was removed meanwhile.", code="not_allowed")
        _provider_item_delete(item, actor=actor)  # provider-side drafts: delete it there first
        with transaction.atomic():
            order = _locked(item.order)
            _require_draft(order, "Removing items")
            label = str(item)
            item.delete()
            _recalculate_totals(order)
            event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor,
                      message=f"Item removed: {label}")


def order_note_add(*, order: Order, text: str, actor: Actor = None) -> OrderEvent:
    return event_add(order=order, kind=OrderEvent.Kind.NOTE, message=text.strip(), actor=actor)


# --- placement -------------------------------------------------------------------------------
def _placement_precheck(order: Order, *, recorder: Any = None) -> Any:
    """Everything that refuses a placement before any provider call; the provider service.

    One list of rules for the placement itself (under the row lock), the API's check before
    it answers 202, and the admin's queueing.
    """
    if order.state not in (S.DRAFT, S.FAILED) or not can_proceed(order.place):
        raise OrderActionRefused(
            f"Only a draft or failed order can be placed, when its provider allows it (this one "
            f"is {order.get_state_display()}).",
            allowed=order_transitions_available(order=order), code="not_allowed",
        )
    merchant = order.merchant
    if not merchant.can_order:
        raise OrderActionRefused(
            f"Merchant '{merchant}' is not authorized ({merchant.get_auth_state_display()}); "
            "authorize it before placing orders.",
            code="merchant_not_authorized",
        )
    service = registry.service_for(merchant.account, recorder=recorder)
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
    return service


def order_place(*, order: Order, actor: Actor = None) -> Order:
    """Send a draft (or failed) order to its provider, exactly once.

    The claim (draft/failed → placing) happens under a row lock and commits before the call,
    so a second worker or a redelivered task finds ``placing`` and does nothing. The outcome:
    ``placed``; ``failed`` (rejected, or unavailable — the caller may retry); or
    ``placement_unknown`` (the request may have been acted on: reconcile, never re-send).
    Raises ``OrderActionRefused`` before any call when the order cannot be placed now, and
    re-raises ``ProviderUnavailable`` after recording it so a task can schedule a retry.
    """
    _provider_draft_prepare(order, actor=actor)  # provider-side drafts: build it there first
    with transaction.atomic():
        # the items once, read under the lock: the checks and the provider call use them
        order = _locked(order, items=True)
        service = _placement_precheck(order, recorder=CallRecorder(order))
        claims.refuse_if_busy(order)  # another provider write on this order is in flight
        _transition(order, "place", actor=actor)

    try:
        result = service.place_order(order)
    except ProviderUnavailable as exc:
        _placement_finish(order, "placement_failed", reason=f"Provider unavailable: {exc}", actor=actor)
        raise
    except ProviderValidationError as exc:
        _placement_finish(order, "placement_failed", reason=str(exc), actor=actor,
                          confirmed=getattr(exc, "confirmed_quantities", None))
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
    _execution_poll_schedule(order, service)  # providers that execute after placement
    return order


def _placement_finish(order: Order, name: str, *, reason: str, actor: Actor,
                      confirmed: Mapping[int, int] | None = None) -> None:
    with transaction.atomic():
        fresh = _locked(order)
        _transition(fresh, name, actor=actor, reason=reason,
                    message=f"{labels.action_label(name)}: {reason}")
        if confirmed:  # e.g. a reservation shortfall: requested vs held, for the operator
            _apply_confirmed_quantities(fresh, confirmed, actor=actor)
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
    if not order.status_table.order_allows("sync", raw_status=order.raw_status):
        raise OrderActionRefused(
            f"The provider's table allows no read of an order in status "
            f"{order.raw_status_label or order.raw_status!r}.", code="not_allowed")
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
    # the next page is fetched while this one is written; each page comes with the cursor as
    # it stood after that page, so what is saved never runs ahead of what was written
    pages = read_ahead(service.iter_incoming(since=since, cursor=cursor),
                       snapshot=lambda: copy.deepcopy(cursor),
                       enabled=settings.ACCOUNT_SYNC_READ_AHEAD)
    try:
        with contextlib.closing(pages):
            for page, page_cursor in pages:
                counts = snapshots.upsert_page(account=account, page=page)
                for key, value in counts.items():
                    totals[key] = totals.get(key, 0) + value
                totals["pages"] += 1
                account.state = {**account.state, "sync": page_cursor}
                ProviderAccount.objects.filter(pk=account.pk).update(state=account.state)
    except ProviderError as exc:  # the dashboard's sync health shows the last error
        account.state = {**account.state, "sync_error": {
            "at": timezone.now().isoformat(), "message": str(exc)[:500]}}
        ProviderAccount.objects.filter(pk=account.pk).update(state=account.state)
        raise
    cursor["last_run"] = timezone.now().isoformat()
    account.state = {**{k: v for k, v in account.state.items() if k != "sync_error"}, "sync": cursor}
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
            labels.not_possible(name, order.state),
            allowed=order_transitions_available(order=order), code="not_allowed",
        )
    if call is None:
        with transaction.atomic():
            fresh = _locked(order)
            claims.refuse_if_busy(fresh)  # e.g. a provider draft being created right now
            _transition(fresh, name, actor=actor, message=message, **kwargs)
        return fresh
    service = registry.service_for(order.merchant.account, recorder=CallRecorder(order))
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
    return lambda svc: getattr(svc, operation)(order)


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
    provider = registry.service_for(order.merchant.account, recorder=CallRecorder(order))
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
            provider.push_shipment(shipment)
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


def _shipment_prepare(order: Order, fields: Mapping[str, Any], items: Mapping[int, int] | None,
                      *, actor: Actor) -> tuple[Shipment, dict[str, Any]]:
    """Under the order's row lock: check again, refuse a shipment already recorded with the
    same tracking number, write the shipment and its lines (caller's transaction)."""
    order = _locked(order)
    _ship_allowed(order)
    all_items = {i.pk: i for i in order.items.all()}
    # A shipment whose push failed with an unknown outcome stays pending with the reason; it
    # does not hold its items: shipping them again replaces it (the operator was told).
    unpushed = list(order.shipments.filter(state=Shipment.State.PENDING, pushed_at__isnull=True,
                                           raw_data__has_key="push_error"))
    same = (order.shipments.filter(tracking_number=fields["tracking_number"])
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
    shipment = Shipment.objects.create(order=order, **fields)
    ShipmentLine.objects.bulk_create(
        [ShipmentLine(shipment=shipment, item_id=pk, quantity=q) for pk, q in wanted.items()]
    )
    for old in unpushed:  # their items are being shipped again: replaced by this one
        if not set(old.lines.values_list("item_id", flat=True)) & set(wanted):
            continue
        _transition(old, "cancel", actor=actor,
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
            _transition(shipment, "cancel", actor=actor,
                        message=f"Shipment {shipment} not taken by the provider: {exc}")
        fresh = _locked(order)
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
    _transition(shipment, "ship", actor=actor,
                message=f"Shipment {shipment} ({sum(wanted.values())} unit(s))")
    complete = all(remaining[pk] - wanted.get(pk, 0) <= 0 for pk in all_items)
    fresh = _locked(order)
    if fresh.failure_reason.startswith(SHIP_PUSH_REFUSED):
        fresh.failure_reason = ""  # an earlier refused push of these items: now settled
    _transition(fresh, "ship", actor=actor, complete=complete,
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
    service = registry.service_for(order.merchant.account, recorder=CallRecorder(order))
    with claims.provider_write(order=order, operation="set_item_status", actor=actor,
                               label=f"Item status change ({transition_name})"):
        # read again under the claim: a request that raced this one may have moved them
        fresh_items = {i.pk: i for i in OrderItem.objects.filter(pk__in=[i.pk for i in items])}
        items = [fresh_items[i.pk] for i in items if i.pk in fresh_items]
        _items_allow(items, transition_name)
        try:
            service.set_item_status(order, items, target, comment=comment)
        except ProviderError as exc:
            Order.objects.filter(pk=order.pk).update(failure_reason=f"Item status refused: {exc}")
            event_add(order=order, kind=OrderEvent.Kind.ERROR, actor=actor,
                      message=f"Item status change refused: {exc}")
            raise
        items = _items_settle(order, items, transition_name, target, service, actor=actor)
    return items


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
            _transition(item, transition_name, actor=actor)
            # The provider's next statuses for the new status arrive with the next sync; till
            # then the status table decides.
            item.raw_status = code or item.raw_status
            item.next_statuses = None
            item.save(update_fields=["raw_status", "next_statuses", "updated_at"])
        implied = service.order_state_after_items(order, list(order.items.all()))
        if implied:
            fresh = _locked(order)
            if implied != fresh.state and fresh.state not in S.FINAL:
                _transition(fresh, "sync_state", actor=actor, target=implied,
                            message=f"{labels.moved(fresh.state, implied)} (follows its items)")
    return items


# --- the transition catalogue used by the admin and the API ----------------------------------
# Verbs living in their own modules register here (orders/apps.py: shortfall.install()).
TRANSITION_VERBS: dict[str, Callable[..., Any]] = {}


def order_transitions_available(*, order: Order, user: Any = None) -> list[str]:
    transitions = (
        order.get_available_user_state_transitions(user)  # type: ignore[attr-defined]
        if user is not None else order.get_available_state_transitions()  # type: ignore[attr-defined]
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
        **TRANSITION_VERBS,
    }
    verb = verbs.get(name)
    if verb is None:
        raise OrderActionRefused(f"Unknown action “{name}”.", code="unknown")
    _require_permission(actor)
    return verb(order=order, actor=actor, **payload)


# --- provider-side drafts, execution, draft expiry, extra information (reseller v3) ---------
# Providers that build an order step by step at their side (a provider Draft, items added
# or removed only while Draft, a checkout, an execution finishing later) implement the
# optional ProviderService verbs create_draft / add_item / remove_item / poll_execution /
# custom_fields_* / item_characteristics_*. Each provider id is recorded the moment it exists.
EXECUTION_POLL_DELAYS = (3, 5, 10, 20, 40, 80, 160, 300)  # seconds; then every 300s
EXECUTION_POLL_MAX_ATTEMPTS = 30
_EXECUTION_FINAL = (*Lifecycle.FINAL, S.FAILED)


def _service_for_order(order: Order) -> Any:
    return registry.service_for(order.merchant.account, recorder=CallRecorder(order))


def _refuse_if_not_allowed(service: Any, operation: str) -> None:
    reason = service.refusal(operation)
    if reason:
        raise OrderActionRefused(reason, code="not_supported")


def _provider_failure(order: Order, message: str, *, actor: Actor) -> None:
    """A provider refusal/error outside placement: the reason on the order and the timeline;
    the order stays in its state."""
    with transaction.atomic():
        fresh = _locked(order)
        fresh.failure_reason = message[:4000]
        fresh.save(update_fields=["failure_reason", "updated_at"])
        event_add(order=fresh, kind=OrderEvent.Kind.ERROR, actor=actor, message=message)


def _error_text(what: str, exc: ProviderError) -> str:
    if isinstance(exc, (ProviderOutcomeUnknown, ProviderBadReply)):
        return (f"{what}: outcome unknown ({exc}). The provider may have acted on it; check "
                "there before trying again.")
    return f"{what} failed: {exc}"


def _provider_item_check(order: Order, operation: str) -> None:
    """Before changing items of a provider-backed draft: refused locally once it left Draft,
    or when the account may not write."""
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if not order.external_id:
        return
    service = _service_for_order(order)
    if not service.supports(operation):
        return
    _require_draft(order, "Changing items at the provider")
    _refuse_if_not_allowed(service, operation)


UNKNOWN_DRAFT_FLAG = "provider_draft_outcome_unknown"
UNKNOWN_ITEMS_FLAG = "provider_items_outcome_unknown"


def _flag_set(order: Order, name: str, value: bool) -> None:
    """Remember (in raw_data) that a create call's outcome is unknown, so the next attempt
    looks at the provider first instead of creating a duplicate."""
    with transaction.atomic():
        fresh = _locked(order)
        data = dict(fresh.raw_data or {})
        if value:
            data[name] = True
        else:
            data.pop(name, None)
        fresh.raw_data = data
        fresh.save(update_fields=["raw_data", "updated_at"])
    order.raw_data = fresh.raw_data


def _provider_items_adopt(order: Order, service: Any, pending: list[OrderItem], *,
                          actor: Actor) -> None:
    """After an add whose outcome was unknown: items at the provider that no local item
    claims, with the same product and quantity, are ours — record their ids."""
    claimed = set(order.items.exclude(external_id="").values_list("external_id", flat=True))
    remote = service.list_items(order)
    for item in pending:
        match = next((r for r in remote if r.external_id and r.external_id not in claimed
                      and r.product_id == (item.product_id or item.sku)
                      and r.quantity == item.quantity), None)
        if match is None:
            continue
        claimed.add(match.external_id)
        item.external_id = match.external_id[:120]
        OrderItem.objects.filter(pk=item.pk).update(external_id=item.external_id)
        event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor,
                  message=f"Item '{item}' found at the provider as {item.external_id} "
                  "(its earlier add had an unknown outcome)")


def _provider_items_push(order: Order, service: Any, *, actor: Actor) -> None:
    """Add every item the provider draft lacks, recording each provider item id at once."""
    pending = list(order.items.filter(external_id="").order_by("pk"))
    if not pending:
        return
    order.refresh_from_db(fields=["raw_data"])
    if (order.raw_data or {}).get(UNKNOWN_ITEMS_FLAG) and hasattr(service, "list_items"):
        try:
            _provider_items_adopt(order, service, pending, actor=actor)
        except ProviderError as exc:
            _provider_failure(order, _error_text("Looking up the provider's items", exc),
                              actor=actor)
            raise
        _flag_set(order, UNKNOWN_ITEMS_FLAG, False)
        pending = [i for i in pending if not i.external_id]
    for item in pending:
        try:
            external_id = service.add_item(order, item)
        except ProviderError as exc:
            if isinstance(exc, (ProviderOutcomeUnknown, ProviderBadReply)):
                _flag_set(order, UNKNOWN_ITEMS_FLAG, True)
            _provider_failure(order, _error_text(f"Adding item '{item}' at the provider", exc),
                              actor=actor)
            raise
        OrderItem.objects.filter(pk=item.pk).update(external_id=str(external_id)[:120])
        event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor,
                  message=f"Item '{item}' added to the provider draft as {external_id}")


def _provider_item_push(item: OrderItem, *, actor: Actor) -> None:
    order = Order.objects.select_related("merchant__account").get(pk=item.order_id)
    if not order.external_id or order.state != S.DRAFT:
        return
    service = _service_for_order(order)
    if service.supports("add_item"):
        _provider_items_push(order, service, actor=actor)
        item.refresh_from_db()


def _provider_item_delete(item: OrderItem, *, actor: Actor) -> None:
    order = Order.objects.select_related("merchant__account").get(pk=item.order_id)
    if not order.external_id:
        return
    service = _service_for_order(order)
    if not service.supports("remove_item"):
        return
    _require_draft(order, "Removing items")
    _refuse_if_not_allowed(service, "remove_item")
    if not item.external_id:
        return
    try:
        service.remove_item(order, item)
    except ProviderError as exc:
        if isinstance(exc, ProviderRejected) and exc.http_status == 404:
            return  # already gone there (an earlier delete went through)
        _provider_failure(order, _error_text(f"Removing item '{item}' at the provider", exc),
                          actor=actor)
        raise


def _draft_create(order: Order, service: Any, *, actor: Actor) -> Order:
    problems = service.validate_for_placement(order)
    if problems:
        raise OrderValidationError(
            "The provider draft cannot be created: "
            + "; ".join(f"{k}: {v}" for k, v in problems.items()),
            fields=problems,
        )
    result = None
    if (order.raw_data or {}).get(UNKNOWN_DRAFT_FLAG) and hasattr(service, "find_draft"):
        # the last create had an unknown outcome: adopt that draft if it exists
        try:
            result = service.find_draft(order)
        except ProviderError as exc:
            _provider_failure(order, _error_text("Looking up the provider draft", exc),
                              actor=actor)
            raise
    if result is None:
        try:
            result = service.create_draft(order)
        except ProviderError as exc:
            if isinstance(exc, (ProviderOutcomeUnknown, ProviderBadReply)):
                _flag_set(order, UNKNOWN_DRAFT_FLAG, True)
            _provider_failure(order, _error_text("Creating the provider draft", exc),
                              actor=actor)
            raise
    with transaction.atomic():
        fresh = _locked(order)
        fresh.external_ids = [str(i) for i in result.external_ids]
        fresh.external_id = fresh.external_ids[0] if fresh.external_ids else ""
        fresh.raw_status = str(result.raw_status or "")[:120]
        fresh.expires_at = result.expires_at
        fresh.failure_reason = ""
        fresh.raw_data = {k: v for k, v in {**fresh.raw_data, "draft": result.raw}.items()
                          if k != UNKNOWN_DRAFT_FLAG}
        fresh.save()
        event_add(order=fresh, kind=OrderEvent.Kind.NOTE, actor=actor,
                  message=f"Provider draft {fresh.external_id} created"
                  + (f", expires {fresh.expires_at:%Y-%m-%d %H:%M}" if fresh.expires_at else ""))
    _provider_items_push(fresh, service, actor=actor)
    fresh.refresh_from_db()
    return fresh


def order_provider_draft_create(*, order: Order, actor: Actor = None) -> Order:
    """Create the order's draft at the provider now (and add its items there), so items can
    then be added and removed at the provider one by one before checking out."""
    _require_permission(actor)
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    _require_draft(order, "Creating the provider draft")
    service = _service_for_order(order)
    if not service.supports("create_draft"):
        raise OrderActionRefused(f"{service.label} has no provider-side drafts.",
                                 code="not_supported")
    _refuse_if_not_allowed(service, "create_draft")
    if not order.merchant.can_order:
        raise OrderActionRefused(
            f"Merchant '{order.merchant}' is not authorized; authorize it first.",
            code="merchant_not_authorized",
        )
    with claims.provider_write(order=order, operation="create_draft",
                               label="Creating the provider draft", actor=actor):
        order = Order.objects.select_related("merchant__account").get(pk=order.pk)
        _require_draft(order, "Creating the provider draft")
        if order.external_id:
            raise OrderActionRefused(
                f"The provider draft exists already ({order.external_id}).", code="not_allowed")
        return _draft_create(order, service, actor=actor)


def _provider_draft_prepare(order: Order, *, actor: Actor) -> None:
    """Before placing with a provider-side-draft provider: refuse a read-only account, create
    the draft if none yet and push the items it lacks (each id recorded as it comes)."""
    cls = registry.get(order.merchant.account.provider)
    if cls is not None and not cls.supports("create_draft"):
        return  # most providers: no provider-side draft, nothing to read
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if order.state not in (S.DRAFT, S.FAILED):
        return  # order_place refuses with its own reason
    service = _service_for_order(order)
    if not service.supports("create_draft"):
        return
    _refuse_if_not_allowed(service, "place_order")
    if not order.merchant.can_order or not order.items.exists():
        return  # order_place refuses with its own reason
    if order.external_id and not order.items.filter(external_id="").exists():
        return  # the provider draft has every item: nothing to send
    with claims.provider_write(order=order, operation="prepare_draft",
                               label="Preparing the provider draft", actor=actor):
        order = Order.objects.select_related("merchant__account").get(pk=order.pk)
        if order.state not in (S.DRAFT, S.FAILED):
            return  # placed meanwhile: order_place refuses with its own reason
        if not order.external_id:
            if order.state != S.DRAFT:
                return
            _draft_create(order, service, actor=actor)
        else:
            _provider_items_push(order, service, actor=actor)


def _execution_poll_schedule(order: Order, service: Any, *, attempt: int = 0) -> None:
    if not service.supports("poll_execution"):
        return
    order.refresh_from_db(fields=["state", "raw_status"])
    if order.state in _EXECUTION_FINAL or not order.status_table.order_allows(
            "execution_poll", raw_status=order.raw_status):
        return
    from .tasks import order_execution_poll_task  # tasks import this module

    delay = EXECUTION_POLL_DELAYS[min(attempt, len(EXECUTION_POLL_DELAYS) - 1)]
    try:
        order_execution_poll_task.apply_async((order.pk, attempt), countdown=delay)
    except Exception as exc:
        logger.exception("could not schedule the execution poll of %s", order.reference)
        event_add(order=order, kind=OrderEvent.Kind.ERROR,
                  message=f"Could not schedule execution polling ({exc.__class__.__name__}); "
                  "use 'Check execution status now' on the order page.")


def order_execution_poll(*, order: Order, actor: Actor = None) -> bool:
    """Ask the provider how the execution of a placed order goes; apply its status (mapped
    onto the lifecycle, raw kept). True when the execution reached a final state."""
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if order.state in _EXECUTION_FINAL:
        return True
    if not order.external_id or order.state not in (S.PLACED, S.IN_PROGRESS):
        return True  # nothing to poll (never placed, or an operator moved it)
    if not order.status_table.order_allows("execution_poll", raw_status=order.raw_status):
        return False  # e.g. Reseller Pending Approval: not confirmed, no execution to ask about
    service = _service_for_order(order)
    try:
        result = service.poll_execution(order)
    except ProviderUnavailable:
        raise
    except ProviderError as exc:
        event_add(order=order, kind=OrderEvent.Kind.ERROR, actor=actor,
                  message=f"Execution status unreadable: {exc}")
        raise
    with transaction.atomic():
        fresh = _locked(order)
        if fresh.state not in (S.PLACED, S.IN_PROGRESS):
            return fresh.state in _EXECUTION_FINAL
        raw_changed = fresh.raw_status != result.raw_status
        fresh.raw_status = str(result.raw_status or fresh.raw_status)[:120]
        fresh.raw_data = {**fresh.raw_data, "execution": result.raw}
        fresh.synced_at = timezone.now()
        if result.state == S.FAILED:
            fresh.failure_reason = ("Execution failed at the provider"
                                    + (f": {result.message}" if result.message else ""))
        fresh.save()
        label = fresh.status_table.order_label(fresh.raw_status)
        if result.state and result.state != fresh.state:
            _transition(fresh, "sync_state", target=result.state, actor=actor,
                        message=f"Execution status {label}: {labels.moved(order.state, result.state)}")
        elif raw_changed:
            event_add(order=fresh, kind=OrderEvent.Kind.SYNC, actor=actor,
                      message=f"Execution status {label}")
        return fresh.state in _EXECUTION_FINAL


def order_drafts_expire(*, now: dt.datetime | None = None) -> int:
    """Move drafts past their provider expiry (``expires_at``) to ``expired``; the count."""
    now = now or timezone.now()
    due = Order.objects.filter(state=S.DRAFT, expires_at__isnull=False, expires_at__lte=now)
    count = 0
    for pk in due.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            order = (Order.objects.select_for_update(of=("self",))
                     .select_related("merchant__account").get(pk=pk))
            if order.state != S.DRAFT or not order.expires_at or order.expires_at > now:
                continue
            _transition(order, "expire",
                        message="Draft expired (provider expiry "
                        f"{order.expires_at:%Y-%m-%d %H:%M})")
            count += 1
    return count


def _clean_values(values: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(values, Mapping) or not values:
        raise OrderValidationError("Give at least one value.", fields={"values": "Required."})
    bad = [k for k in values if not isinstance(k, str) or not k.strip()]
    if bad:
        raise OrderValidationError("Every value needs a name.", fields={"values": "Empty name."})
    return {k.strip(): v for k, v in values.items()}


def _extra_info_call(order: Order, operation: str, what: str, call: Callable[[Any], Any],
                     *, actor: Actor, write: bool, key: str = "") -> Any:
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if write:
        _require_permission(actor)
    if not order.external_id:
        raise OrderActionRefused("This order is not at the provider yet.", code="not_allowed")
    service = _service_for_order(order)
    if not service.supports(operation):
        raise OrderActionRefused(f"{service.label} has no {what}.", code="not_supported")
    _refuse_if_not_allowed(service, operation)
    claim = (claims.provider_write(order=order, operation=operation, label=f"Saving {what}",
                                   key=key, actor=actor)
             if write else contextlib.nullcontext())
    with claim:
        try:
            return call(service)
        except ProviderError as exc:
            if write:
                _provider_failure(order, _error_text(f"Saving {what}", exc), actor=actor)
            else:
                event_add(order=order, kind=OrderEvent.Kind.ERROR, actor=actor,
                          message=f"Reading {what} failed: {exc}")
            raise


def order_custom_fields_get(*, order: Order, actor: Actor = None) -> list[dict[str, Any]]:
    """The order's custom fields at the provider:
    [{name, label, value, type, choices, required}]."""
    return _extra_info_call(order, "custom_fields_get", "order custom fields",
                            lambda svc: svc.custom_fields_get(order), actor=actor, write=False)


def order_custom_fields_set(*, order: Order, values: Mapping[str, Any],
                            actor: Actor = None) -> None:
    clean = _clean_values(values)
    _extra_info_call(order, "custom_fields_set", "order custom fields",
                     lambda svc: svc.custom_fields_set(order, clean), actor=actor, write=True,
                     key=claims.intent_key(clean))
    event_add(order=order, kind=OrderEvent.Kind.NOTE, actor=actor,
              message="Custom fields saved at the provider: " + ", ".join(sorted(clean)))


def order_item_characteristics_get(*, item: OrderItem, actor: Actor = None) -> list[dict[str, Any]]:
    order = item.order
    if not item.external_id:
        raise OrderActionRefused("This item is not at the provider yet.", code="not_allowed")
    return _extra_info_call(order, "item_characteristics_get", "item characteristics",
                            lambda svc: svc.item_characteristics_get(order, item),
                            actor=actor, write=False)


def order_item_characteristics_set(*, item: OrderItem, values: Mapping[str, Any],
                                   actor: Actor = None) -> None:
    clean = _clean_values(values)
    order = item.order
    if not item.external_id:
        raise OrderActionRefused("This item is not at the provider yet.", code="not_allowed")
    _extra_info_call(order, "item_characteristics_set", "item characteristics",
                     lambda svc: svc.item_characteristics_set(order, item, clean),
                     actor=actor, write=True, key=claims.intent_key(item.pk, clean))
    event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor,
              message=f"Characteristics of '{item}' saved at the provider: "
              + ", ".join(sorted(clean)))
# --- shortfall decisions: orders/shortfall.py (order_shortfall_accept) -----------------------
# --- admin bulk runs -------------------------------------------------------------------------
BULK_ACTIONS: dict[str, str] = {
    "place": "Place with provider",
    "sync": "Sync now",
    "cancel": "Cancel",
    "acknowledge": "Acknowledge items",
    "mark_shipped": "Mark shipped",
}
BULK_MAX_ORDERS = 1000


def _bulk_skip_reason(order: Order, action: str, payload: Mapping[str, Any]) -> str:
    """Why ``action`` cannot run on ``order`` now ('' when it can be queued)."""
    state = order.get_state_display()
    cls = registry.get(order.merchant.account.provider)
    if cls is None:
        return "no integration installed for this provider"
    if action == "place":
        if order.state not in (S.DRAFT, S.FAILED):
            return f"not allowed from state {state}"
        if not order.merchant.can_order:
            return f"merchant not authorized ({order.merchant.get_auth_state_display()})"
        if not cls.places_orders or not cls.supports("place_order"):
            return f"{cls.label} orders are not placed from dropdesk"
        if not can_proceed(order.place):
            return "the provider does not allow placing from here"
        return ""
    if action == "sync":
        if order.state == S.PLACEMENT_UNKNOWN:
            return "" if cls.supports("reconcile_placement") else (
                f"{cls.label} has no lookup by our reference: reconcile it on the order page")
        if not order.external_id:
            return "no provider id yet (not placed)"
        if not cls.supports("fetch_order"):
            return f"{cls.label} cannot look orders up"
        return ""
    if action == "cancel":
        return "" if can_proceed(order.cancel) else f"not allowed from state {state}"
    if action == "acknowledge":
        if not any(can_proceed(item.acknowledge) for item in order.items.all()):
            return "no item the provider lets us acknowledge"
        return ""
    if action == "mark_shipped":
        if not can_proceed(order.ship):
            return f"not allowed from state {state}"
        if not str(payload.get("tracking_number", "")).strip():
            return "no tracking number given"
        return ""
    return f"unknown action '{action}'"


def bulk_run_start(
    *,
    action: str,
    orders: Iterable[Order],
    actor: Actor = None,
    per_order: Mapping[int, Mapping[str, Any]] | None = None,
) -> BulkRun:
    """Check every order, record the ones that cannot run now as skipped (with why), and
    queue one task per runnable order once the transaction commits."""

    if action not in BULK_ACTIONS:
        raise OrderActionRefused(f"Unknown bulk action '{action}'.", code="unknown")
    _require_permission(actor)
    orders = list(orders)
    if len(orders) > BULK_MAX_ORDERS:
        raise OrderActionRefused(
            f"Choose at most {BULK_MAX_ORDERS} orders per bulk action ({len(orders)} selected); "
            "narrow the list with a tab or filter.", code="too_many",
        )
    per_order = per_order or {}
    with transaction.atomic():
        run = BulkRun.objects.create(action=action, label=BULK_ACTIONS[action],
                                     actor=actor_or_none(actor))
        rows = []
        for order in orders:
            payload = dict(per_order.get(order.pk, {}))
            reason = _bulk_skip_reason(order, action, payload)
            rows.append(BulkRunItem(
                run=run, order=order, payload=payload,
                outcome=BulkRunItem.Outcome.SKIPPED if reason else BulkRunItem.Outcome.QUEUED,
                message=reason, finished_at=timezone.now() if reason else None,
            ))
        BulkRunItem.objects.bulk_create(rows)
        queued = list(run.items.filter(outcome=BulkRunItem.Outcome.QUEUED)
                      .values_list("pk", flat=True))
        transaction.on_commit(lambda: bulk_run_enqueue(run.pk, queued))
    return run


def _bulk_finish(item: BulkRunItem, outcome: str, message: str) -> BulkRunItem:
    """Record the outcome unless the order's own move settled the item meanwhile
    (``orders.bulkruns``): that one is as recent as it gets."""
    item.outcome = outcome
    item.message = message[:2000]
    item.finished_at = timezone.now()
    open_ = Q(outcome=BulkRunItem.Outcome.QUEUED) | Q(payload__follow=True)
    BulkRunItem.objects.filter(open_, pk=item.pk).update(
        outcome=item.outcome, message=item.message, finished_at=item.finished_at)
    item.refresh_from_db()
    return item


def bulk_run_item_execute(*, item: BulkRunItem) -> BulkRunItem:
    """Run one order of a bulk run through its service verb and record the outcome."""
    if item.outcome != BulkRunItem.Outcome.QUEUED:
        return item  # a redelivered task: already done
    run = item.run
    actor = run.actor
    order = Order.objects.select_related("merchant__account").get(pk=item.order_id)
    Out = BulkRunItem.Outcome
    reason = _bulk_skip_reason(order, run.action, item.payload)
    if reason:  # things changed since the run was queued
        return _bulk_finish(item, Out.SKIPPED, reason)
    try:
        if run.action == "place":
            order = order_place(order=order, actor=actor)
            if order.state in (S.FAILED, S.PLACEMENT_UNKNOWN):
                return _bulk_finish(item, Out.FAILED,
                                    f"{order.get_state_display()}: {order.failure_reason}")
        elif run.action == "sync" and order.state == S.PLACEMENT_UNKNOWN:
            order = order_reconcile_from_provider(order=order, actor=actor)
        elif run.action == "sync":
            order = order_sync(order=order, actor=actor)
        elif run.action == "cancel":
            order = order_cancel(order=order, actor=actor,
                                 reason=str(item.payload.get("reason", "")))
        elif run.action == "acknowledge":
            items = [i for i in order.items.all() if can_proceed(i.acknowledge)]
            order_items_set_status(order=order, items=items, transition_name="acknowledge",
                                   actor=actor)
            return _bulk_finish(item, Out.DONE, f"{len(items)} item(s) acknowledged")
        elif run.action == "mark_shipped":
            order_ship(order=order, actor=actor,
                       tracking_number=str(item.payload.get("tracking_number", "")),
                       carrier=str(item.payload.get("carrier", "")))
    except ProviderUnavailable as exc:
        if run.action == "place":  # the task's bounded backoff takes over from here
            from .tasks import order_place_task, retry_countdown

            countdown = retry_countdown(0, exc.retry_after)
            order_place_task.apply_async((order.pk,), countdown=countdown)
            bulkruns.bulk_item_keep_following(item)  # the retry's outcome updates it
            return _bulk_finish(item, Out.FAILED, f"provider unavailable: {exc}; retrying "
                                f"automatically in {countdown:.0f}s")
        return _bulk_finish(item, Out.FAILED, f"provider unavailable: {exc}")
    except OrderValidationError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        return _bulk_finish(item, Out.FAILED, exc.message + (f" ({detail})" if detail else ""))
    except OrderActionRefused as exc:
        if run.action == "place" and Order.objects.filter(pk=order.pk, state=S.PLACING).exists():
            bulkruns.bulk_item_keep_following(item)  # another worker is placing it: follow
        return _bulk_finish(item, Out.SKIPPED, exc.message)
    except ProviderError as exc:
        return _bulk_finish(item, Out.FAILED, f"provider refused: {exc}")
    except Exception as exc:  # never leave a run item queued forever
        logger.exception("bulk %s of order %s crashed", run.action, item.order_id)
        return _bulk_finish(item, Out.FAILED, f"internal error ({exc.__class__.__name__})")
    order.refresh_from_db()
    return _bulk_finish(item, Out.DONE, f"now {order.get_state_display()}")
# --- background work and reliability (issue 6) -----------------------------------------------
class SyncTooSoon(OrderActionRefused):
    """The operator asked for a sync again before the per-account interval passed."""


def order_stale_placing_sweep(
    *, now: dt.datetime | None = None, older_than: dt.timedelta | None = None
) -> list[int]:
    """Orders stuck in ``placing`` (a worker died mid-call) → ``placement_unknown``.

    The request may have reached the provider, so it is never re-sent: the order waits for a
    reconcile (automatic where the provider has a lookup). Returns the pks moved.
    """
    from django.conf import settings

    now = now or timezone.now()
    if older_than is None:
        older_than = dt.timedelta(minutes=settings.ORDER_PLACING_STALE_MINUTES)
    cutoff = now - older_than
    pks = list(
        Order.objects.filter(state=S.PLACING, updated_at__lte=cutoff)
        .order_by("pk").values_list("pk", flat=True)
    )
    moved = []
    for pk in pks:
        with transaction.atomic():
            order = Order.objects.select_for_update(of=("self",)).get(pk=pk)
            if order.state != S.PLACING or order.updated_at > cutoff:
                continue
            reason = (
                f"Placement did not finish within {int(older_than.total_seconds() // 60)} "
                "minute(s) (the worker stopped mid-call?). The request may have reached the "
                "provider: not re-sent; reconcile before retrying."
            )
            _transition(order, "placement_outcome_unknown", reason=reason,
                        message=f"{labels.moved(S.PLACING, S.PLACEMENT_UNKNOWN)}: {reason}")
            moved.append(pk)
    return moved


def order_supports_lookup(order: Order) -> bool:
    cls = registry.get(order.merchant.account.provider)
    return bool(cls is not None and cls.supports("reconcile_placement"))


def orders_awaiting_reconcile() -> list[int]:
    """pks of ``placement_unknown`` orders whose provider can look them up."""
    keys = [k for k, cls in registry.all_services().items() if cls.supports("reconcile_placement")]
    return list(
        Order.objects.filter(state=S.PLACEMENT_UNKNOWN, merchant__account__provider__in=keys)
        .order_by("pk").values_list("pk", flat=True)
    )


def _sync_now_claim(key: str, what: str) -> None:
    """At most one operator-triggered sync per key and interval (a cache lock, shared by
    processes when the cache is)."""
    from django.conf import settings
    from django.core.cache import cache

    interval = int(settings.SYNC_NOW_MIN_INTERVAL)
    if not cache.add(f"dropdesk:sync-now:{key}", timezone.now().isoformat(), timeout=interval):
        raise SyncTooSoon(
            f"{what} was synced less than {interval} seconds ago; try again in a minute.",
            code="rate_limited",
        )


def account_sync_now(*, account: ProviderAccount, actor: Actor = None) -> str:
    """An operator's "sync now": enqueue the account's incoming sync, rate-limited per
    account. Raises ``SyncTooSoon`` (or ``OrderActionRefused`` when the provider sends no
    orders). Returns a message for the operator."""
    cls = registry.service_class(account.provider)
    if not cls.supports("iter_incoming"):
        raise OrderActionRefused(f"{cls.label} does not send orders to us: nothing to sync.",
                                 code="not_supported")
    _sync_now_claim(f"account:{account.pk}", f"Account '{account.name}'")
    from .tasks import account_sync_task

    account_sync_task.delay_on_commit(account.pk)
    logger.info("sync now of account %s queued by %s", account.pk, actor)
    return f"Sync of '{account.name}' queued."


def order_sync_now(*, order: Order, actor: Actor = None) -> str:
    """An operator's "sync now" for one order (read back from the provider), rate-limited
    per order."""
    if not order.external_id:
        raise OrderActionRefused("This order has no provider id yet: nothing to sync.",
                                 code="not_allowed")
    _sync_now_claim(f"order:{order.pk}", f"Order {order.reference}")
    from .tasks import order_sync_task

    order_sync_task.delay_on_commit(order.pk)
    event_add(order=order, kind=OrderEvent.Kind.SYNC, actor=actor, message="Sync queued")
    return f"{order.reference}: sync queued."


def order_place_enqueue(*, order: Order, actor: Actor = None) -> str:
    """Queue a placement (bulk place from the admin). Checks what can be checked without the
    provider; the task claims the order under the row lock, so queuing twice is harmless.
    Raises ``OrderActionRefused`` with the reason when the order cannot be placed."""
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    _require_permission(actor)
    _placement_precheck(order)
    from .tasks import order_place_task

    order_place_task.delay_on_commit(order.pk)
    event_add(order=order, kind=OrderEvent.Kind.NOTE, actor=actor, message="Placement queued")
    return f"{order.reference}: queued"


def order_placement_retry_noted(
    *, order: Order, attempt: int, tries: int, countdown: float
) -> None:
    """Timeline note: a placement that met an unavailable provider is retried later."""
    event_add(order=order, kind=OrderEvent.Kind.NOTE,
              message=f"Provider unavailable (try {attempt} of {tries}); retrying automatically "
              f"in {countdown:.0f}s")


def order_placement_gave_up(*, order: Order, tries: int) -> Order:
    """After the last automatic try: the order stays ``failed`` with a readable reason; the
    operator's "Place with provider" button retries."""
    with transaction.atomic():
        fresh = _locked(order)
        if fresh.state != S.FAILED:
            return fresh
        note = (f" — gave up after {tries} tries; use 'Place with provider' to try again.")
        if note not in fresh.failure_reason:
            fresh.failure_reason = (fresh.failure_reason or "Provider unavailable") + note
            fresh.save(update_fields=["failure_reason", "updated_at"])
        event_add(order=fresh, kind=OrderEvent.Kind.ERROR, message=fresh.failure_reason)
    return fresh
# --- REST API --------------------------------------------------------------------------------
def order_place_check(*, order: Order, actor: Actor = None) -> None:
    """Refuse now, before queueing a placement, what ``order_place`` would refuse anyway.

    Read-only: the claim itself (and every check again, under the row lock) happens in
    ``order_place`` when the task runs.
    """
    _require_permission(actor)
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    _placement_precheck(order)



# --- bench: enqueueing a big bulk run ---------------------------------------------------------
# Sending a Celery message costs ~0.9 ms of Python in the web request (1,000 orders: 0.9-1.5 s,
# bench/bench_bulk_place.py). A big run therefore sends ONE message; the worker then queues the
# per-order tasks (bulk_run_dispatch_task). Each per-order task stays idempotent: it does
# nothing unless its item is still queued, and the placement claims the order under a lock.
BULK_INLINE_ENQUEUE = 50


def bulk_run_enqueue(run_pk: int, item_pks: list[int]) -> None:
    from . import tasks

    if len(item_pks) <= BULK_INLINE_ENQUEUE:
        for pk in item_pks:
            tasks.bulk_run_item_task.delay(pk)
    else:
        tasks.bulk_run_dispatch_task.delay(run_pk)


def bulk_run_dispatch(*, run_pk: int) -> int:
    """Queue one task per still-queued item of the run (run by the worker)."""
    from . import tasks

    pks = list(BulkRunItem.objects.filter(run_id=run_pk, outcome=BulkRunItem.Outcome.QUEUED)
               .order_by("pk").values_list("pk", flat=True))
    task = tasks.bulk_run_item_task
    with task.app.producer_or_acquire() as producer:
        for pk in pks:
            task.apply_async((pk,), producer=producer)
    return len(pks)
