from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import StrictSerializerMixin
from api.strict import StrictURLField
from orders.api.serializers import OrderDetailSerializer

from ..models import SUBSCRIBABLE, WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription


class SubscriptionSerializer(serializers.ModelSerializer):
    integration = serializers.IntegerField(source="integration_id", read_only=True)

    class Meta:
        model = WebhookSubscription
        fields = ["id", "integration", "url", "event_types", "description", "is_active",
                  "failing_since", "last_failure", "created_at", "updated_at"]
        read_only_fields = fields


class SubscriptionCreatedSerializer(SubscriptionSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret, shown only this once.")

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class SubscriptionInputSerializer(StrictSerializerMixin, serializers.Serializer):
    url = StrictURLField(max_length=500, help_text="https:// URL of the receiver.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE), required=False, default=list,
        help_text="Event types to send; empty: all.",
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    is_active = serializers.BooleanField(required=False, default=True)


class SubscriptionUpdateSerializer(SubscriptionInputSerializer):
    url = StrictURLField(max_length=500, required=False)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE), required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["started_at", "http_status", "duration_ms", "outcome", "error", "response_excerpt"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    subscription = serializers.IntegerField(source="subscription_id", read_only=True)
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "subscription", "state", "attempts", "next_attempt_at", "last_status",
                  "last_error", "delivered_at", "attempt_log"]
        read_only_fields = fields


class WebhookBodySerializer(serializers.Serializer):
    """What a receiver gets (documentation of the POST body, see README)."""

    id = serializers.UUIDField(help_text="Stable event id: de-duplicate on it.")
    type = serializers.ChoiceField(choices=[*SUBSCRIBABLE, "webhook.test"])
    created = serializers.DateTimeField()
    version = serializers.CharField()
    data = serializers.DictField(help_text=(  # type: ignore[assignment]
        "`object` (the API representation of the order, item, shipment or merchant, e.g. "
        "OrderDetail without its timeline), `object_type`, and for changes `from`, `to`, "
        "`action`, `reason`."))


class EventSerializer(serializers.ModelSerializer):
    deliveries = serializers.SerializerMethodField()
    payload = serializers.SerializerMethodField(help_text="The body sent (null until the first attempt).")

    class Meta:
        model = WebhookEvent
        fields = ["id", "type", "created_at", "order_id", "payload", "deliveries"]
        read_only_fields = fields

    @extend_schema_field(WebhookBodySerializer(allow_null=True))
    def get_payload(self, event: WebhookEvent) -> Any:
        return event.payload

    @extend_schema_field(DeliverySerializer(many=True))
    def get_deliveries(self, event: WebhookEvent) -> Any:
        visible = self.context.get("subscriptions")
        rows = [d for d in event.deliveries.all() if visible is None or d.subscription_id in visible]
        return DeliverySerializer(rows, many=True).data


class RedeliveredSerializer(serializers.Serializer):
    queued = serializers.IntegerField()


class WebhookOrderSerializer(OrderDetailSerializer):
    class Meta(OrderDetailSerializer.Meta):
        fields = [f for f in OrderDetailSerializer.Meta.fields if f != "timeline"]
        read_only_fields = fields
