"""State of the Tipser sandbox (a fake Tipser server for the demo and tests).

Kept in the database so the web server (which serves ``/sandbox/tipser/``) and the worker
(which calls it) see the same orders. Orders are stored as their wire documents.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


def item_statuses_text(data: object) -> str:
    """",0,3," — the item status codes of an order document, for the list's ``states`` filter."""
    items = data.get("items", []) if isinstance(data, dict) else []
    codes = sorted({str(i.get("status", 0)) for i in items if isinstance(i, dict)})
    return f",{','.join(codes)}," if codes else ""


class ItemStatusesField(models.CharField):
    """Derived from the row's ``data`` whenever it is written (``save`` and ``bulk_create``
    call ``pre_save``): the sandbox filters ``states`` in SQL, as an indexed provider would,
    instead of reading every order document since ``from``."""

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = item_statuses_text(getattr(model_instance, "data", None))
        setattr(model_instance, self.attname, value)
        return value


class SandboxMerchant(models.Model):
    """A merchant at the fake Tipser: its apiKey is what the sandbox accepts."""

    api_key = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "Tipser sandbox merchant"

    def __str__(self) -> str:
        return self.name or f"merchant {self.pk}"


class SandboxOrder(models.Model):
    merchant = models.ForeignKey(SandboxMerchant, on_delete=models.CASCADE, related_name="orders")
    order_id = models.CharField(max_length=64, unique=True)
    order_date = models.DateTimeField(db_index=True)
    # The order as Tipser sends it, minus the computed ``nextStatuses`` of its items.
    data = models.JSONField(default=dict)
    item_statuses = ItemStatusesField(max_length=255, default="", editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order_date", "id"]
        verbose_name = "Tipser sandbox order"
        # the order list pages by (merchant, order date): no scan of other merchants' documents
        indexes = [models.Index(fields=["merchant", "order_date", "id"], name="tipser_sbx_merchant_date")]

    def __str__(self) -> str:
        return str(self.data.get("orderNumber") or self.order_id)


class SandboxShipping(models.Model):
    """What ``POST /v3/merchants/orders/:id/shipping`` received."""

    order = models.ForeignKey(SandboxOrder, on_delete=models.CASCADE, related_name="shippings")
    body = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = "Tipser sandbox shipping"

    def __str__(self) -> str:
        return f"shipping {self.body.get('trackingNumber', '')} of {self.order_id}"
