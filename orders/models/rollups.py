"""Counts the worker keeps, so the dashboard's chart reads a few rows however many orders there
are: orders per local day of creation (``settings.TIME_ZONE``) and state now.

``OrderDailyCount`` is written only by ``services.order_daily_counts_refresh`` (the beat runs it
every minute: ``orders.schedules.SWEEPS``), which recounts the last 31 local days from the
orders in one grouped query and replaces those days' rows in one short transaction — no
trigger, nothing on the order writers' path. ``OrderDailyCountRefresh`` (one row) says when,
from which day and in which zone; until it exists the dashboard runs the refresh once itself.
Rows of days before the window stay as they were last counted (nothing reads them).
"""

from __future__ import annotations

from django.db import models


class OrderDailyCount(models.Model):
    day = models.DateField()  # local day of created_at (settings.TIME_ZONE at the refresh)
    state = models.CharField(max_length=50)
    n = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "state"], name="order_daily_day_state"),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.state}: {self.n}"


class OrderDailyCountRefresh(models.Model):
    """The last refresh of ``OrderDailyCount`` (one row, pk 1)."""

    refreshed_at = models.DateTimeField()
    first_day = models.DateField()  # the first day it recounted (to the refresh's today)
    time_zone = models.CharField(max_length=64)  # the zone its days are in

    def __str__(self) -> str:
        return f"orders per day counted at {self.refreshed_at:%Y-%m-%d %H:%M} ({self.time_zone})"
