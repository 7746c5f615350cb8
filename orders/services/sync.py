"""Read orders back from the provider: one order, or the incoming sync of an account."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from merchants.models import ProviderAccount
from merchants.provider_requests import provider_service
from orders.lifecycle import Lifecycle
from orders.provider_requests import order_request, order_service_recorded
from providers.errors import (
    ProviderError,
    ProviderNotSupported,
)
from providers.types import OrderSnapshot

from .. import snapshots
from ..errors import OrderActionRefused
from ..models import (
    Order,
    OrderEvent,
)
from ..readahead import read_ahead
from ..timeline import Actor, actor_or_none, event_add
from .common import lock_order

logger = logging.getLogger(__name__)
S = Lifecycle


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
    service = order_service_recorded(order)
    try:
        snapshot = service.fetch_order(order_request(order))
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
    fresh = lock_order(order)
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
    service = provider_service(account)
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


