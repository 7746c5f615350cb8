from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils import timezone

from providers import registry
from providers.statuses import Lifecycle

from .models import Order, OrderEvent, OrderItem, Shipment

NEEDS_ACTION = (Lifecycle.FAILED, Lifecycle.PLACEMENT_UNKNOWN)


def order_list(*, merchant_id: int | None = None, provider: str | None = None) -> QuerySet[Order]:
    qs = Order.objects.select_related("merchant__account")
    if merchant_id:
        qs = qs.filter(merchant_id=merchant_id)
    if provider:
        qs = qs.filter(merchant__account__provider=provider)
    return qs


def order_list_needing_action(*, merchant_id: int | None = None) -> QuerySet[Order]:
    return order_list(merchant_id=merchant_id).filter(state__in=NEEDS_ACTION)


def order_ids_matching_exactly(*, term: str) -> list[int]:
    """Orders whose reference, provider order id or a shipment's tracking number *is* ``term``
    (references and tracking numbers also in upper case) — one query, through their indexes.
    Nothing for an empty term or one with spaces (a name, not an id)."""
    term = term.strip()
    if not term or len(term) > 120 or any(c.isspace() for c in term):
        return []
    variants = sorted({term, term.upper()})
    ids = (
        Order.objects.filter(reference__in=variants).order_by().values_list("pk", flat=True)
        .union(Order.objects.filter(external_id=term).order_by().values_list("pk", flat=True),
               Shipment.objects.filter(tracking_number__in=variants).order_by()
               .values_list("order_id", flat=True))
    )
    return sorted(ids)


def order_detail(*, pk: int) -> Order:
    return (
        Order.objects.select_related("merchant__account")
        .prefetch_related(
            "items",
            "shipments__lines",
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor")),
        )
        .get(pk=pk)
    )


# --- admin quick filters (tabs) ----------------------------------------------------------------
# Each tab is a Q over Order, so the same definition filters the list and feeds the counts
# (one aggregate query with a conditional Count per tab).
def _awaiting_payment_q() -> Q:
    q = Q(pk__isnull=True)  # matches nothing when no provider flags such a status
    every: set[str] = set()
    for key, cls in sorted(registry.all_services().items()):
        codes = cls.statuses.awaiting_payment_codes()
        if codes:
            q |= Q(merchant__account__provider=key, raw_status__in=codes)
            every.update(codes)
    # ``raw_status IN (every code)`` is implied by the rest; it lets the database seek on the
    # (state, raw_status) index instead of joining every open order to its provider
    return Q(state__in=(Lifecycle.PLACED, Lifecycle.IN_PROGRESS), raw_status__in=sorted(every)) & q


def _short_quantity_q() -> Q:
    short = OrderItem.objects.filter(
        confirmed_quantity__isnull=False, confirmed_quantity__lt=F("quantity")
    ).values("order_id")
    return Q(pk__in=short)


def unshipped_after_days() -> int:
    return int(getattr(settings, "ORDERS_UNSHIPPED_AFTER_DAYS", 3))


def order_tabs(*, now: dt.datetime | None = None) -> dict[str, tuple[str, Q]]:
    """tab key -> (label, condition)."""
    now = now or timezone.now()
    days = unshipped_after_days()
    return {
        "needs_action": ("Needs action", Q(state__in=NEEDS_ACTION)),
        "awaiting_payment": ("Awaiting payment", _awaiting_payment_q()),
        "short_quantity": ("Short quantity", _short_quantity_q()),
        "expiring_drafts": (
            "Expiring drafts",
            Q(state=Lifecycle.DRAFT, expires_at__isnull=False,
              expires_at__lte=now + dt.timedelta(days=2)),
        ),
        "unshipped": (
            f"Unshipped > {days} days",
            Q(state__in=(Lifecycle.PLACED, Lifecycle.IN_PROGRESS),
              placed_at__lt=now - dt.timedelta(days=days)),
        ),
    }


# Tab counts stop here: above it the tab says "1,000+". Counting every open order exactly
# made the list's cost grow with the open orders (145 ms of a 245 ms page at 100k orders,
# 42k of them open — bench/RESULTS.md); a capped count costs at most TAB_COUNT_CAP rows a tab.
TAB_COUNT_CAP = 1000


def order_tab_counts(
    queryset: QuerySet[Order], *, now: dt.datetime | None = None, cap: int | None = None
) -> dict[str, int]:
    """Counts of every tab over ``queryset``.

    Exact (``cap=None``): three queries — a plain COUNT for "All", one aggregate over the
    open states the state tabs look at (index on state), and the short-quantity count.
    Capped (``cap=n``, the admin list): one query; each tab counts at most ``n + 1`` rows
    (a LIMITed subquery), so a value above ``n`` means "more than n". "All" stays exact.
    """
    tabs = order_tabs(now=now)
    queryset = queryset.order_by()
    if cap is not None:
        from django.db import connections

        parts: list[str] = []
        params: list[Any] = []
        for key, (_label, cond) in tabs.items():
            base = queryset if key == "short_quantity" else queryset.filter(state__in=TAB_STATES)
            sql, sub_params = base.filter(cond).values("pk")[: cap + 1].query.sql_with_params()
            # Django's compiled SQL with its parameters kept apart; ``key`` is our own constant
            parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS t_{key})")  # noqa: S608
            params.extend(sub_params)
        with connections[queryset.db].cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            row = cursor.fetchone()
        counts = dict(zip(tabs, (int(v) for v in row), strict=True))
        counts["all"] = queryset.count()
        return counts
    _label, short = tabs.pop("short_quantity")
    aggregates = {key: Count("pk", filter=cond) for key, (_label, cond) in tabs.items()}
    counts = queryset.filter(state__in=TAB_STATES).aggregate(**aggregates)
    counts["short_quantity"] = queryset.filter(short).count()
    counts["all"] = queryset.count()
    return counts


def tab_count_label(count: int, cap: int | None = None) -> int | str:
    """The count, or "1,000+" above the cap."""
    cap = TAB_COUNT_CAP if cap is None else cap
    return f"{cap:,}+" if count > cap else count


# Every tab except "Short quantity" only ever matches orders in one of these states.
TAB_STATES = (*NEEDS_ACTION, Lifecycle.PLACED, Lifecycle.IN_PROGRESS, Lifecycle.DRAFT)
