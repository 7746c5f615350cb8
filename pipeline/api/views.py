"""Pipeline API: supplier offers (CRUD) and a sales order's place in the pipeline (read, route)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.permissions import DjangoModelPermissions, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ApiError, ErrorSerializer
from api.idempotency import idempotent
from api.pagination import ApiPagination
from api.scoping import SafeLookupMixin, get_or_404, scoped
from orders.api.permissions import OrderWritePermission
from orders.models import Order

from .. import dispatch, services
from ..models import SalesRouting, SupplierLink, SupplierOffer
from . import serializers as s


class OfferPermissions(DjangoModelPermissions):
    perms_map = {**DjangoModelPermissions.perms_map, "GET": [], "HEAD": [], "OPTIONS": []}


class SupplierOfferViewSet(SafeLookupMixin, viewsets.ModelViewSet):
    queryset = SupplierOffer.objects.all()  # narrowed per caller in get_queryset
    serializer_class = s.SupplierOfferSerializer
    permission_classes = [IsAuthenticated, OfferPermissions]
    pagination_class = ApiPagination
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[SupplierOffer]:
        return scoped(SupplierOffer.objects.order_by("pk"), self.request, "supplier")

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().create(request, *args, **kwargs)


def _pipeline(order: Order) -> dict[str, Any]:
    routing = SalesRouting.objects.filter(order=order).first()
    links = SupplierLink.objects.filter(sales_item__order=order, active=True).select_related(
        "supplier_item__order").order_by("pk")
    return {
        "order": order.pk,
        "status": routing.status if routing else "not_routed",
        "reason": routing.reason if routing else "",
        "links": [{"sales_item": link.sales_item_id, "supplier_item": link.supplier_item_id,
                   "supplier_order": link.supplier_item.order_id,
                   "supplier_order_reference": link.supplier_item.order.reference,
                   "supplier_order_state": link.supplier_item.order.state, "offer": link.offer_id}
                  for link in links],
    }


class SalesPipelineViewSet(viewsets.ViewSet):
    """``/pipeline/orders/{order id}/``: where a sales order stands; ``…/route/`` routes it."""

    permission_classes = [OrderWritePermission]
    queryset = Order.objects.all()  # narrowed per caller in _order

    def _order(self, request: Request, pk: Any) -> Order:
        return get_or_404(scoped(Order.objects.select_related("merchant__account"), request, "merchant"), pk)  # type: ignore[return-value]

    @extend_schema(responses={200: s.SalesPipelineSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, pk: Any = None) -> Response:
        return Response(_pipeline(self._order(request, pk)))

    @extend_schema(request=s.RouteInputSerializer,
                   responses={200: s.RouteResultSerializer, 400: ErrorSerializer, 403: ErrorSerializer,
                              404: ErrorSerializer, 409: ErrorSerializer})
    @idempotent
    def route(self, request: Request, pk: Any = None) -> Response:
        order = self._order(request, pk)
        data = s.RouteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            result = services.sales_order_route(order=order, actor=request.user, **data.validated_data)
            if result.to_place:
                ids = result.to_place
                transaction.on_commit(lambda: dispatch.place_enqueue(ids, actor=request.user))
        if result.status == "not_routed":
            raise ApiError(409, "not_routed", result.reason)
        return Response({"status": result.status, "reason": result.reason,
                         "supplier_orders": result.supplier_orders, "placing": result.to_place},
                        status=status.HTTP_200_OK)
