from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from merchants.models import Merchant, ProviderAccount
from orders.api.serializers import StrictSerializerMixin

from ..models import PlaceMode, RouteMode, SalesRouting, SupplierOffer


class SupplierOfferSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    supplier = serializers.PrimaryKeyRelatedField(queryset=Merchant.objects.all())
    sales_account = serializers.PrimaryKeyRelatedField(
        queryset=ProviderAccount.objects.all(), required=False, allow_null=True)
    expected_cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    cost_currency = serializers.RegexField(r"^[A-Z]{3}$", max_length=3, required=False,
                                           help_text="ISO 4217 code, e.g. EUR.")
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

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = {f: attrs.get(f, getattr(self.instance, f, None)) for f in
                  ("sales_product_id", "sales_sku", "supplier", "priority")}
        clash = SupplierOffer.objects.filter(
            sales_product_id=merged["sales_product_id"], sales_sku=merged["sales_sku"] or "",
            supplier=merged["supplier"], priority=merged["priority"] or 1)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if not (merged["sales_product_id"] or merged["sales_sku"]):
            raise serializers.ValidationError(
                {"sales_product_id": ["Give the sales product id, the sales SKU, or both."]})
        if clash.exists():
            raise serializers.ValidationError({"priority": ["This supplier already has an offer for this "
                                                            "product and SKU at this priority."]})
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
