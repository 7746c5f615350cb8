from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.errors import ApiError
from api.serializers import StrictSerializerMixin
from api.strict import NOT_BLANK, FlatObjectField, StrictDecimalField
from merchants.models import Merchant, ProviderAccount

from ..models import PlaceMode, RouteMode, SalesRouting, SupplierOffer

IDENTIFIERS = ("sales_product_id", "sales_sku")  # an offer names at least one


class SupplierOfferSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    supplier = serializers.PrimaryKeyRelatedField(queryset=Merchant.objects.all())
    sales_account = serializers.PrimaryKeyRelatedField(
        queryset=ProviderAccount.objects.all(), required=False, allow_null=True)
    expected_cost = StrictDecimalField(max_digits=12, decimal_places=2, min_value=0)
    supplier_variant = FlatObjectField(
        required=False, allow_null=True,
        help_text='Aliseeks SKU properties, e.g. {"sku": "14:29#red"}; null: none.')
    priority = serializers.IntegerField(min_value=1, max_value=32767, required=False)
    route_mode = serializers.ChoiceField(choices=["", *RouteMode.values], required=False)
    place_mode = serializers.ChoiceField(choices=["", *PlaceMode.values], required=False)

    class Meta:
        model = SupplierOffer
        fields = ["id", "sales_account", "sales_product_id", "sales_sku", "supplier", "supplier_product_id",
                  "supplier_sku", "supplier_variant", "expected_cost", "cost_currency", "priority",
                  "route_mode", "place_mode", "is_active", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list[Any] = []  # the unique choice is checked below with a field-named error

    @classmethod
    def openapi_refine(cls, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema of ``validate``: a new offer names a sales product id or SKU (not blank);
        a partial update does not blank both (blanking the one an offer has is a 409)."""
        if "supplier" not in schema.get("required", []):  # a partial update keeps what it has
            blank = {"type": "string", "not": {"pattern": NOT_BLANK}}
            schema["not"] = {"required": list(IDENTIFIERS),
                             "properties": dict.fromkeys(IDENTIFIERS, blank)}
            return schema
        schema["anyOf"] = [
            {"required": [name], "properties": {name: {"type": "string", "pattern": NOT_BLANK}}}
            for name in ("sales_product_id", "sales_sku")
        ]
        return schema

    def validate_supplier_variant(self, value: Any) -> Any:
        return {} if value is None else value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = {f: attrs.get(f, getattr(self.instance, f, None)) for f in
                  ("sales_product_id", "sales_sku", "supplier", "priority")}
        clash = SupplierOffer.objects.filter(
            sales_product_id=merged["sales_product_id"], sales_sku=merged["sales_sku"] or "",
            supplier=merged["supplier"], priority=merged["priority"] or 1)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if not (merged["sales_product_id"] or merged["sales_sku"]):
            message = "Give the sales product id, the sales SKU, or both."
            if self.instance is not None and not set(IDENTIFIERS) <= set(attrs):
                # blank only together with what the offer has: a conflict with stored data
                raise ApiError(409, "conflict", message, fields={"sales_product_id": [message]})
            raise serializers.ValidationError({"sales_product_id": [message]})
        if clash.exists():  # a conflict with what is stored, not a malformed body
            message = "This supplier already has an offer for this product and SKU at this priority."
            raise ApiError(409, "conflict", message, fields={"priority": [message]})
        return attrs


class LinkSerializer(serializers.Serializer):
    sales_item = serializers.IntegerField()
    supplier_item = serializers.IntegerField()
    supplier_order = serializers.IntegerField()
    supplier_order_reference = serializers.CharField()
    supplier_order_state = serializers.CharField()
    offer = serializers.IntegerField(allow_null=True)


class SalesPipelineSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    status = serializers.ChoiceField(choices=[*SalesRouting.Status.values, "not_routed"])
    reason = serializers.CharField(allow_blank=True)
    links = serializers.SerializerMethodField()

    @extend_schema_field(LinkSerializer(many=True))
    def get_links(self, obj: dict[str, Any]) -> Any:
        return obj["links"]


class RouteInputSerializer(StrictSerializerMixin, serializers.Serializer):
    approve = serializers.BooleanField(
        default=False, help_text="Accept a held (cost) or proposed routing and route it now.")


class RouteResultSerializer(serializers.Serializer):
    status = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    supplier_orders = serializers.ListField(child=serializers.IntegerField())
    placing = serializers.ListField(child=serializers.IntegerField())
