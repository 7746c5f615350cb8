"""The pipeline in the admin: supplier offers (search, CSV import/export), routing policies,
and the sales orders waiting in the pipeline with *Route now* / *Approve and route*."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_http_methods

from orders.models import TRANSITION_PERMISSION

from . import csvio, dispatch, selectors, services
from .models import RoutingPolicy, SalesRouting, SupplierLink, SupplierOffer, TrackingPush


@admin.register(SupplierOffer)
class SupplierOfferAdmin(admin.ModelAdmin):
    list_display = ["sales_product_id", "sales_sku", "supplier", "supplier_product_id", "supplier_sku",
                    "expected_cost", "cost_currency", "priority", "is_active"]
    list_filter = ["is_active", "supplier__account__provider", "supplier"]
    search_fields = ["sales_product_id", "sales_sku", "supplier_product_id", "supplier_sku", "supplier__name"]
    list_select_related = ["supplier"]
    change_list_template = "admin/pipeline/supplieroffer/change_list.html"

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="pipeline_supplieroffer_import"),
            path("export/", view(self.export_view), name="pipeline_supplieroffer_export"),
            *super().get_urls(),
        ]

    @staticmethod
    def _csv(offers: Any) -> HttpResponse:
        response = HttpResponse(csvio.offers_export(offers), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="supplier-offers.csv"'
        return response

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self._csv(SupplierOffer.objects.order_by("pk"))

    @method_decorator(require_http_methods(["GET", "POST"]))
    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        errors: list[str] = []
        if request.method == "POST":
            upload = request.FILES.get("file")
            try:
                text = upload.read().decode("utf-8-sig") if upload else ""
                result = csvio.offers_import(text=text)
            except UnicodeDecodeError:
                errors = ["The file is not UTF-8 text."]
            except csvio.OfferImportError as exc:
                errors = exc.lines()
            else:
                pending = services.offers_changed_reroute()
                transaction.on_commit(lambda: dispatch.route_enqueue(pending))
                waiting = f"; routing {len(pending)} order(s) that waited for a mapping" if pending else ""
                self.message_user(
                    request, f"Imported: {result.created} new, {result.updated} updated offer(s){waiting}.")
                return HttpResponseRedirect(reverse("admin:pipeline_supplieroffer_changelist"))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": "Import supplier offers", "columns": csvio.COLUMNS, "errors": errors}
        return TemplateResponse(request, "admin/pipeline/supplieroffer/import.html", context)

    @admin.action(description="Export selected offers as CSV", permissions=["view"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[SupplierOffer]) -> HttpResponse:
        return self._csv(queryset.order_by("pk"))

    actions = ["export_selected"]


@admin.register(RoutingPolicy)
class RoutingPolicyAdmin(admin.ModelAdmin):
    list_display = ["account", "enabled", "route_mode", "place_mode", "max_cost_share"]
    list_filter = ["enabled", "route_mode", "place_mode"]


class LinkInline(admin.TabularInline):
    model = SupplierLink
    fk_name = "sales_item"
    extra = 0
    can_delete = False
    fields = readonly_fields = ("supplier_item", "offer", "active", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WaitingFilter(admin.SimpleListFilter):
    title = "waiting for"
    parameter_name = "waiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("placement", "Supplier placement"), ("tracking", "Tracking")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[SalesRouting]) -> QuerySet[SalesRouting]:
        kind = self.value()
        if kind in ("placement", "tracking"):
            return queryset.filter(pk__in=selectors.routings_waiting(kind).values("pk"))
        return queryset


@admin.register(SalesRouting)
class SalesRoutingAdmin(admin.ModelAdmin):
    list_display = ["order_link", "status", "reason", "suppliers", "updated_at"]
    list_filter = ["status", WaitingFilter]
    search_fields = ["order__reference", "order__external_id", "reason"]
    list_select_related = ["order"]
    fields = readonly_fields = ("order", "status", "reason", "approved_by", "updated_at", "suppliers")
    actions = ["route_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_route_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(TRANSITION_PERMISSION)

    @admin.display(description="Sales order", ordering="order__reference")
    def order_link(self, obj: SalesRouting) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[obj.order_id]),
                           obj.order.reference)

    @admin.display(description="Supplier orders")
    def suppliers(self, obj: SalesRouting) -> str:
        from .selectors import supplier_orders_of

        links = format_html_join(", ", '<a href="{}">{}</a> ({})', (
            (reverse("admin:orders_order_change", args=[o.pk]), o.reference, o.get_state_display())
            for o in supplier_orders_of(obj.order)))
        return links or "—"

    @staticmethod
    def _place_after_commit(ids: list[int], request: HttpRequest) -> None:
        transaction.on_commit(lambda: dispatch.place_enqueue(ids, actor=request.user))

    @admin.action(description="Approve and route now (held, proposed or needing a mapping)",
                  permissions=["route"])
    def route_now(self, request: HttpRequest, queryset: QuerySet[SalesRouting]) -> None:
        for routing in queryset.select_related("order"):
            result = services.sales_order_route(order=routing.order, actor=request.user, approve=True)
            if result.to_place:
                self._place_after_commit(result.to_place, request)
            level = messages.SUCCESS if result.status == SalesRouting.Status.ROUTED else messages.WARNING
            label = dict(SalesRouting.Status.choices).get(result.status, result.status)
            self.message_user(request, f"{routing.order.reference}: {label}"
                              + (f" — {result.reason}" if result.reason else ""), level)


@admin.register(TrackingPush)
class TrackingPushAdmin(admin.ModelAdmin):
    list_display = ["supplier_shipment", "sales_order", "state", "error", "created_at"]
    list_filter = ["state"]
    search_fields = ["supplier_shipment__tracking_number", "sales_order__reference"]
    readonly_fields = ["supplier_shipment", "sales_order", "sales_shipment", "state", "error", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
