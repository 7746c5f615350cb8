"""Outbound webhooks: subscriptions, the outbox of events, deliveries and their attempts.

An event row (and one delivery row per matching subscription) is written in the transaction
that made the change, so a rolled-back change sends nothing and a worker that is down loses
nothing: the deliveries wait in the table until a worker sends them.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from merchants.fields import EncryptedJSONField
from merchants.models import Integration, Merchant


class EventType(models.TextChoices):
    ORDER_CREATED = "order.created", "Order created"
    ORDER_STATE_CHANGED = "order.state_changed", "Order state changed"
    ORDER_PLACEMENT_FAILED = "order.placement_failed", "Placement failed"
    ORDER_PLACEMENT_UNKNOWN = "order.placement_unknown", "Placement outcome unknown"
    ITEM_STATUS_CHANGED = "item.status_changed", "Item status changed"
    SHIPMENT_CREATED = "shipment.created", "Shipment created"
    SHIPMENT_UPDATED = "shipment.updated", "Shipment updated"
    MERCHANT_AUTHORIZATION_CHANGED = "merchant.authorization_changed", "Merchant authorization changed"
    TEST = "webhook.test", "Test event"


SUBSCRIBABLE = [value for value in EventType.values if value != EventType.TEST]


class WebhookSubscription(models.Model):
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField("target URL", max_length=500)
    event_types = models.JSONField(
        default=list, blank=True, help_text="Event types to send. Empty: every event type."
    )
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    secret = EncryptedJSONField(blank=True, editable=False)
    failing_since = models.DateTimeField(
        null=True, blank=True,
        help_text="Set when a delivery was given up; cleared by the next successful delivery.",
    )
    last_failure = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.integration} → {self.url}"

    @property
    def signing_secret(self) -> str:
        return str((self.secret or {}).get("key", ""))

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookEvent(models.Model):
    """The outbox: one row per event, with a stable id receivers de-duplicate on."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices, db_index=True)
    merchant = models.ForeignKey(
        Merchant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_type = models.CharField(max_length=20, blank=True)  # order | item | shipment | merchant
    object_id = models.BigIntegerField(null=True, blank=True)
    order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True)  # from / to / reason, frozen at the event
    payload = models.JSONField(
        null=True, blank=True,
        help_text="The body sent, rendered once at the first delivery and sent unchanged after.",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "subscription"], name="webhook_delivery_once"),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event.type} → {self.subscription.url} ({self.state})"


class WebhookAttempt(models.Model):
    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        RETRY = "retry", "Will retry"
        FAILED = "failed", "Failed"

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.http_status or self.error}"
