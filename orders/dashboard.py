"""Reads behind the admin home (the dashboard): a fixed number of aggregate queries, whatever
the number of orders.

* the work waiting, per provider and in total — the tabs' own conditions
  (``selectors.order_tabs``), so each number is the length of the list its link opens;
* orders created per day for 30 days, split by their state now (a rollup the database keeps);
* failed provider calls per provider over the same days;
* each account's sync health (last successful sync, lag against its interval, last error).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, F, IntegerField, Sum, Value, When
from django.utils import timezone

from merchants.models import ProviderAccount
from orders.lifecycle import Lifecycle
from providers import registry

from . import labels, selectors
from .models import Order, OrderDailyCount, OrderEvent, OrderHourlyCount
from .models.rollups import hour_of, hour_start

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


def orders_per_day(*, now: dt.datetime, days: int = DAYS) -> list[DayBar]:
    """Orders created on each of the last ``days`` local days, by their state now. One query.

    Read from ``OrderDailyCount`` when every local day is a UTC day (one row per day and
    state), else from ``OrderHourlyCount`` (at most 24 rows per day and state) — both kept by
    triggers on the order table, however many orders there are (counting the orders read
    every order of the month: 43k of 100k in bench/bench_dashboard.py). Where a local
    midnight is not on a UTC hour (a zone at +05:30)
    the orders of that hour's two sides are counted from the order table (the (state,
    created_at) index; at most an hour of orders). The same numbers as counting the orders
    (tests/admin/test_dashboard_days.py)."""
    today = timezone.localdate(now)
    first = today - dt.timedelta(days=days - 1)
    bounds = [timezone.make_aware(dt.datetime.combine(first + dt.timedelta(days=k), dt.time.min))
              for k in range(days + 1)]
    if all(hour_of(b) % 24 == 0 and hour_start(hour_of(b)) == b for b in bounds):
        # every local day a UTC day (TIME_ZONE UTC): the daily counts, days × states rows
        day0 = hour_of(bounds[0]) // 24
        rows: Iterable[tuple[int, str, int]] = (
            OrderDailyCount.objects.filter(day__gte=day0, day__lt=day0 + days).order_by()
            .annotate(k=F("day") - day0).values_list("k", "state", "n"))
        return _bars(first, days, rows)
    # else one GROUP BY (day, state) over the window's hourly counts, the day a CASE on the hour
    # (PostgreSQL: 104 → 31 ms at 100k orders, against one GROUP BY per day in a UNION ALL;
    # the hour an integer: SQLite compares it 2.5× faster than datetime text)
    whens, edges = [], []
    for k in range(days):
        start, end = bounds[k], bounds[k + 1]
        inner_start, inner_end = _hour_ceil(start), hour_of(end)
        whens.append(When(hour__lt=inner_end, then=Value(k)))
        if inner_end < _hour_ceil(end):  # the hour across midnight: counted from the orders
            whens.append(When(hour__lt=_hour_ceil(end), then=Value(-1)))
        edges += [(k, lo, hi) for lo, hi in ((start, hour_start(inner_start)),
                                             (hour_start(inner_end), end)) if lo < hi]
    parts = [OrderHourlyCount.objects.filter(hour__gte=_hour_ceil(bounds[0]),
                                             hour__lt=hour_of(bounds[-1]))
             .order_by().annotate(day=Case(*whens, output_field=IntegerField()))
             .values("day", "state").annotate(total=Sum("n")).values_list("day", "state", "total")]
    parts += [Order.objects.filter(created_at__gte=lo, created_at__lt=hi).order_by()
              .values("state").annotate(total=Count("id"), day=Value(k))
              .values_list("day", "state", "total") for k, lo, hi in edges]
    return _bars(first, days, parts[0].union(*parts[1:], all=True) if edges else parts[0])


def _bars(first: dt.date, days: int, rows: Iterable[tuple[int, str, int]]) -> list[DayBar]:
    """(day index, state, n) rows (a day may come in parts; index -1: none) → the bars."""
    per_day: dict[dt.date, dict[str, int]] = {}
    for k, state, n in rows:
        if n and k >= 0:
            states = per_day.setdefault(first + dt.timedelta(days=k), {})
            states[state] = states.get(state, 0) + int(n)
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


def _hour_ceil(moment: dt.datetime) -> int:
    """The first hour that starts at or after ``moment``."""
    hour = hour_of(moment)
    return hour if hour_start(hour) == moment else hour + 1


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
    return {
        "tabs": [(key, tabs[key][0]) for key in DASHBOARD_TABS],
        "hot": HOT_TABS,
        "rows": rows,
        "total": total,
        "days": orders_per_day(now=now),
        "day_states": [(s, labels.state_label(s)) for s in Lifecycle.ALL],
        "failures": failures_per_provider(now=now),
        "sync": sync_health(now=now),
        "since_days": DAYS,
    }

