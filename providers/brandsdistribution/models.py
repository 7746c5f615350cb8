"""State of the Brandsdistribution sandbox (a fake provider server for the demo and tests).

Kept in the database so the web server and the worker see the same stock, locks and orders.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from merchants.models import ProviderAccount


class SandboxStock(models.Model):
    stock_id = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=120)
    available = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["stock_id"]
        verbose_name = "sandbox stock model"

    def __str__(self) -> str:
        return f"{self.stock_id} {self.name} ({self.available} available)"


class SandboxLock(models.Model):
    """Quantities reserved ("locked") by one API key."""

    api_key = models.CharField(max_length=120)
    stock_id = models.PositiveIntegerField()
    locked = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["api_key", "stock_id"]
        constraints = [
            models.UniqueConstraint(fields=["api_key", "stock_id"], name="bd_sandbox_lock_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.api_key}: {self.locked} x {self.stock_id}"


class SandboxOrder(models.Model):
    api_key = models.CharField(max_length=120, db_index=True)
    ext_ref = models.CharField(max_length=120, db_index=True)
    status = models.PositiveIntegerField(default=5)
    carrier_id = models.CharField(max_length=20, blank=True)
    carrier_name = models.CharField(max_length=120, blank=True)
    tracking_code = models.CharField(max_length=120, blank=True)
    tracking_url = models.CharField(max_length=500, blank=True)
    wire_format = models.CharField(max_length=8, default="json")
    document = models.JSONField(default=dict)
    models_taken = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    last_update = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = "sandbox order"

    def __str__(self) -> str:
        return f"{self.order_id} ({self.ext_ref}) status {self.status}"

    @property
    def order_id(self) -> int:
        return 1000 + self.pk


class AccountReservation(ProviderAccount):
    """A Brandsdistribution account seen through its reservation (admin only: leftovers)."""

    class Meta:
        proxy = True
        verbose_name = "Brandsdistribution reservation"
        verbose_name_plural = "Brandsdistribution reservations"
