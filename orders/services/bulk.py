"""Admin bulk runs: record a run (skips with their reason), execute one of its orders."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_fsm import can_proceed

from orders.lifecycle import Lifecycle
from providers import registry
from providers.errors import (
    ProviderError,
    ProviderUnavailable,
)

from .. import bulkruns
from ..errors import OrderActionRefused, OrderValidationError
from ..models import (
    BulkRun,
    BulkRunItem,
    Order,
)
from ..timeline import Actor, actor_or_none
from .common import require_permission
from .fulfilment import order_cancel, order_items_set_status, order_ship
from .placement import order_place, order_reconcile_from_provider
from .sync import order_sync

logger = logging.getLogger(__name__)
S = Lifecycle


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


class BulkPlaceRetry(Exception):
    """A bulk placement met an unavailable provider: the item is recorded; the worker hands
    the order to the placement task's retries (``orders.tasks``)."""

    def __init__(self, item: BulkRunItem, cause: ProviderUnavailable) -> None:
        super().__init__(str(cause))
        self.item = item
        self.cause = cause


def bulk_run_create(
    *,
    action: str,
    orders: Iterable[Order],
    actor: Actor = None,
    per_order: Mapping[int, Mapping[str, Any]] | None = None,
) -> BulkRun:
    """Check every order and record the run: the ones that cannot run now as skipped (with
    why), the others queued. ``orders.dispatch.bulk_run_start`` sends their tasks."""

    if action not in BULK_ACTIONS:
        raise OrderActionRefused(f"Unknown bulk action '{action}'.", code="unknown")
    require_permission(actor)
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
        if run.action == "place":  # the placement task's bounded backoff takes over
            bulkruns.bulk_item_keep_following(item)  # the retry's outcome updates it
            raise BulkPlaceRetry(_bulk_finish(
                item, Out.FAILED, f"provider unavailable: {exc}; retrying automatically"),
                exc) from exc
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
