"""Reads behind the admin home (the dashboard): a fixed number of aggregate queries, whatever
the number of orders.

* the work waiting, per provider and in total — the tabs' own conditions
  (``selectors.order_tabs``), so each number is the length of the list its link opens;
* orders created per day for 30 days, split by their state now (counts the worker keeps,
  as of their last refresh);
* failed provider calls per provider over the same days;
* each account's sync health (last successful sync, lag against its interval, last error).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from merchants.models import ProviderAccount
from orders.lifecycle import Lifecycle
from providers import registry

from . import labels, selectors, services
from .models import OrderDailyCount, OrderDailyCountRefresh, OrderEvent

DASHBOARD_TABS = ("needs_action", "to_acknowledge", "to_ship", "awaiting_payment", "short_quantity",
                  "failed", "placement_unknown", "expiring_drafts")
# The tabs an operator must clear (shown red when not zero).
HOT_TABS = frozenset({"needs_action", "failed", "placement_unknown", "short_quantity"})
DAYS = 30


@dataclass
class ProviderRow:
    key: str
    label: str
    counts: dict[str, int | str]  # a number, or "100+" above the cap


@dataclass
class DayBar:
    day: dt.date
    total: int
    segments: list[tuple[str, str, int, float]] = field(default_factory=list)  # state, label, n, %


@dataclass
class SyncHealth:
    account: ProviderAccount
    provider: str
    last_success: dt.datetime | None
    lag: dt.timedelta | None
    interval_minutes: int
    late: bool
    last_error: str
    last_error_at: str


def work_counts(*, now: dt.datetime) -> tuple[list[ProviderRow], dict[str, int | str]]:
    """Per provider (every installed one, zeros included) and in total, each counted up to
    ``selectors.DASHBOARD_COUNT_CAP`` ("100+" above; the cap rule is the list's tabs':
    ``selectors.counts_up_to``/``count_label``): one query, reading at most cap + 1 rows per
    number, whose cost does not grow with the orders. A total is above the cap when its parts
    add up to more."""
    cap = selectors.DASHBOARD_COUNT_CAP
    by_provider = selectors.order_tab_counts_by_provider(now=now, tabs=DASHBOARD_TABS, cap=cap)
    rows = []
    total = dict.fromkeys(DASHBOARD_TABS, 0)
    for key, cls in sorted(registry.all_services().items(), key=lambda kv: kv[1].label):
        found = by_provider.get(key, {})
        counts = {tab: int(found.get(tab, 0)) for tab in DASHBOARD_TABS}
        for tab, n in counts.items():
            total[tab] += n
        rows.append(ProviderRow(key, cls.label, {t: selectors.count_label(n, cap)
                                                 for t, n in counts.items()}))
    return rows, {tab: selectors.count_label(n, cap) for tab, n in total.items()}


def orders_per_day(*, now: dt.datetime, days: int = DAYS) -> tuple[list[DayBar], dt.datetime]:
    """Orders created on each of the last ``days`` local days, by their state now, and when they
    were counted. Two queries (the refresh row, then days × states rows of ``OrderDailyCount``),
    however many orders there are: the worker recounts them every minute
    (``services.order_daily_counts_refresh``). Never counted yet, or counted in another zone
    than ``TIME_ZONE``: the same refresh runs here once (a fresh install shows a chart before
    the beat's first tick). The same numbers as counting the orders at the time it says
    (tests/admin/test_dashboard_days.py)."""
    today = timezone.localdate(now)
    first = today - dt.timedelta(days=days - 1)
    stamp = OrderDailyCountRefresh.objects.filter(pk=1).first()
    if stamp is None or stamp.time_zone != timezone.get_current_timezone_name():
        fresh = services.order_daily_counts_refresh(now=now)
        rows: Iterable[tuple[dt.date, str, int]] = [
            (day, state, n) for (day, state), n in fresh.counts.items() if first <= day <= today]
        return _bars(first, days, rows), fresh.refreshed_at
    rows = (OrderDailyCount.objects.filter(day__gte=first, day__lte=today).order_by()
            .values_list("day", "state", "n"))
    return _bars(first, days, rows), stamp.refreshed_at


def _bars(first: dt.date, days: int, rows: Iterable[tuple[dt.date, str, int]]) -> list[DayBar]:
    """(local day, state, n) rows → one bar a day, ``first`` and the ``days - 1`` after it."""
    per_day: dict[dt.date, dict[str, int]] = {}
    for day, state, n in rows:
        if n:
            per_day.setdefault(day, {})[state] = int(n)
    peak = max((sum(v.values()) for v in per_day.values()), default=0) or 1
    bars = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        states = per_day.get(day, {})
        bar = DayBar(day, sum(states.values()))
        for state in Lifecycle.ALL:
            if states.get(state):
                bar.segments.append((state, labels.state_label(state), states[state],
                                     round(100 * states[state] / peak, 2)))
        bars.append(bar)
    return bars


def failures_per_provider(*, now: dt.datetime, days: int = DAYS) -> list[tuple[str, int, float]]:
    """(provider, failed provider calls, % of the largest) over the last ``days``. One query."""
    since = now - dt.timedelta(days=days)
    rows = dict(
        OrderEvent.objects.filter(kind=OrderEvent.Kind.PROVIDER_CALL, created_at__gte=since)
        .exclude(outcome="ok").order_by()
        .values_list("order__merchant__account__provider").annotate(n=Count("id"))
    )
    result = [(cls.label, int(rows.get(key, 0))) for key, cls in
              sorted(registry.all_services().items(), key=lambda kv: kv[1].label)]
    peak = max((n for _l, n in result), default=0) or 1
    return [(label, n, round(100 * n / peak, 2)) for label, n in result]


def sync_health(*, now: dt.datetime) -> list[SyncHealth]:
    """Accounts whose provider sends us orders (periodic sync). One query."""
    syncing = [key for key, cls in registry.all_services().items() if cls.supports("iter_incoming")]
    accounts = ProviderAccount.objects.filter(provider__in=syncing, is_active=True).order_by(
        "provider", "name")
    result = []
    for account in accounts:
        sync = account.state.get("sync", {}) or {}
        error = account.state.get("sync_error", {}) or {}
        last = _parse(sync.get("last_run"))
        interval = int(account.options.get("sync_interval_minutes")
                       or settings.ACCOUNT_SYNC_INTERVAL_MINUTES)
        lag = now - last if last else None
        late = lag is None or lag > dt.timedelta(minutes=2 * interval)
        result.append(SyncHealth(account, account.provider_label, last, lag, interval, late,
                                 str(error.get("message", "")), str(error.get("at", ""))))
    return result


def _parse(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def dashboard(*, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    tabs = selectors.order_tabs(now=now)
    rows, total = work_counts(now=now)
    days, days_as_of = orders_per_day(now=now)
    return {
        "tabs": [(key, tabs[key][0]) for key in DASHBOARD_TABS],
        "hot": HOT_TABS,
        "rows": rows,
        "total": total,
        "days": days,
        "days_as_of": days_as_of,
        "day_states": [(s, labels.state_label(s)) for s in Lifecycle.ALL],
        "failures": failures_per_provider(now=now),
        "sync": sync_health(now=now),
        "since_days": DAYS,
    }

