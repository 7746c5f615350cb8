"""The order page around its decision: header (reference, state, provider status by name, the
actions allowed now as buttons, a reason for the others), the shortfall decision above the
fold, and a live region (header, timeline, shipments) refreshed by htmx polling while the
provider is working on the order."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from .. import labels, selectors
from ..models import TRANSITION_PERMISSION, Order, OrderEvent
from ..services.shortfall import order_shortfall_summary
from .common import ORDER_PAGE_PANELS

TIMELINE_ROWS = 500


class OrderPageMixin:
    def page_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [path("<path:object_id>/live/", view(self.live_view), name="orders_order_live")]

    def decision_context(self, request: HttpRequest, order: Order) -> dict[str, Any]:
        can_run = bool(request.user.has_perm(TRANSITION_PERMISSION))
        actions = selectors.order_actions(order=order, user=request.user) if can_run else []
        return {
            "dd_order": order,
            "dd_can_run": can_run,
            "dd_allowed": [a for a in actions if a.allowed],
            "dd_blocked": [a for a in actions if not a.allowed],
            "dd_provider_status": labels.order_provider_status(order),
            "dd_shortfall": order_shortfall_summary(order=order),
            "dd_running": selectors.order_work_running(order=order),
            "dd_shipments": list(order.shipments.order_by("-created_at", "-id")),
            "dd_panels": [html for panel in ORDER_PAGE_PANELS if (html := panel(order))],
            "timeline": list(
                OrderEvent.objects.filter(order_id=order.pk).select_related("actor")
                .order_by("-created_at", "-id")[:TIMELINE_ROWS]
            ),
        }

    def _page_order(self, object_id: str) -> Order | None:
        if not str(object_id).isdigit():
            return None
        return (Order.objects.select_related("merchant__account").prefetch_related("items")
                .filter(pk=int(object_id)).first())

    def live_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The live region (GET, polled by the page while work runs)."""
        if not self.has_view_or_change_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        order = self._page_order(object_id)
        if order is None:
            raise Http404("No such order.")
        return TemplateResponse(request, "admin/orders/order/live.html",
                                {**self.decision_context(request, order), "dd_oob": True})
