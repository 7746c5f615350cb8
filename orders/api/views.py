"""Orders API: thin views over orders.services (parse, call the verb, render)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ApiError, ErrorSerializer, provider_failure
from api.filters import FilterBackend
from api.idempotency import idempotent
from api.pagination import ApiPagination
from api.scoping import SafeLookupMixin, get_or_404, scoped
from merchants.models import Merchant
from orders import dispatch, selectors, services, versions
from orders.errors import OrderActionRefused
from orders.models import Order, OrderEvent, OrderItem, Shipment
from providers.errors import ProviderError

from . import provider_serializers as ps
from . import serializers as s
from .filters import OrderFilter, ShipmentFilter
from .limits import order_totals_check
from .permissions import OrderWritePermission
from .provider_views import OrderProviderRoutesMixin


def _order_location(order: Order) -> str:
    return reverse("api:order-detail", kwargs={"pk": order.pk})


def _etag(order: Order) -> dict[str, str]:
    """The order's version (``orders.versions``): send it back as ``If-Match`` on PATCH."""
    return {"ETag": f'"{versions.order_version(order)}"'}


def _detail_queryset() -> QuerySet[Order]:
    return Order.objects.select_related("merchant__account").prefetch_related(
        "items",
        Prefetch("shipments", queryset=Shipment.objects.prefetch_related("lines")),
        Prefetch("events", queryset=OrderEvent.objects.select_related("actor")),
    )


def _transition_action(name: str) -> Any:
    payload = s.TRANSITION_PAYLOADS[name]
    long_running = name in s.LONG_RUNNING
    queued = name in s.QUEUED_WHEN_PROVIDER
    responses: dict[Any, Any] = {
        (202 if long_running else 200): s.TransitionResultSerializer,
    }
    if queued:  # done at once (200) when this order's provider has no such call, else 202
        responses[202] = s.TransitionResultSerializer

    def run(self: OrderViewSet, request: Request, pk: Any = None) -> Response:
        return self._run_transition(request, name)

    run.__name__ = f"transition_{name}"
    run.__doc__ = (
        f"Run the order's '{name}' transition. Not allowed now: 409 `not_allowed` with the "
        "transitions that are (`allowed`)."
        + (" Runs in the background: answers 202 with where to look." if long_running else "")
        + (" Queued for the worker (202, the outcome shows on the order's timeline) when it "
           "calls the order's provider; done at once (200) when it does not." if queued else "")
    )
    view = idempotent(run)
    view = action(detail=True, methods=["post"], url_path=f"transitions/{name}",
                  url_name=f"transition-{name}")(view)
    return extend_schema(
        summary=f"Order transition: {name}", request=payload, responses=responses,
        tags=["orders"],
    )(view)


@extend_schema(tags=["orders"])
class OrderViewSet(SafeLookupMixin, OrderProviderRoutesMixin, viewsets.GenericViewSet):
    """Orders (scoped tokens see only their merchants' orders)."""

    lookup_value_regex = "[^/]+"
    permission_classes = [OrderWritePermission]
    pagination_class = ApiPagination
    filter_backends = [FilterBackend, OrderingFilter]
    filterset_class = OrderFilter
    ordering_fields = ["created_at", "updated_at", "reference", "state", "total", "id"]
    ordering = ["-created_at", "-id"]
    serializer_class = s.OrderSerializer
    queryset = Order.objects.none()

    def get_queryset(self) -> QuerySet[Order]:
        if self.action == "list":  # only the columns the list shows (no raw data, no secrets)
            qs = selectors.order_list().only(*s.OrderSerializer.Meta.fields_from_db())
        else:
            qs = _detail_queryset()
        return scoped(qs, self.request, "merchant_id")

    def _merchants(self) -> QuerySet[Merchant]:
        return scoped(Merchant.objects.select_related("account"), self.request, "pk")

    def _detail(self, order: Order) -> dict[str, Any]:
        fresh = _detail_queryset().get(pk=order.pk)
        return s.OrderDetailSerializer(fresh, context=self.get_serializer_context()).data

    # --- CRUD ------------------------------------------------------------------------------
    @extend_schema(summary="List orders", responses=s.OrderSerializer(many=True))
    def list(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(s.order_list_values(queryset))
        return self.get_paginated_response(s.order_list_render(page or []))

    @extend_schema(summary="Order with items, shipments and timeline",
                   responses=s.OrderDetailSerializer)
    def retrieve(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        return Response(s.OrderDetailSerializer(order, context=self.get_serializer_context()).data,
                        headers=_etag(order))

    @extend_schema(summary="Create a draft order with its address and items",
                   request=s.OrderCreateSerializer, responses={201: s.OrderDetailSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        serializer = s.OrderCreateSerializer(data=request.data, merchants=self._merchants())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        merchant = data.pop("merchant")
        items = data.pop("items", [])
        order_totals_check(items=items, shipping_total=data.get("shipping_total"))
        order = services.order_create(merchant=merchant, items=items, actor=request.user, **data)
        return Response(self._detail(order), status=status.HTTP_201_CREATED,
                        headers={"Location": _order_location(order)})

    @extend_schema(
        summary="Change a draft order (address, currency, shipping, options)",
        description="Send the detail's `ETag` as `If-Match`: when the order changed since "
        "(placed by the worker, edited by someone else), the change is refused with 412 "
        "`version_conflict` saying what changed, and nothing is saved.",
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=False,
                                     description="The order's ETag the change is based on.")],
        request=s.OrderWriteSerializer,
        responses={200: s.OrderDetailSerializer, 412: ErrorSerializer})
    def partial_update(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        serializer = s.OrderWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        # the ETag it was based on (no lost update); an empty header is no precondition
        base = (request.headers.get("If-Match") or "").strip() or None
        if serializer.validated_data:
            order_totals_check(order=order,
                               shipping_total=serializer.validated_data.get("shipping_total"))
            order = services.order_update(order=order, actor=request.user, base_version=base,
                                          **serializer.validated_data)
        order.refresh_from_db()
        return Response(self._detail(order), headers=_etag(order))

    # --- transitions -----------------------------------------------------------------------
    @extend_schema(summary="Transitions available now, with the payload each needs",
                   responses=s.TransitionSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="transitions", url_name="transitions",
            pagination_class=None, filter_backends=[])  # a plain list: no query parameters
    def transitions(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        names = services.order_transitions_available(order=order, user=request.user)
        labels = {t.name: t.custom.get("label", t.name)
                  for t in order.get_all_state_transitions()}
        rows = [
            {"name": name, "label": labels.get(name, name), "long_running": name in s.LONG_RUNNING,
             "url": reverse(f"api:order-transition-{name}", kwargs={"pk": order.pk})}
            for name in names if name in s.TRANSITION_PAYLOADS
        ]
        return Response(s.TransitionSerializer(rows, many=True).data)

    transition_place = _transition_action("place")
    transition_reconcile = _transition_action("reconcile")
    transition_reopen = _transition_action("reopen")
    transition_hold = _transition_action("hold")
    transition_release = _transition_action("release")
    transition_ship = _transition_action("ship")
    transition_complete = _transition_action("complete")
    transition_cancel = _transition_action("cancel")
    transition_accept_shortfall = _transition_action("accept_shortfall")

    # Routes are generated in name order: "transition_unknown" sorts after every real name,
    # so this catch-all only sees names without their own route.
    @extend_schema(exclude=True)
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[^/]+)",
            url_name="transition-unknown")
    def transition_unknown(self, request: Request, pk: Any = None, name: str = "") -> Response:
        self.get_object()
        raise NotFound(f"Unknown transition '{name}'. Known: {', '.join(s.TRANSITION_PAYLOADS)}.")

    def _run_transition(self, request: Request, name: str) -> Response:
        order = self.get_object()
        payload = s.TRANSITION_PAYLOADS[name](data=request.data)
        payload.is_valid(raise_exception=True)
        location = _order_location(order)
        kwargs = (payload.to_service_kwargs() if isinstance(payload, s.ShipPayloadSerializer)
                  else dict(payload.validated_data))
        try:
            result = dispatch.order_transition_enqueue(order=order, name=name, actor=request.user,
                                                       payload=kwargs)
        except ProviderError as exc:
            order.refresh_from_db()
            raise provider_failure(exc, order) from exc
        if result.queued:
            return Response(
                {"transition": name, "status": "accepted", "location": location,
                 "order": self._detail(order), "shipment": None},
                status=status.HTTP_202_ACCEPTED, headers={"Location": location},
            )
        shipment = result.result if isinstance(result.result, Shipment) else None
        return Response({
            "transition": name, "status": "done", "location": location,
            "order": self._detail(order),
            "shipment": s.ShipmentSerializer(
                Shipment.objects.prefetch_related("lines").get(pk=shipment.pk)
            ).data if shipment else None,
        })

    @extend_schema(summary="Refresh the order from its provider (in the background)",
                   description="At most one sync per order per `SYNC_NOW_MIN_INTERVAL` "
                   "seconds (as the admin's button): sooner is `429 rate_limited`.",
                   request=None, responses={202: s.SyncResultSerializer})
    @action(detail=True, methods=["post"], url_path="sync", url_name="sync")
    @idempotent
    def sync(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        if not order.external_id:
            raise OrderActionRefused(
                "This order has no provider id yet: nothing to sync.", code="not_allowed",
                allowed=services.order_transitions_available(order=order, user=request.user),
            )
        dispatch.order_sync_now(order=order, actor=request.user)  # cooldown (429), timeline note
        location = _order_location(order)
        return Response(
            {"status": "accepted", "location": location,
             "order": s.OrderSerializer(order, context=self.get_serializer_context()).data},
            status=status.HTTP_202_ACCEPTED, headers={"Location": location},
        )

    # --- items -----------------------------------------------------------------------------
    @extend_schema(methods=["GET"], summary="The order's items",
                   responses=s.OrderItemSerializer(many=True))
    @extend_schema(methods=["POST"], summary="Add an item (draft orders only)",
                   description="Saved at once: 201 with the item. On a draft at the provider "
                   "(reseller, after `provider-draft/`) the worker then adds it there: its "
                   "`external_id` stays empty until it did; a refusal by the provider shows "
                   "on the order (`failure_reason`, the timeline) and the item stays here.",
                   request=s.OrderItemInputSerializer, responses={201: s.OrderItemSerializer})
    @action(detail=True, methods=["get", "post"], url_path="items", url_name="items",
            pagination_class=None, filter_backends=[])  # a plain list: no query parameters
    def items(self, request: Request, pk: Any = None) -> Response:
        if request.method == "POST":
            return self._item_add(request)
        order = self.get_object()
        return Response(s.OrderItemSerializer(order.items.all(), many=True).data)

    @idempotent
    def _item_add(self, request: Request) -> Response:
        order = self.get_object()
        serializer = s.OrderItemInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order_totals_check(order=order, items=[serializer.validated_data])
        result = dispatch.order_item_add_enqueue(order=order, actor=request.user,
                                                 **serializer.validated_data)
        return Response(s.OrderItemSerializer(result.result).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[OpenApiParameter("item_pk", int, OpenApiParameter.PATH,
                                                description="Item id.")])
    @extend_schema(methods=["GET"], summary="One item of the order",
                   responses=s.OrderItemSerializer)
    @extend_schema(methods=["DELETE"], summary="Remove an item (draft orders only)",
                   description="Removed at once (204), or, on a draft at the provider "
                   "(reseller, after `provider-draft/`), checked now and queued for the worker, "
                   "which deletes it there and then here (202; the item stays until then, and "
                   "stays with the reason on the order's timeline when the provider refuses).",
                   responses={204: OpenApiResponse(description="Removed."),
                              202: ps.QueuedResultSerializer})
    @action(detail=True, methods=["get", "delete"], url_path=r"items/(?P<item_pk>[0-9]+)",
            url_name="item-detail")
    def item_detail(self, request: Request, pk: Any = None, item_pk: Any = None) -> Response:
        order = self.get_object()
        item = get_or_404(OrderItem.objects.filter(order=order), item_pk)
        if request.method == "DELETE":
            result = dispatch.order_item_remove_enqueue(item=item, actor=request.user)  # type: ignore[arg-type]
            if result.queued:
                return self._queued(order)
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(s.OrderItemSerializer(item).data)

    @extend_schema(summary="Change the status of several items (one provider request, in the "
                           "background)",
                   description="Checked now (every item must allow the move: 409 `not_allowed`); "
                   "the worker sends it and the outcome shows on the order's timeline.",
                   request=s.ItemStatusInputSerializer,
                   responses={202: ps.QueuedResultSerializer})
    @action(detail=True, methods=["post"], url_path="items/status", url_name="items-status",
            pagination_class=None)  # answers the queued order: never a page
    @idempotent
    def items_status(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        data = s.ItemStatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data["items"]
        items = list(order.items.filter(pk__in=ids))
        missing = sorted(set(ids) - {item.pk for item in items})
        if missing:
            raise ApiError(404, "not_found", "Not items of this order.",
                           fields={"items": [f"No item {pk} in this order." for pk in missing]})
        dispatch.order_items_status_enqueue(
            order=order, items=items, transition_name=data.validated_data["transition"],
            actor=request.user, comment=data.validated_data.get("comment", ""),
        )
        return self._queued(order)

    @extend_schema(summary="Add a note to the order's timeline", request=s.NoteInputSerializer,
                   responses={201: s.OrderEventSerializer})
    @action(detail=True, methods=["post"], url_path="notes", url_name="notes")
    @idempotent
    def notes(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        data = s.NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = services.order_note_add(order=order, text=data.validated_data["text"],
                                        actor=request.user)
        return Response(s.OrderEventSerializer(event).data, status=status.HTTP_201_CREATED)

    # --- shipments -------------------------------------------------------------------------
    @extend_schema(methods=["GET"], summary="The order's shipments",
                   responses=s.ShipmentSerializer(many=True))
    @extend_schema(methods=["POST"], summary="Ship: record a shipment (the 'ship' transition)",
                   description="Recorded at once (201) when the order's provider takes no "
                   "shipping information; else queued for the worker, which records and pushes "
                   "it (202; the outcome shows on the order's timeline).",
                   request=s.ShipPayloadSerializer,
                   responses={201: s.ShipmentSerializer, 202: ps.QueuedResultSerializer,
                              409: ErrorSerializer})
    @action(detail=True, methods=["get", "post"], url_path="shipments", url_name="shipments",
            pagination_class=None, filter_backends=[])  # a plain list: no query parameters
    def shipments(self, request: Request, pk: Any = None) -> Response:
        if request.method == "POST":
            return self._ship(request)
        order = self.get_object()
        return Response(s.ShipmentSerializer(
            order.shipments.prefetch_related("lines"), many=True).data)

    @idempotent
    def _ship(self, request: Request) -> Response:
        order = self.get_object()
        payload = s.ShipPayloadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = dispatch.order_transition_enqueue(order=order, name="ship", actor=request.user,
                                                   payload=payload.to_service_kwargs())
        if result.queued:  # the provider takes shipping information: the worker pushes it
            return self._queued(order)
        shipment = Shipment.objects.prefetch_related("lines").get(pk=result.result.pk)
        return Response(s.ShipmentSerializer(shipment).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["shipments"])
class ShipmentViewSet(SafeLookupMixin, viewsets.ReadOnlyModelViewSet):
    """All shipments (scoped tokens: their merchants' only). Create one by shipping an order."""

    lookup_value_regex = "[^/]+"
    serializer_class = s.ShipmentSerializer
    pagination_class = ApiPagination
    filter_backends = [FilterBackend, OrderingFilter]
    filterset_class = ShipmentFilter
    ordering_fields = ["created_at", "updated_at", "id"]
    ordering = ["-created_at", "-id"]
    queryset = Shipment.objects.none()

    def get_queryset(self) -> QuerySet[Shipment]:
        qs = Shipment.objects.prefetch_related("lines")
        return scoped(qs, self.request, "order__merchant_id")
