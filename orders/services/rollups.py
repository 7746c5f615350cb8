"""The dashboard's orders per day (``OrderDailyCount``), recounted by the worker.

``order_daily_counts_refresh`` recounts the last ``ROLLUP_DAYS`` local days (one more than the
chart shows, so a chart read just after midnight still finds its first day) in ONE grouped
query over the orders — created in the window, by local day (``TruncDate`` in the current
zone) × state now — then replaces those days' rows and the refresh row in one short
transaction. The order writers never touch the counts (no trigger, no shared row); the chart
is at most one beat interval old and says when it was counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from ..models import Order, OrderDailyCount, OrderDailyCountRefresh

ROLLUP_DAYS = 31


@dataclass(frozen=True)
class DailyCounts:
    refreshed_at: dt.datetime
    first_day: dt.date
    time_zone: str
    counts: dict[tuple[dt.date, str], int]  # (local day, state) → orders; zeros left out
    written: bool  # False when a newer refresh had committed first (nothing replaced)


def order_daily_counts_refresh(*, now: dt.datetime | None = None) -> DailyCounts:
    """Recount orders per local day and state for the last ``ROLLUP_DAYS`` days and store them.

    Idempotent: the window's rows are replaced, never added to. Concurrent refreshes serialize
    on the refresh row; one that counted before a refresh already committed writes nothing."""
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    first = timezone.localdate(now) - dt.timedelta(days=ROLLUP_DAYS - 1)
    since = timezone.make_aware(dt.datetime.combine(first, dt.time.min), zone)
    rows = (Order.objects.filter(created_at__gte=since).order_by()
            .annotate(day=TruncDate("created_at", tzinfo=zone))
            .values_list("day", "state").annotate(n=Count("id")))
    counts = {(day, state): int(n) for day, state, n in rows}
    result = DailyCounts(now, first, timezone.get_current_timezone_name(), counts, written=True)
    with transaction.atomic():
        OrderDailyCountRefresh.objects.get_or_create(pk=1, defaults={
            "refreshed_at": now, "first_day": first, "time_zone": result.time_zone})
        stamp = OrderDailyCountRefresh.objects.select_for_update().get(pk=1)
        if stamp.refreshed_at > now:
            return DailyCounts(now, first, result.time_zone, counts, written=False)
        OrderDailyCount.objects.filter(day__gte=first).delete()
        OrderDailyCount.objects.bulk_create(
            [OrderDailyCount(day=day, state=state, n=n) for (day, state), n in counts.items()])
        stamp.refreshed_at, stamp.first_day, stamp.time_zone = now, first, result.time_zone
        stamp.save(update_fields=["refreshed_at", "first_day", "time_zone"])
    return result
