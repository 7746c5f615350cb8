"""Counts kept by the database itself, so a chart over many orders reads a few rows.

``OrderHourlyCount``: orders by the hour they were created in (hours since the Unix epoch: an
integer, so a month's rows are grouped by day with integer comparisons — 2.5× faster than on
SQLite's datetime text) and their state now. Database triggers on the order table (migration
``0011_order_hourly_count``) keep it: every insert, delete and change of ``state`` or
``created_at`` — whichever code path writes it (FSM transitions and ``save()``, the sync's
``bulk_create``/``bulk_update``, ``QuerySet.update``, raw SQL, cascades). Python never writes
it. On PostgreSQL the triggers are per statement (one grouped upsert in (hour, state) order);
writers of orders in the same hour and state wait for each other's commit on that row.
"""

from __future__ import annotations

import datetime as dt
import math

from django.db import models


class OrderHourlyCount(models.Model):
    hour = models.IntegerField()  # floor(created_at's Unix time / 3600)
    state = models.CharField(max_length=50)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "state"], name="order_hourly_hour_state"),
        ]

    def __str__(self) -> str:
        return f"{hour_start(self.hour):%Y-%m-%d %H:00} UTC {self.state}: {self.n}"


class OrderDailyCount(models.Model):
    """The same per UTC day: what the dashboard reads when every local day of its month is a
    UTC day (``TIME_ZONE`` UTC, the default) — 24× fewer rows than the hours."""

    day = models.IntegerField()  # floor(created_at's Unix time / 86400)
    state = models.CharField(max_length=50)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "state"], name="order_daily_day_state"),
        ]

    def __str__(self) -> str:
        return f"{hour_start(self.day * 24):%Y-%m-%d} UTC {self.state}: {self.n}"


def hour_of(moment: dt.datetime) -> int:
    """The hour ``moment`` is in (as the triggers count it)."""
    return math.floor(moment.timestamp()) // 3600


def hour_start(hour: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(hour * 3600, tz=dt.UTC)
