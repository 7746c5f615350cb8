"""Bulk runs settle whatever path moves their orders (issue 21, finding 8).

A bulk "place" item is written by the worker that runs it; when that worker dies mid-call,
the order is later moved on by another path (the stale-placing sweep, a reconcile, the API,
a retry task) and the item used to stay "Queued" forever, its run "running". Here the item
follows its order instead: ``_transition`` in ``orders.services`` (the one place order states
change) calls ``bulk_items_follow`` whenever an order leaves ``placing`` or
``placement_unknown``, in the same transaction, so the item shows the outcome of whichever
path got there. An item whose outcome is not final yet (placement unknown, an automatic
retry pending) keeps following (``payload["follow"]``) until the order settles. An item
whose task was lost altogether is closed by ``bulk_items_settle_stale`` (the periodic sweep).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from orders.lifecycle import Lifecycle

from .models import BulkRunItem, Order

S = Lifecycle
Out = BulkRunItem.Outcome
FOLLOWED_FROM = (S.PLACING, S.PLACEMENT_UNKNOWN)


def _outcome(order: Order) -> tuple[str, str, bool]:
    """(outcome, message, still following) for a bulk place item of ``order`` now."""
    state = order.get_state_display()
    reason = f": {order.failure_reason}" if order.failure_reason else ""
    if order.state == S.PLACEMENT_UNKNOWN:
        return Out.FAILED, f"{state}{reason}", True
    if order.state == S.FAILED:
        return Out.FAILED, f"{state}{reason}", False
    if order.state == S.DRAFT:
        return Out.FAILED, "not placed: back to draft", False
    if order.state in (S.CANCELLED, S.EXPIRED):
        return Out.FAILED, f"now {state}", False
    return Out.DONE, f"now {state}", False


def bulk_items_follow(*, order: Order, before: str) -> int:
    """Settle the bulk place items of ``order`` after it left ``before`` (caller's
    transaction). Returns how many items changed."""
    if before not in FOLLOWED_FROM or order.state == S.PLACING:
        return 0
    items = [
        item for item in BulkRunItem.objects.filter(order_id=order.pk, run__action="place")
        if item.outcome == Out.QUEUED or (item.payload or {}).get("follow")
    ]
    outcome, message, follow = _outcome(order)
    for item in items:
        item.outcome = outcome
        item.message = message[:2000]
        item.finished_at = timezone.now()
        payload = {k: v for k, v in (item.payload or {}).items() if k != "follow"}
        item.payload = {**payload, "follow": True} if follow else payload
        item.save(update_fields=["outcome", "message", "finished_at", "payload"])
    return len(items)


def bulk_item_keep_following(item: BulkRunItem) -> None:
    """The item's outcome is not final (e.g. an automatic retry is pending): let the order's
    next move out of ``placing`` update it."""
    item.payload = {**(item.payload or {}), "follow": True}
    BulkRunItem.objects.filter(pk=item.pk).update(payload=item.payload)


# --- the sweep: an item whose worker never reported -------------------------------------------
STALE_AFTER = dt.timedelta(hours=6)  # far beyond a big run's queueing (bench: 1,000 in minutes)


def bulk_items_settle_stale(*, now: dt.datetime | None = None,
                            older_than: dt.timedelta = STALE_AFTER) -> int:
    """Items still queued long after their run started: their task was lost (a worker or the
    broker died). They are closed with what the order shows now, and are not run any more
    (their task, delivered late, finds them closed). A place item whose order is ``placing``
    is left to the stale-placing sweep (its move settles the item). Returns the count."""
    cutoff = (now or timezone.now()) - older_than
    items = (BulkRunItem.objects.filter(outcome=Out.QUEUED, run__created_at__lte=cutoff)
             .select_related("run", "order").order_by("pk"))
    hours = int(older_than.total_seconds() // 3600)
    count = 0
    for item in items:
        order, action = item.order, item.run.action
        if action == "place" and order.state == S.PLACING:
            continue
        if action == "place" and order.state not in (S.DRAFT, S.FAILED):
            outcome, message, _follow = _outcome(order)
        else:
            outcome = Out.FAILED
            message = (f"did not run within {hours} h (the worker stopped?); not run any more — "
                       f"the order is {order.get_state_display()}: run the action again if "
                       "still wanted")
        updated = BulkRunItem.objects.filter(pk=item.pk, outcome=Out.QUEUED).update(
            outcome=outcome, message=message[:2000], finished_at=timezone.now())
        count += updated
    return count
