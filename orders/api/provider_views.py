"""Order routes that talk to the order's provider: the admin's provider pages and buttons
(provider draft, lookup, execution status, custom fields, item characteristics, carriers,
acknowledge all items) as API routes. Mixed into ``OrderViewSet``; thin like it: parse, then
queue the write through ``orders.dispatch`` (202 with where to look), render. The reads of
provider data (custom fields, characteristics, carriers) are the worker's too
(``dispatch.*_read``): 200 with the data once read, 202 ``pending`` with ``Retry-After`` and
``Location`` (this URL) while it reads, the failure's reason in the error shape."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ApiError, ErrorSerializer
from api.idempotency import idempotent
from api.query import QuerySpec, boolean_param
from api.scoping import get_or_404
from core.provider_reads import RETRY_AFTER_SECONDS, ReadResult
from orders import dispatch, selectors
from orders.errors import OrderActionRefused
from orders.models import Order, OrderItem

from . import provider_serializers as ps
from . import serializers as s

ITEM_PK = OpenApiParameter("item_pk", int, OpenApiParameter.PATH, description="Item id.")
# Reads that ask the provider (the worker does): refused (409: not at the provider yet, no
# such verb there, the provider said no) or the provider failed (502), as the writes; 202
# while the worker reads.
PROVIDER_READ_ERRORS = {409: ErrorSerializer, 502: ErrorSerializer}
REFRESH = boolean_param("refresh", "true: read from the provider again now, even when a "
                        "recent read is kept (answers 202 while the worker reads).")
READ_QUERY = QuerySpec({"refresh": REFRESH})
READ_PARAMETERS = [
    OpenApiParameter("refresh", bool, OpenApiParameter.QUERY, required=False,
                     description=REFRESH.description),
    OpenApiParameter("Retry-After", int, OpenApiParameter.HEADER, response=[202],
                     description="Seconds to wait before asking again."),
    OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[202],
                     description="Where to ask again (this URL)."),
]
READ_RESPONSES = {202: ps.ReadPendingSerializer, **PROVIDER_READ_ERRORS}
# failure codes the worker stores (orders.tasks.read_failure_text) -> HTTP status
READ_FAILURE_STATUS = {"provider_rejected": 409, "not_supported": 409, "not_allowed": 409,
                       "refused": 409, "not_found": 409, "invalid": 409}


class OrderProviderRoutesMixin:
    """Needs ``get_object``, ``_detail`` and ``get_serializer_context`` (``OrderViewSet``)."""

    get_object: Any
    _detail: Any
    get_serializer_context: Any

    def _refresh(self, request: Request) -> bool:
        READ_QUERY.validate(request.query_params)  # strict: 400 naming the parameter
        return request.query_params.get("refresh") == "true"

    def _read_answer(self, request: Request, order: Order, what: str, result: ReadResult,
                     render: Any) -> Response:
        """200 with ``render(data)``; 202 while the worker reads; the failure's reason in
        the error shape (409 a refusal, 502 a failure)."""
        if result.ready:
            return Response(render(result.data))
        if result.pending:
            return Response(
                {"status": "pending",
                 "detail": f"The {what} are being read from the provider; ask again in "
                           f"{RETRY_AFTER_SECONDS} seconds."},
                status=status.HTTP_202_ACCEPTED,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Location": request.path})
        order.refresh_from_db()
        code = result.code or "provider_error"
        raise ApiError(READ_FAILURE_STATUS.get(code, 502), code, result.error,
                       extra={"order_id": order.pk, "order_state": order.state})

    def _item(self, order: Order, item_pk: Any) -> OrderItem:
        item = get_or_404(OrderItem.objects.filter(order=order), item_pk)
        item.order = order  # type: ignore[attr-defined]
        return item  # type: ignore[return-value]

    # --- provider-side draft (reseller v3) -------------------------------------------------
    @extend_schema(
        summary="Create the order's draft at the provider (its items are added there)",
        description="For providers with provider-side drafts: afterwards, adding and removing "
        "items (`POST items/`, `DELETE items/{item_pk}/`) goes to the provider draft too. "
        "409 `not_supported` for other providers, `not_allowed` when not a draft or the "
        "draft exists already. The worker creates it (202); the outcome shows on the order.",
        request=None, responses={202: ps.QueuedResultSerializer})
    @action(detail=True, methods=["post"], url_path="provider-draft", url_name="provider-draft")
    @idempotent
    def provider_draft(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        dispatch.order_provider_draft_enqueue(order=order, actor=request.user)
        return self._queued(order)

    # --- placement unknown: look the order up at the provider --------------------------------
    @extend_schema(
        summary="Look a 'placement unknown' order up at its provider (in the background)",
        description="Found: placed, with its provider id; not found: back to draft. 409 "
        "`not_allowed` unless the order is `placement_unknown`, `not_supported` when the "
        "provider has no lookup (then use the `reconcile` transition).",
        request=None, responses={202: ps.QueuedResultSerializer})
    @action(detail=True, methods=["post"], url_path="lookup", url_name="lookup")
    @idempotent
    def lookup(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        dispatch.order_lookup_enqueue(order=order, actor=request.user)
        return self._queued(order)

    def _queued(self, order: Order) -> Response:
        location = reverse("api:order-detail", kwargs={"pk": order.pk})
        return Response(
            {"status": "accepted", "location": location,
             "order": s.OrderSerializer(order, context=self.get_serializer_context()).data},
            status=status.HTTP_202_ACCEPTED, headers={"Location": location})

    # --- execution status (reseller v3) ----------------------------------------------------
    @extend_schema(
        summary="Ask the provider how the order's execution goes (in the background; applied "
                "to the order)",
        request=None, responses={202: ps.QueuedResultSerializer})
    @action(detail=True, methods=["post"], url_path="execution-poll", url_name="execution-poll")
    @idempotent
    def execution_poll(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        dispatch.order_execution_poll_enqueue(order=order, actor=request.user)
        return self._queued(order)

    # --- custom fields and item characteristics -------------------------------------------
    @extend_schema(methods=["GET"], summary="The order's custom fields at the provider",
                   description="Read by the worker: 202 `pending` (with `Retry-After`) until "
                   "it has them, then 200 (kept a minute; `refresh=true` reads again).",
                   parameters=READ_PARAMETERS,
                   responses={200: ps.ProviderValueSerializer(many=True), **READ_RESPONSES})
    @extend_schema(methods=["PUT"], summary="Save custom fields at the provider (in the "
                   "background)", request=ps.ProviderValuesInputSerializer,
                   responses={202: ps.QueuedResultSerializer})
    @action(detail=True, methods=["get", "put"], url_path="custom-fields",
            url_name="custom-fields", pagination_class=None, filter_backends=[])
    def custom_fields(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        if request.method == "PUT":
            body = ps.ProviderValuesInputSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            values = body.validated_data["values"]
            dispatch.order_custom_fields_set_enqueue(order=order, values=values,
                                                     actor=request.user)
            return self._queued(order)
        result = dispatch.order_custom_fields_read(order=order, actor=request.user,
                                                   refresh=self._refresh(request))
        return self._read_answer(request, order, "custom fields", result, lambda fields: (
            ps.ProviderValueSerializer(fields or [], many=True).data))

    @extend_schema(parameters=[ITEM_PK])
    @extend_schema(methods=["GET"], summary="An item's characteristics at the provider",
                   description="Read by the worker, as the custom fields: 202 `pending` "
                   "until it has them, then 200.", parameters=READ_PARAMETERS,
                   responses={200: ps.ProviderValueSerializer(many=True), **READ_RESPONSES})
    @extend_schema(methods=["PUT"], summary="Save an item's characteristics at the provider "
                   "(in the background)", request=ps.ProviderValuesInputSerializer,
                   responses={202: ps.QueuedResultSerializer})
    @action(detail=True, methods=["get", "put"],
            url_path=r"items/(?P<item_pk>[0-9]+)/characteristics",
            url_name="item-characteristics", pagination_class=None, filter_backends=[])
    def item_characteristics(self, request: Request, pk: Any = None,
                             item_pk: Any = None) -> Response:
        order = self.get_object()
        item = self._item(order, item_pk)
        if request.method == "PUT":
            body = ps.ProviderValuesInputSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            values = body.validated_data["values"]
            dispatch.order_item_characteristics_set_enqueue(item=item, values=values,
                                                            actor=request.user)
            return self._queued(order)
        result = dispatch.order_item_characteristics_read(item=item, actor=request.user,
                                                          refresh=self._refresh(request))
        return self._read_answer(request, order, "characteristics", result, lambda fields: (
            ps.ProviderValueSerializer(fields or [], many=True).data))

    # --- carriers and items ----------------------------------------------------------------
    @extend_schema(summary="The provider's carriers for shipping this order",
                   description="Where the provider keeps a list, the worker reads it: 202 "
                   "`pending` until then (kept an hour; `refresh=true` reads again).",
                   parameters=READ_PARAMETERS,
                   responses={200: ps.CarrierListSerializer, **READ_RESPONSES})
    @action(detail=True, methods=["get"], url_path="carriers", url_name="carriers",
            pagination_class=None, filter_backends=[])
    def carriers(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        result = dispatch.order_carrier_choices_read(order=order, actor=request.user,
                                                     refresh=self._refresh(request))
        return self._read_answer(request, order, "carriers", result, lambda choices: {
            "free_text": choices is None,
            "carriers": [{"value": v, "label": label} for v, label in choices or []]})

    @extend_schema(summary="Acknowledge every item the provider lets us acknowledge now "
                           "(one provider request, in the background)",
                   request=None, responses={202: ps.QueuedResultSerializer})
    @action(detail=True, methods=["post"], url_path="items/acknowledge",
            url_name="items-acknowledge")
    @idempotent
    def items_acknowledge(self, request: Request, pk: Any = None) -> Response:
        order = self.get_object()
        items = selectors.order_items_acknowledgeable(order=order)
        if not items:
            raise OrderActionRefused("No item of this order can be acknowledged now.",
                                     code="not_allowed")
        dispatch.order_items_status_enqueue(order=order, items=items,
                                            transition_name="acknowledge", actor=request.user)
        return self._queued(order)
