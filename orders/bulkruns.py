"""Bulk runs settle whatever path moves their orders (issue 21, finding 8).

A bulk "place" item is written by the worker that runs it; when that worker dies mid-call,
the order is later moved on by another path (the stale-placing sweep, a reconcile, the API,
a retry task) and the item used to stay "Queued" forever, its run "running". Here the item
follows its order instead: ``_transition`` in ``orders.services`` (the one place order states
change) calls ``bulk_items_follow`` whenever an order leaves ``placing`` or
``placement_unknown``, in the same transaction, so the item shows the outcome of whichever
path got there. An item whose outcome is not final yet (placement unknown, an automatic
retry pending) keeps following (``payload["follow"]``) until the order settles.
"""

from __future__ import annotations

from django.utils import timezone

from providers.statuses import Lifecycle

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
