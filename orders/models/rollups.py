"""Counts kept by the database itself, so a chart over many orders reads a few rows.

``OrderHourlyCount``: orders by the UTC hour they were created in and their state now. Database
triggers on the order table (migration ``0011_order_hourly_count``) keep it: every insert,
delete and change of ``state`` or ``created_at`` — whichever code path writes it (FSM
transitions and ``save()``, the sync's ``bulk_create``/``bulk_update``, ``QuerySet.update``,
raw SQL, cascades). Python never writes it.
"""

from __future__ import annotations

from django.db import models


class OrderHourlyCount(models.Model):
    hour = models.DateTimeField()  # the start of a UTC hour
    state = models.CharField(max_length=50)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "state"], name="order_hourly_hour_state"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.state}: {self.n}"
