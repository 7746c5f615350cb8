from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db.models import Exists, OuterRef, QuerySet

from api.filters import IdFilter
from api.query import DateTimeFilter
from orders.lifecycle import Lifecycle
from orders.models import Order, Shipment
from providers.registry import PROVIDER_CHOICES

# query parameters that are never a filter: pages, page size, ordering, format


class OrderFilter(filters.FilterSet):
    provider = filters.ChoiceFilter(field_name="merchant__account__provider",
                                    choices=PROVIDER_CHOICES)
    merchant = IdFilter(field_name="merchant_id")
    state = filters.MultipleChoiceFilter(choices=Lifecycle.CHOICES,
                                         help_text="Repeat for several states.")
    reference = filters.CharFilter()
    external_id = filters.CharFilter(method="filter_external_id",
                                     help_text="The provider's order id (any of them).")
    tracking_number = filters.CharFilter(method="filter_tracking_number")
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = DateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = DateTimeFilter(field_name="updated_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_external_id(self, queryset: QuerySet[Order], name: str, value: Any) -> Any:
        return queryset.filter(external_id=value)

    def filter_tracking_number(self, queryset: QuerySet[Order], name: str, value: Any) -> Any:
        # Exists, not a join: no duplicate rows, no DISTINCT.
        return queryset.filter(
            Exists(Shipment.objects.filter(order=OuterRef("pk"), tracking_number=value))
        )


class ShipmentFilter(filters.FilterSet):
    order = IdFilter(field_name="order_id")
    merchant = IdFilter(field_name="order__merchant_id")
    provider = filters.ChoiceFilter(field_name="order__merchant__account__provider",
                                    choices=PROVIDER_CHOICES)
    state = filters.ChoiceFilter(choices=Shipment.State.choices)
    tracking_number = filters.CharFilter()
    carrier = filters.CharFilter()
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Shipment
        fields: list[str] = []
