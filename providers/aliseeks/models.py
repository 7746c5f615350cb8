"""State of the Aliseeks *sandbox* (a fake provider server; see sandbox.py). Not our domain."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class SandboxMerchant(models.Model):
    merchant_id = models.CharField(max_length=64, unique=True)
    authorized = models.BooleanField(default=False)
    # the pending one-time authorization: where to send the merchant back, and its token
    redirect_url = models.URLField(max_length=2000, blank=True)
    authorize_token = models.CharField(max_length=64, blank=True, db_index=True)
    authorize_used = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.merchant_id


class SandboxOrder(models.Model):
    order_id = models.CharField(max_length=32, unique=True)
    merchant_id = models.CharField(max_length=64, db_index=True)
    request = models.JSONField(default=dict)
    items = models.JSONField(default=list)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # steps moved by the control button, on top of those that elapse with time
    manual_steps = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.order_id
