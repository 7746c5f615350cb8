"""Placement: claim the order under a row lock, call the provider once, apply the outcome;
reconcile an unknown outcome by the provider's lookup; what the worker notes on retries."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from merchants.provider_requests import provider_service
from orders.lifecycle import Lifecycle
from orders.provider_requests import order_request, order_service_recorded
from providers import registry
from providers.errors import (
    ProviderBadReply,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
    ProviderValidationError,
)
from providers.types import PlacementResult

from .. import claims, labels
from ..errors import OrderActionRefused, OrderValidationError
from ..models import (
    Order,
    OrderEvent,
    OrderItem,
)
from ..timeline import Actor, CallRecorder, event_add
from .common import lock_order, order_transitions_available, require_permission, transition_apply
from .provider_drafts import provider_draft_prepare

logger = logging.getLogger(__name__)
S = Lifecycle


# --- placement -------------------------------------------------------------------------------
def placement_precheck(order: Order, *, recorder: Any = None) -> Any:
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
    service = provider_service(merchant.account, recorder=recorder)
    if not service.places_orders or not service.supports("place_order"):
        raise OrderActionRefused(
            f"{service.label} orders are not placed from dropdesk.", code="not_supported"
        )
    if not order.items.exists():
        raise OrderValidationError("The order has no items.", fields={"items": "Add at least one item."})
    problems = service.validate_for_placement(order_request(order))
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
    provider_draft_prepare(order, actor=actor)  # provider-side drafts: build it there first
    with transaction.atomic():
        # the items once, read under the lock: the checks and the provider call use them
        order = lock_order(order, items=True)
        service = placement_precheck(order, recorder=CallRecorder(order))
        claims.refuse_if_busy(order)  # another provider write on this order is in flight
        transition_apply(order, "place", actor=actor)

    try:
        result = service.place_order(order_request(order))
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
    return order  # the caller (orders/tasks.py) queues execution polling where it is due


def _placement_finish(order: Order, name: str, *, reason: str, actor: Actor,
                      confirmed: Mapping[int, int] | None = None) -> None:
    with transaction.atomic():
        fresh = lock_order(order)
        transition_apply(fresh, name, actor=actor, reason=reason,
                    message=f"{labels.action_label(name)}: {reason}")
        if confirmed:  # e.g. a reservation shortfall: requested vs held, for the operator
            _apply_confirmed_quantities(fresh, confirmed, actor=actor)
    order.refresh_from_db()


def _placement_apply(order: Order, result: PlacementResult, *, actor: Actor) -> None:
    with transaction.atomic():
        fresh = lock_order(order)
        fresh.external_ids = [str(i) for i in result.external_ids]
        fresh.external_id = fresh.external_ids[0] if fresh.external_ids else ""
        fresh.raw_status = str(result.raw_status or "")
        if result.raw:
            fresh.raw_data = {**fresh.raw_data, "placement": result.raw}
        if result.expires_at:
            fresh.expires_at = result.expires_at
        transition_apply(fresh, "placement_succeeded", actor=actor,
                    message=f"Placed: provider id(s) {', '.join(fresh.external_ids) or '—'}"
                    + (f". {result.message}" if result.message else ""))
        if result.state and result.state not in (S.PLACED, fresh.state):
            transition_apply(fresh, "sync_state", target=result.state, actor=actor)
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
        order = lock_order(order)
        if placed and not external_id.strip():
            raise OrderValidationError(
                "Give the provider's order id when the order was placed.",
                fields={"external_id": "Required when the order was placed."},
            )
        transition_apply(order, "reconcile", actor=actor, check_perm=True, placed=placed,
                    external_id=external_id.strip(),
                    message=("Reconciled: placed as " + external_id.strip()) if placed
                    else "Reconciled: not placed; back to draft")
    return order


def order_reconcile_from_provider(*, order: Order, actor: Actor = None) -> Order:
    """Settle a ``placement_unknown`` order by looking it up at the provider, where it can.

    Found: placed (with its id). Not found: back to draft (nothing was created there).
    Raises ProviderNotSupported when the provider has no lookup (the operator decides).
    """
    service = order_service_recorded(order)
    result = service.reconcile_placement(order_request(order))
    with transaction.atomic():
        fresh = lock_order(order)
        if fresh.state != S.PLACEMENT_UNKNOWN:
            return fresh
        if result is None:
            transition_apply(fresh, "reconcile", actor=actor, placed=False,
                        message="Reconciled by lookup: the provider has no such order; back to draft")
        else:
            ids = [str(i) for i in result.external_ids]
            transition_apply(fresh, "reconcile", actor=actor, placed=True,
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



# --- stale placements, lookups, automatic retries -------------------------------------------
def order_stale_placing_sweep(
    *, now: dt.datetime | None = None, older_than: dt.timedelta | None = None
) -> list[int]:
    """Orders stuck in ``placing`` (a worker died mid-call) → ``placement_unknown``.

    The request may have reached the provider, so it is never re-sent: the order waits for a
    reconcile (automatic where the provider has a lookup). Returns the pks moved.
    """

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
            transition_apply(order, "placement_outcome_unknown", reason=reason,
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
        fresh = lock_order(order)
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
    require_permission(actor)
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    placement_precheck(order)


