"""The product's URLs plus the bare ceiling views the benchmarks compare against."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as product_urlpatterns


def ceiling_orders(request: HttpRequest) -> JsonResponse:
    """The least a JSON order list can do: one page of ``.values()`` rows, no auth, no
    serializer (same page size and order as the API)."""
    from orders.models import Order

    page = max(1, int(request.GET.get("page", "1") or 1))
    size = 100
    rows = list(
        Order.objects.order_by("-created_at", "-id")
        .values("id", "reference", "state", "raw_status", "external_id", "contact_name",
                "contact_email", "country", "currency", "total", "created_at", "placed_at",
                "merchant_id")[(page - 1) * size: page * size]
    )
    return JsonResponse({"count": None, "results": rows})


urlpatterns = [path("bench/ceiling/orders/", ceiling_orders), *product_urlpatterns]
