"""The body of a webhook: the same representation the API returns for the object, plus the
event's id, type, time and version."""

from __future__ import annotations

from typing import Any

from merchants.api.serializers import MerchantSerializer
from merchants.models import Merchant
from orders.api.serializers import OrderItemSerializer, ShipmentSerializer
from orders.models import Order, OrderItem, Shipment

from .api.serializers import WebhookOrderSerializer
from .models import WebhookEvent

RENDERERS: dict[str, tuple[Any, Any]] = {
    "order": (Order.objects.select_related("merchant__account").prefetch_related("items", "shipments__lines"),
              WebhookOrderSerializer),
    "item": (OrderItem.objects.all(), OrderItemSerializer),
    "shipment": (Shipment.objects.prefetch_related("lines"), ShipmentSerializer),
    "merchant": (Merchant.objects.select_related("account"), MerchantSerializer),
}


def object_representation(object_type: str, object_id: int | None) -> dict[str, Any] | None:
    queryset, serializer = RENDERERS.get(object_type, (None, None))
    if queryset is None or object_id is None:
        return None
    obj = queryset.filter(pk=object_id).first()
    return None if obj is None else dict(serializer(obj).data)


def event_payload(event: WebhookEvent, *, version: str) -> dict[str, Any]:
    data: dict[str, Any] = dict(event.data)
    if event.object_type:
        data["object"] = object_representation(event.object_type, event.object_id)
        data["object_type"] = event.object_type
    return {
        "id": str(event.pk),
        "type": event.type,
        "created": event.created_at.isoformat(),
        "version": version,
        "data": data,
    }
