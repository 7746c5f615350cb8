"""The product's URLs plus the bare ceiling views the benchmarks compare against."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as product_urlpatterns


def ceiling_orders(request: HttpRequest) -> JsonResponse:
    """The least a JSON order list can do: one page of ``.values()`` rows, no auth, no
    serializer — the same rows, fields, page size and order as the API's list."""
    from orders.models import Order

    page = max(1, int(request.GET.get("page", "1") or 1))
    size = 100
    rows = list(
        Order.objects.order_by("-created_at", "-id")
        .values("id", "reference", "merchant_id", "merchant__account__provider", "state",
                "raw_status", "failure_reason", "external_id", "external_ids", "contact_name",
                "contact_email", "phone_prefix", "phone_number", "address_line1",
                "address_line2", "city", "region", "postal_code", "country", "currency",
                "items_total", "shipping_total", "total", "provider_options", "ordered_at",
                "placed_at", "synced_at", "expires_at", "created_at", "updated_at")
        [(page - 1) * size: page * size]
    )
    return JsonResponse({"count": None, "results": rows})


def _serializer_list_view():  # type: ignore[no-untyped-def]
    """The API's order list exactly as the product serves it (auth, filters, pagination),
    rendered by DRF's ``OrderSerializer`` instead of ``order_list_render``: the A/B of the
    hand-written renderer (issue 20: a fast path stays only where it pays ≥ 1.5×)."""
    from orders.api import serializers as s
    from orders.api.views import OrderViewSet

    class SerializerOrderList(OrderViewSet):
        def list(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
            queryset = self.filter_queryset(self.get_queryset()).select_related("merchant__account")
            page = self.paginate_queryset(queryset)
            data = s.OrderSerializer(page, many=True, context=self.get_serializer_context()).data
            return self.get_paginated_response(data)

    return SerializerOrderList.as_view({"get": "list"})


urlpatterns = [path("bench/ceiling/orders/", ceiling_orders),
               path("bench/serializer/orders/", _serializer_list_view()), *product_urlpatterns]
