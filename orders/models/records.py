"""What happened to orders: the timeline, provider-write claims, bulk runs, API idempotency keys."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from core.models import AppendOnlyModel

from .order import Order


class OrderEvent(AppendOnlyModel):
    """Append-only timeline: transitions, provider calls, syncs, notes."""

    class Kind(models.TextChoices):
        TRANSITION = "transition", "State change"
        PROVIDER_CALL = "provider_call", "Provider call"
        SYNC = "sync", "Sync"
        NOTE = "note", "Operator note"
        SHIPMENT = "shipment", "Shipment"
        ITEM = "item", "Item"
        ERROR = "error", "Error"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    message = models.TextField(blank=True)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    operation = models.CharField(max_length=64, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"


# --- provider writes: one in flight per order -----------------------------------------------
class ProviderWrite(models.Model):
    """The claim on an order taken before a provider write (a shipping push, an item status,
    a provider draft, an item add/remove, custom fields…), committed before the call.

    At most one claim per order is ``in_flight`` (a partial unique index): a concurrent
    request finds it and is answered from it, never sent. ``orders.claims`` takes and settles
    them."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "Being sent"
        DONE = "done", "Done"
        REFUSED = "refused", "Refused by the provider"
        UNKNOWN = "unknown", "Outcome unknown"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="provider_writes")
    operation = models.CharField(max_length=64)
    label = models.CharField(max_length=200, blank=True)
    key = models.CharField(max_length=255, blank=True, help_text="What was asked (the intent).")
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=models.Q(state="in_flight"),
                                    name="uniq_provider_write_in_flight"),
        ]

    def __str__(self) -> str:
        return f"{self.label or self.operation} ({self.get_state_display()})"


# --- admin bulk runs ---------------------------------------------------------------------------
class BulkRun(models.Model):
    """One admin bulk action over many orders; each order's outcome is a BulkRunItem row
    (written by the worker that ran it), so the changelist can show progress."""

    action = models.CharField(max_length=32)
    label = models.CharField(max_length=120, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.label or self.action} #{self.pk}"


class BulkRunItem(models.Model):
    class Outcome(models.TextChoices):
        QUEUED = "queued", "Queued"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(BulkRun, on_delete=models.CASCADE, related_name="items")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="bulk_run_items")
    outcome = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.QUEUED, db_index=True
    )
    message = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "order"], name="uniq_bulk_run_order")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.order_id}: {self.outcome}"


# --- REST API: idempotency keys ----------------------------------------------------------------
class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key`` header, replayed when the
    same client sends the same key again (with the same request). ``status_code`` is empty
    while the first request is still running."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_user_key")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"

