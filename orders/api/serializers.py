"""Orders API serializers: they parse and render; every write goes through orders.services."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from api.serializers import (
    BoundedPrimaryKeyRelatedField,
    OutputModelSerializer,
    StrictSerializerMixin,
)
from api.strict import (
    NOT_BLANK,
    FlatObjectField,
    StrictURLField,
)
from merchants.models import Merchant
from orders.models import Order, OrderEvent, OrderItem, Shipment, ShipmentLine

MAX_QUANTITY = 100_000
MAX_ITEMS = 500


class OrderItemSerializer(OutputModelSerializer):
    shortfall = serializers.IntegerField(read_only=True)
    line_total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True,
                                          allow_null=True)

    class Meta:
        model = OrderItem
        fields = ["id", "external_id", "product_id", "sku", "name", "variant", "quantity",
                  "confirmed_quantity", "shortfall", "unit_price", "total_price", "tax_amount",
                  "merchant_price", "line_total", "state", "raw_status", "next_statuses",
                  "created_at", "updated_at"]
        read_only_fields = fields


class ShipmentLineSerializer(OutputModelSerializer):
    item = serializers.IntegerField(source="item_id", read_only=True)

    class Meta:
        model = ShipmentLine
        fields = ["item", "quantity"]
        read_only_fields = fields


class ShipmentSerializer(OutputModelSerializer):
    order = serializers.IntegerField(source="order_id", read_only=True)
    lines = ShipmentLineSerializer(many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = ["id", "order", "external_id", "carrier", "service", "tracking_number",
                  "tracking_url", "comment", "notify_customer", "state", "lines", "pushed_at",
                  "shipped_at", "delivered_at", "created_at", "updated_at"]
        read_only_fields = fields


class OrderEventSerializer(OutputModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = OrderEvent
        fields = ["id", "kind", "message", "from_state", "to_state", "operation", "http_status",
                  "duration_ms", "outcome", "actor", "created_at"]
        read_only_fields = fields

    def get_actor(self, event: OrderEvent) -> str | None:
        return event.actor.get_username() if event.actor_id and event.actor else None


class OrderSerializer(OutputModelSerializer):
    """An order in lists: no items, shipments or timeline."""

    merchant = serializers.IntegerField(source="merchant_id", read_only=True)
    provider = serializers.CharField(source="merchant.account.provider", read_only=True)
    raw_status_label = serializers.CharField(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "url", "reference", "merchant", "provider", "state", "raw_status",
                  "raw_status_label", "failure_reason", "external_id", "external_ids",
                  "contact_name", "contact_email", "phone_prefix", "phone_number",
                  "address_line1", "address_line2", "city", "region", "postal_code", "country",
                  "currency", "items_total", "shipping_total", "total", "provider_options",
                  "ordered_at", "placed_at", "synced_at", "expires_at", "created_at",
                  "updated_at"]
        read_only_fields = fields

        @classmethod
        def fields_from_db(cls) -> list[str]:
            """Columns a list needs: the model fields shown, and what derived ones read."""
            computed = {"url", "merchant", "provider", "raw_status_label"}
            # merchant's auth_state: its FSM (optimistic lock) reads it when a row is built
            return [*(f for f in cls.fields if f not in computed), "merchant_id",
                    "merchant__auth_state", "merchant__account__provider"]

    def get_url(self, order: Order) -> str:
        # reverse() once per list, not once per row (the list is 100 rows)
        template = getattr(self, "_url_template", None)
        if template is None:
            template = self._url_template = reverse(
                "api:order-detail", kwargs={"pk": 987654321}).replace("987654321", "{}")
        return template.format(order.pk)


class OrderDetailSerializer(OrderSerializer):
    items = OrderItemSerializer(many=True, read_only=True)
    shipments = ShipmentSerializer(many=True, read_only=True)
    timeline = OrderEventSerializer(source="events", many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "items", "shipments", "timeline"]
        read_only_fields = fields


# --- input -------------------------------------------------------------------------------------
class OrderItemInputSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)
    variant = FlatObjectField(required=False, help_text="Variant properties.")

    class Meta:
        model = OrderItem
        fields = ["product_id", "sku", "name", "variant", "quantity", "unit_price",
                  "merchant_price"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if not (attrs.get("sku") or attrs.get("product_id")):
            raise serializers.ValidationError({"sku": ["Give a sku or a product_id."]})
        return attrs

    openapi_body_required = True

    @classmethod
    def openapi_refine(cls, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema of ``validate``: a sku or a product_id (not blank)."""
        schema["anyOf"] = [
            {"required": [name], "properties": {name: {"type": "string", "pattern": NOT_BLANK}}}
            for name in ("sku", "product_id")
        ]
        return schema


ADDRESS_HELP = "Shipping address field."


class OrderWriteSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """Order fields an integration sets (all optional on a partial update)."""

    provider_options = FlatObjectField(
        required=False, help_text="Per-order choices the provider needs (carrier id, …)."
    )

    class Meta:
        model = Order
        fields = ["contact_name", "contact_email", "phone_prefix", "phone_number",
                  "address_line1", "address_line2", "city", "region", "postal_code", "country",
                  "currency", "shipping_total", "provider_options"]
        extra_kwargs = {"shipping_total": {"min_value": 0}}


class OrderCreateSerializer(OrderWriteSerializer):
    merchant = BoundedPrimaryKeyRelatedField(queryset=Merchant.objects.none())
    reference = serializers.CharField(required=False, max_length=64,
                                      help_text="Our reference; generated when omitted.")
    items = OrderItemInputSerializer(many=True, required=False, max_length=MAX_ITEMS)  # type: ignore[call-arg]

    class Meta(OrderWriteSerializer.Meta):
        fields = ["merchant", "reference", *OrderWriteSerializer.Meta.fields, "items"]

    def __init__(self, *args: Any, merchants: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if merchants is not None:
            self.fields["merchant"].queryset = merchants  # type: ignore[attr-defined]

    def validate_reference(self, value: str) -> str:
        if Order.objects.filter(reference=value).exists():
            raise serializers.ValidationError("An order with this reference exists.",
                                              code="unique")
        return value


# --- transitions ---------------------------------------------------------------------------------
class EmptyPayloadSerializer(StrictSerializerMixin, serializers.Serializer):
    """No payload."""


class CancelPayloadSerializer(StrictSerializerMixin, serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ReconcilePayloadSerializer(StrictSerializerMixin, serializers.Serializer):
    placed = serializers.BooleanField(
        help_text="true: it was placed at the provider (give external_id); false: it was not."
    )
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=120,
                                        help_text="The provider's order id (when placed).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("placed") and not attrs.get("external_id", "").strip():
            raise serializers.ValidationError({"external_id": ["Give the provider's order id."]})
        return attrs

    openapi_body_required = True

    @classmethod
    def openapi_refine(cls, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema of ``validate``: placed=true needs a (non-blank) external_id."""
        import copy

        not_placed, placed = copy.deepcopy(schema), copy.deepcopy(schema)
        # (inside allOf: drf-spectacular's enum hook would merge the two into one component)
        not_placed["properties"]["placed"] = {"allOf": [{"type": "boolean", "enum": [False]}]}
        placed["properties"]["placed"] = {"allOf": [{"type": "boolean", "enum": [True]}]}
        placed["properties"]["external_id"] = {
            **schema["properties"]["external_id"], "pattern": NOT_BLANK}
        placed["required"] = ["placed", "external_id"]
        return {"oneOf": [not_placed, placed]}


class ShipLineInputSerializer(StrictSerializerMixin, serializers.Serializer):
    item = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="Item id.")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class ShipPayloadSerializer(StrictSerializerMixin, serializers.Serializer):
    carrier = serializers.CharField(required=False, allow_blank=True, max_length=120,
                                    help_text="Leave empty for 'other' carrier.")
    service = serializers.CharField(required=False, allow_blank=True, max_length=120)
    tracking_number = serializers.CharField(max_length=120)
    tracking_url = StrictURLField(required=False, allow_blank=True, max_length=500)
    notify_customer = serializers.BooleanField(required=False, default=True)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500)
    items = ShipLineInputSerializer(  # type: ignore[call-arg]
        many=True, required=False, max_length=MAX_ITEMS,
        help_text="Items and quantities in this shipment (an item named twice: the sum); "
        "omitted: everything not yet shipped.",
    )

    def validate_items(self, value: list[dict[str, int]]) -> list[dict[str, int]]:
        # An item named twice ships the sum of its quantities (JSON Schema cannot say "each
        # item at most once", so the API does not refuse it).
        merged: dict[int, int] = {}
        for line in value:
            merged[line["item"]] = merged.get(line["item"], 0) + line["quantity"]
        return [{"item": item, "quantity": quantity} for item, quantity in merged.items()]

    def to_service_kwargs(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        lines = data.pop("items", None)
        if lines:
            data["items"] = {line["item"]: line["quantity"] for line in lines}
        return data


TRANSITION_PAYLOADS: dict[str, type[serializers.Serializer]] = {
    "place": EmptyPayloadSerializer,
    "reconcile": ReconcilePayloadSerializer,
    "reopen": EmptyPayloadSerializer,
    "hold": EmptyPayloadSerializer,
    "release": EmptyPayloadSerializer,
    "ship": ShipPayloadSerializer,
    "complete": EmptyPayloadSerializer,
    "cancel": CancelPayloadSerializer,
    "accept_shortfall": EmptyPayloadSerializer,
}
LONG_RUNNING = {"place"}
# Queued for the worker (202) when they call the order's provider, done at once (200) when not
# (``services.order_transition_calls_provider``).
QUEUED_WHEN_PROVIDER = {"hold", "release", "ship", "cancel", "accept_shortfall"}


def payload_json_schema(serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    """A small JSON Schema of a transition payload, for the transitions listing."""
    serializer = serializer_class()
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, field in serializer.fields.items():
        props[name] = _field_schema(field)
        if field.required:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "properties": props,
                              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _field_schema(field: serializers.Field) -> dict[str, Any]:
    if isinstance(field, serializers.ListSerializer):
        child = field.child
        out: dict[str, Any] = {"type": "array", "items": payload_json_schema(type(child))}  # type: ignore[arg-type]
    elif isinstance(field, serializers.BooleanField):
        out = {"type": "boolean"}
    elif isinstance(field, serializers.IntegerField):
        out = {"type": "integer"}
        if field.min_value is not None:
            out["minimum"] = field.min_value
        if field.max_value is not None:
            out["maximum"] = field.max_value
    elif isinstance(field, serializers.CharField):
        out = {"type": "string"}
        if isinstance(field, serializers.URLField):
            out["format"] = "uri"
        if field.max_length is not None:
            out["maxLength"] = field.max_length
    else:
        out = {}
    if field.help_text:
        out["description"] = str(field.help_text)
    if field.default is not serializers.empty:
        out["default"] = field.default
    return out


class TransitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    long_running = serializers.BooleanField(
        help_text="true: answers 202 and runs in the background; poll the order."
    )
    url = serializers.CharField(help_text="POST here to run it.")
    payload = serializers.SerializerMethodField(help_text="JSON Schema of the request body.")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_payload(self, obj: dict[str, Any]) -> dict[str, Any]:
        return payload_json_schema(TRANSITION_PAYLOADS[obj["name"]])


class TransitionResultSerializer(serializers.Serializer):
    transition = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["done", "accepted"],
        help_text="done: applied; accepted: queued, poll `location` for the outcome.",
    )
    location = serializers.CharField(help_text="Where to look for the order's state.")
    order = OrderDetailSerializer()
    shipment = ShipmentSerializer(allow_null=True, required=False)


class SyncResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted"])
    location = serializers.CharField()
    order = OrderSerializer()



class ItemStatusInputSerializer(StrictSerializerMixin, serializers.Serializer):
    transition = serializers.ChoiceField(
        choices=["acknowledge", "hold", "ship", "cancel", "mark_returned"],
        help_text="Move these items (one provider request); each must allow it now.",
    )
    items = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), min_length=1,
        max_length=MAX_ITEMS, help_text="Item ids of this order.",
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500)


class NoteInputSerializer(StrictSerializerMixin, serializers.Serializer):
    text = serializers.CharField(max_length=4000)


# --- the list, rendered from .values() -----------------------------------------------------------
_COMPUTED = ("url", "merchant", "provider", "raw_status_label")
_PLAIN = (serializers.CharField, serializers.ChoiceField, serializers.IntegerField,
          serializers.JSONField, serializers.ReadOnlyField, serializers.BooleanField)


def order_list_values(queryset: Any) -> Any:
    """The columns ``OrderSerializer`` shows, as ``.values()`` rows (what a list page reads).

    No join: the page's COUNT(*) stays a plain count; providers come in one small query per
    page (``order_list_render``)."""
    columns = [name for name in OrderSerializer.Meta.fields if name not in _COMPUTED]
    return queryset.values(*columns, "merchant_id")


def _iso_datetime(value: Any, zone: Any) -> str:
    """DRF's ISO 8601 rendering of an aware datetime (in the current zone, ``Z`` for UTC),
    without its per-call settings lookups; the zone is looked up once per page."""
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _decimal(field: serializers.DecimalField) -> Any:
    """DRF's decimal rendering; values already at the field's scale (what the database
    returns) skip its quantize, which changes nothing for them."""
    slow = field.to_representation
    as_text = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    if (not as_text or field.localize or field.normalize_output or field.decimal_places is None
            or field.max_digits is None):
        return slow
    exponent, digits = -field.decimal_places, field.max_digits

    def render(value: Any) -> Any:
        if type(value) is Decimal:
            _sign, coefficient, exp = value.as_tuple()
            if exp == exponent and len(coefficient) <= digits:
                return f"{value:f}"
        return slow(value)

    return render


def _converter(field: Any) -> Any:
    if isinstance(field, _PLAIN):
        return None
    if (isinstance(field, serializers.DateTimeField) and settings.USE_TZ
            and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601):
        return _iso_datetime
    if isinstance(field, serializers.DecimalField):
        return _decimal(field)
    return field.to_representation


@functools.cache
def _list_fields() -> tuple[list[str], list[str], list[tuple[str, Any]]]:
    """The serializer's field names in order; the stored ones copied as they are; the stored
    ones converted, with their converter (the computed ones are filled per row)."""
    fields = OrderSerializer().fields
    names = [str(name) for name in fields]
    convert = {str(name): _converter(field) for name, field in fields.items()
               if name not in _COMPUTED}
    copied = [name for name, fn in convert.items() if fn is None]
    converted = [(name, fn) for name, fn in convert.items() if fn is not None]
    return names, copied, converted


def order_list_render(rows: Any) -> list[dict[str, Any]]:
    """A page of ``order_list_values`` rows exactly as ``OrderSerializer`` renders orders.

    Lists are the API's hot path (100 rows × 33 fields): building model instances and running
    every DRF field costs several times the query itself. The rows are plain values; DRF's own
    ``to_representation`` runs only for fields that change a value (decimals, dates).
    ``tests/api/test_orders.py`` checks the output equals the serializer's.
    """
    from orders.models import status_table_for

    rows = list(rows)
    names, copied, converters = _list_fields()
    zone = timezone.get_current_timezone()
    converted = [(name, functools.partial(_iso_datetime, zone=zone) if fn is _iso_datetime else fn)
                 for name, fn in converters]
    providers = dict(
        Merchant.objects.filter(pk__in={row["merchant_id"] for row in rows})
        .values_list("pk", "account__provider")
    )
    template = reverse("api:order-detail", kwargs={"pk": 987654321}).replace("987654321", "{}")
    tables = {provider: status_table_for(provider) for provider in {*providers.values(), ""}}
    out = []
    for row in rows:
        provider = providers.get(row["merchant_id"], "")
        values: dict[str, Any] = {name: row[name] for name in copied}
        for name, to_repr in converted:
            value = row[name]
            values[name] = None if value is None else to_repr(value)
        values["url"] = template.format(row["id"])
        values["merchant"] = row["merchant_id"]
        values["provider"] = provider
        values["raw_status_label"] = tables[provider].order_label(row["raw_status"])
        item = {name: values[name] for name in names}  # the serializer's key order
        out.append(item)
    return out
