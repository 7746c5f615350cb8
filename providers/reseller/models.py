"""State of the reseller sandbox (a fake BSS server, ``providers/reseller/sandbox.py``).

In the database so the web server and the worker agree. Nothing here is used against the
real provider.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone


class SandboxClock(models.Model):
    """The sandbox's notion of "now" = real now + ``offset`` (tests and demos move it)."""

    offset = models.DurationField(default=dt.timedelta)

    class Meta:
        verbose_name = "reseller sandbox clock"

    def __str__(self) -> str:
        return f"sandbox clock {self.offset}"

    @classmethod
    def now(cls) -> dt.datetime:
        clock = cls.objects.filter(pk=1).first()
        return timezone.now() + (clock.offset if clock else dt.timedelta())

    @classmethod
    def advance(cls, delta: dt.timedelta) -> None:
        clock, _ = cls.objects.get_or_create(pk=1)
        clock.offset += delta
        clock.save(update_fields=["offset"])

    @classmethod
    def reset(cls) -> None:
        cls.objects.filter(pk=1).delete()


class SandboxToken(models.Model):
    token = models.CharField(max_length=64, unique=True)
    username = models.CharField(max_length=120)
    edition = models.CharField(max_length=16, default="standard")
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "reseller sandbox token"

    def __str__(self) -> str:
        return f"token of {self.username}"


class SandboxOrder(models.Model):
    account_id = models.CharField(max_length=64)
    reference = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=64, default="Draft")
    order_date = models.DateTimeField()
    expiration_date = models.DateTimeField(null=True, blank=True)
    execution_polls = models.PositiveIntegerField(default=0)
    custom_fields = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "reseller sandbox order"

    def __str__(self) -> str:
        return f"sandbox order {self.pk} ({self.status})"


class SandboxItem(models.Model):
    order = models.ForeignKey(SandboxOrder, on_delete=models.CASCADE, related_name="items")
    product_id = models.CharField(max_length=120)
    sku = models.CharField(max_length=120, blank=True)
    description = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    characteristics = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "reseller sandbox item"

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"
