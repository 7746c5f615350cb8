"""The order admin: list, change page, bulk actions, CSV, status graphs."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, Prefetch, QuerySet, When, prefetch_related_objects
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django_fsm.admin import FSMAdminMixin

from providers import registry
from providers.graph import status_table_svg

from .. import dispatch, labels, selectors, services
from ..admin_versions import VersionedChangeFormMixin
from ..errors import OrderActionRefused
from ..forms import NoteForm
from ..models import (
    TRANSITION_PERMISSION,
    BulkRun,
    BulkRunItem,
    Order,
    OrderItem,
)
from ..provider_admin import ProviderAdminViews, provider_tools
from .bulk_ship import bulk_ship_rows
from .commands import OrderCommandsMixin
from .common import (
    OperatorWordsMixin,
    RunTransitionsPermissionMixin,
    TransitionAfterCommitMixin,
    _order_form_extension,
    pretty_json,
    state_badge,
)
from .csv_export import csv_rows
from .filters import MerchantFilter, ProviderFilter, QuickFilter
from .inlines import OrderItemInline
from .order_page import OrderPageMixin
from .paging import CappedCountPaginator, cap_for_page


class BulkShipForm(forms.Form):
    carrier = forms.CharField(required=False, max_length=120,
                              help_text="Same carrier for all; empty: other carrier.")


# Parts of "Needs action" the dashboard links to; the tab bar keeps to the broader tabs.
SIDEBAR_ONLY_TABS = frozenset({"failed", "placement_unknown"})


class OrderChangeList(ChangeList):
    """The shown page's items are read in one query, for the provider status column (Tipser
    publishes no order-level status: its items' statuses are shown). Actions never pay it."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        self.result_list = list(self.result_list)
        items = OrderItem.objects.only("id", "order_id", "raw_status", "state").order_by()
        prefetch_related_objects(self.result_list, Prefetch("items", queryset=items))


@admin.register(Order)
class OrderAdmin(OrderCommandsMixin, VersionedChangeFormMixin, OperatorWordsMixin, OrderPageMixin,
                 RunTransitionsPermissionMixin,
                 TransitionAfterCommitMixin,
                 ProviderAdminViews, FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["state"]
    change_list_template = "admin/orders/order/change_list.html"
    change_form_template = "admin/orders/order/change_form.html"
    fsm_transition_form_template = "admin/orders/order/transition_form.html"
    fsm_forms = {"ship": "orders.forms.OrderShipForm"}  # carrier choices per provider
    # Seven columns fit 1440 px beside both sidebars: secondary facts sit under the main one.
    list_display = ["reference", "badge", "provider_cell", "merchant_cell", "total_display",
                    "age_cell"]
    # A date list filter, not date_hierarchy: the hierarchy runs a DISTINCT month-trunc and a
    # MIN/MAX over every order on each page view (0.5 s at 100k orders on SQLite; bench/).
    list_filter = [QuickFilter, "state", ProviderFilter, MerchantFilter,
                   ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["merchant__account"]
    search_fields = ["reference", "external_id", "contact_name", "contact_email",
                     "shipments__tracking_number", "merchant__name"]
    search_help_text = ("An exact reference, provider order id or tracking number shows just that "
                        "order; other text is looked for inside references, ids, customer names "
                        "and e-mails, tracking numbers and merchant names.")
    list_per_page = 50
    show_full_result_count = False
    actions = ["place_selected", "sync_selected", "cancel_selected", "acknowledge_selected",
               "mark_shipped_selected"]
    readonly_fields = ["state", "provider_status", "failure_reason", "external_id", "external_ids",
                       "items_total", "total", "ordered_at", "placed_at", "synced_at",
                       "expires_at", "created_at", "updated_at", "raw_data_pretty",
                       "draft_days_left", "provider_tools_html", "supplier_cost_display"]
    fieldsets = [
        (None, {"fields": ["merchant", "reference", "state", "provider_status", "failure_reason",
                           "external_id", "external_ids"]}),
        ("Shipping address", {"fields": ["contact_name", "contact_email", "phone_prefix",
                                         "phone_number", "address_line1", "address_line2",
                                         "city", "region", "postal_code", "country"]}),
        ("Money", {"fields": ["currency", "items_total", "shipping_total", "total",
                              "supplier_cost_display"]}),
        ("Provider actions", {"fields": ["provider_tools_html"]}),
        ("Provider data", {"fields": ["provider_options", "raw_data_pretty"],
                           "classes": ["collapse"]}),
        ("Dates", {"fields": ["ordered_at", "placed_at", "synced_at", "expires_at",
                              "draft_days_left", "created_at", "updated_at"]}),
    ]
    # The timeline is drawn by the change form template (readable, with the note form).
    inlines = [OrderItemInline]  # shipments: in the page's live region (order_page.py)

    @admin.display(description="Supplier cost (supplier's currency)")
    def supplier_cost_display(self, obj: Order) -> str:
        cost = obj.supplier_cost
        if not cost:
            return "—"
        if cost.get("total"):
            return f"{cost['total']} {cost.get('currency', '')}".strip()
        return "; ".join(f"{oid}: {c['value']} {c['currency']}"
                         for oid, c in (cost.get("orders") or {}).items()) or "—"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        """An exact id (reference, provider order id, tracking number) finds its order through
        an index; only when nothing matches exactly does the search look for the term inside
        every search field (a scan of all orders: ~200-300 ms at 100k orders, bench/)."""
        exact = selectors.order_ids_matching_exactly(term=search_term)
        if exact:
            return queryset.filter(pk__in=exact), False
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return found, may_have_duplicates  # type: ignore[return-value]

    @admin.display(description="State", ordering="state")
    def badge(self, obj: Order) -> str:
        return state_badge(obj)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return OrderChangeList

    def get_paginator(self, request: HttpRequest, queryset: QuerySet[Order], per_page: int,
                      orphans: int = 0, allow_empty_first_page: bool = True) -> CappedCountPaginator:
        return CappedCountPaginator(queryset, per_page, orphans, allow_empty_first_page,  # "1,000+"
                                    cap=cap_for_page(request.GET.get(PAGE_VAR), per_page))

    @admin.display(description="Provider status", ordering="raw_status")
    def provider_status(self, obj: Order) -> str:
        return labels.order_provider_status(obj)

    @admin.display(description="Provider", ordering="merchant__account__provider")
    def provider(self, obj: Order) -> str:
        cls = registry.get(obj.merchant.account.provider)
        return cls.label if cls is not None else obj.merchant.account.get_provider_display()

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj: Order) -> str:
        return format_html('<span style="white-space:nowrap">{} {}</span>', obj.total,
                           obj.currency)

    @admin.display(description="Age", ordering="created_at")
    def age(self, obj: Order) -> str:
        return timesince(obj.created_at).split(",")[0]

    @admin.display(description="Provider", ordering="merchant__account__provider")
    def provider_cell(self, obj: Order) -> str:
        return format_html('{}<div class="dd-sub">{}</div>', self.provider(obj),
                           labels.order_provider_status(obj))

    @admin.display(description="Merchant / customer", ordering="merchant__name")
    def merchant_cell(self, obj: Order) -> str:
        return format_html('{}<div class="dd-sub">{}</div>', obj.merchant.name, obj.contact_name)

    @admin.display(description="Age", ordering="created_at")
    def age_cell(self, obj: Order) -> str:
        days_left = self.draft_days_left(obj)
        if days_left == "—":
            return self.age(obj)
        return format_html('{}<div class="dd-sub">Draft days left: {}</div>', self.age(obj), days_left)

    @admin.display(description="Raw provider data")
    def raw_data_pretty(self, obj: Order) -> str:
        return pretty_json(obj.raw_data)

    # --- provider-side drafts (reseller v3) ---
    @admin.display(description="Draft days left", ordering="expires_at")
    def draft_days_left(self, obj: Order) -> str:
        if obj.state != "draft" or not obj.expires_at:
            return "—"
        seconds = (obj.expires_at - timezone.now()).total_seconds()
        if seconds <= 0:
            return "expiring"
        return f"{int(seconds // 86400)} d {int(seconds % 86400 // 3600)} h"

    @admin.display(description="Provider actions")
    def provider_tools_html(self, obj: Order) -> str:
        return provider_tools(obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is OrderItem and form.instance.external_id and form.instance.is_editable:
            self.save_provider_items(request, form.instance, formset)
            return
        super().save_formset(request, form, formset, change)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and not obj.is_editable:
            editable = [f for fs in self.fieldsets for f in fs[1]["fields"]]
            return tuple(dict.fromkeys([*fields, *editable]))
        if obj is not None:
            return (*fields, "merchant")
        return fields

    # --- permissions -------------------------------------------------------------------------
    def _refuse_unless_operator(self, request: HttpRequest) -> None:
        if request.method != "POST":
            raise PermissionDenied("Use the buttons on the order page.")
        if not self.has_run_transitions_permission(request):
            raise PermissionDenied("Read-only access: you cannot change orders.")

    def _get_fsm_extra_context(self, *, request: HttpRequest, obj: Any) -> Any:
        if not request.user.has_perm(TRANSITION_PERMISSION):
            return iter(())
        return super()._get_fsm_extra_context(request=request, obj=obj)

    # Provider-specific choices on a draft (e.g. a carrier list): see order_form_extension_register.
    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        extension = _order_form_extension(obj)
        if extension is None:
            return super().get_form(request, obj, change, **kwargs)
        fields = kwargs.get("fields") or flatten_fieldsets(self.fieldsets)
        kwargs["fields"] = [f for f in fields if f not in extension.field_names]
        return extension.extend(super().get_form(request, obj, change, **kwargs), obj)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        extension = _order_form_extension(obj)
        if extension is not None:
            fieldsets.insert(-2, (extension.title, {"fields": list(extension.field_names)}))
        if obj is None or provider_tools(obj) in ("", "—"):  # no empty "Provider actions: —"
            fieldsets = [fs for fs in fieldsets if fs[0] != "Provider actions"]
        return fieldsets
    # --- extra pages -------------------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("export.csv", view(self.export_csv_view), name="orders_order_export_csv"),
            path("status-graphs/", view(self.status_graphs_view),
                 name="orders_order_status_graphs"),
            path("bulk-runs/", view(self.bulk_runs_fragment_view),
                 name="orders_order_bulk_runs"),
            path("<path:object_id>/note/", view(self.note_view), name="orders_order_note"),
            path("<path:object_id>/sync/", view(self.sync_view), name="orders_order_sync"),
            path("<path:object_id>/lookup/", view(self.lookup_view),
                 name="orders_order_lookup"),
            path("<path:object_id>/acknowledge-items/", view(self.acknowledge_items_view),
                 name="orders_order_acknowledge_items"),
            *self.provider_urls(),
            *self.page_urls(),
            *super().get_urls(),
        ]

    def _order_or_404(self, request: HttpRequest, object_id: str) -> Order:
        obj = self.get_object(request, object_id)
        if not isinstance(obj, Order):
            raise Http404("No such order.")
        return obj

    def note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._refuse_unless_operator(request)
        order = self._order_or_404(request, object_id)
        form = NoteForm(request.POST)
        if form.is_valid():
            services.order_note_add(order=order, text=form.cleaned_data["text"],
                                    actor=request.user)
            self.message_user(request, "Note added.", messages.SUCCESS)
        else:
            self.message_user(request, "The note is empty or too long (text).", messages.ERROR)
        return redirect(reverse("admin:orders_order_change", args=[order.pk]) + "#timeline")

    def sync_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._refuse_unless_operator(request)
        order = self._order_or_404(request, object_id)
        try:
            note = dispatch.order_sync_now(order=order, actor=request.user)
        except OrderActionRefused as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"{note} This page shows the outcome when the worker "
                              "is done.", messages.SUCCESS)
        return redirect("admin:orders_order_change", order.pk)

    def lookup_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._refuse_unless_operator(request)
        order = self._order_or_404(request, object_id)
        try:
            note = dispatch.order_lookup_enqueue(order=order, actor=request.user)
        except OrderActionRefused as exc:
            self.message_user(request, f"{exc.message} Use the reconcile form.", messages.WARNING)
        else:
            self.message_user(request, f"{note}; this page shows the outcome when the worker "
                              "is done.", messages.SUCCESS)
        return redirect("admin:orders_order_change", order.pk)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = dict(extra_context or {})
        order = self._page_order(object_id)
        if order is not None:
            context.update(self.decision_context(request, order))
            context["ack_count"] = len(selectors.order_items_acknowledgeable(order=order)) if order else 0
            provider = registry.get(order.merchant.account.provider) if order else None
            context["can_lookup"] = bool(provider and provider.supports("reconcile_placement"))
        context["can_run"] = self.has_run_transitions_permission(request)
        context["note_form"] = NoteForm()
        return super().change_view(request, object_id, form_url, extra_context=context)

    # --- the list: tabs with counts, progress of bulk runs ---------------------------------
    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = dict(extra_context or {})
        base: QuerySet[Order] = Order.objects.all()
        provider = request.GET.get(ProviderFilter.parameter_name)
        if provider:
            base = base.filter(merchant__account__provider=provider)
        merchant = request.GET.get(MerchantFilter.parameter_name)
        if merchant and merchant.isdigit():
            base = base.filter(merchant_id=int(merchant))

        def tab_list() -> list[dict[str, Any]]:
            counts = selectors.order_tab_counts(base, cap=selectors.TAB_COUNT_CAP)
            current = request.GET.get(QuickFilter.parameter_name, "")
            tabs = []
            shown = [(k, v[0]) for k, v in selectors.order_tabs().items() if k not in SIDEBAR_ONLY_TABS]
            for key, label in [("", "All"), *shown]:
                params = request.GET.copy()
                params.pop(QuickFilter.parameter_name, None)
                params.pop("p", None)
                if key:
                    params[QuickFilter.parameter_name] = key
                tabs.append({"key": key or "all", "label": label,
                             "count": selectors.count_label(counts[key or "all"]),
                             "url": "?" + params.urlencode(), "current": key == current})
            return tabs

        context["dd_tabs"] = SimpleLazyObject(tab_list)  # counted only when the list renders
        # lazy: an action POST redirects without rendering (a big recent run cost 0.5 s here)
        context["dd_bulk"] = SimpleLazyObject(lambda: self._bulk_context(request))
        context["dd_query"] = request.GET.urlencode()
        context["can_run"] = self.has_run_transitions_permission(request)
        return super().changelist_view(request, extra_context=context)

    # A run of 1,000 orders drew 1,000 rows (three runs: 3,000) on every list view for six
    # hours: the panel shows at most this many rows per run, problems first, with full counts.
    BULK_PANEL_ROWS = 25

    def _bulk_context(self, request: HttpRequest) -> dict[str, Any]:
        since = timezone.now() - dt.timedelta(hours=6)
        rows = (
            BulkRunItem.objects.select_related("order")
            .annotate(_done_last=Case(When(outcome=BulkRunItem.Outcome.DONE, then=1), default=0))
            .order_by("_done_last", "id")
            # the panel shows the reference only: not every order's raw data
            .only("id", "run_id", "order_id", "outcome", "message", "order__reference",
                  "order__state")  # state: the FSM mixin reads it on load (else a query per row)
        )
        runs = list(
            BulkRun.objects.filter(created_at__gte=since, actor_id=request.user.pk)
            .order_by("-created_at", "-id")
            .prefetch_related(Prefetch("items", queryset=rows[: self.BULK_PANEL_ROWS],
                                       to_attr="rows"))[:3]
        )
        counts: dict[int, dict[str, int]] = {r.pk: dict.fromkeys(BulkRunItem.Outcome.values, 0)
                                             for r in runs}
        if runs:
            for run_id, outcome, number in (
                BulkRunItem.objects.filter(run_id__in=list(counts)).order_by()
                .values_list("run_id", "outcome").annotate(n=Count("id"))
            ):
                counts[run_id][outcome] = number
        for run in runs:
            run.counts = counts[run.pk]  # type: ignore[attr-defined]
            run.total = sum(run.counts.values())  # type: ignore[attr-defined]
            run.hidden = run.total - len(run.rows)  # type: ignore[attr-defined]
            run.finished = run.total - run.counts["queued"]  # type: ignore[attr-defined]
            run.active = run.counts["queued"] > 0  # type: ignore[attr-defined]
            run.percent = int(100 * run.finished / run.total) if run.total else 100  # type: ignore[attr-defined]
        return {"runs": runs, "active": any(r.active for r in runs)}  # type: ignore[attr-defined]

    def bulk_runs_fragment_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return TemplateResponse(request, "admin/orders/order/bulk_runs.html",
                                {"dd_bulk": self._bulk_context(request)})

    # --- bulk actions (each queues one task per order; outcomes show above the list) -------
    def _start_bulk(self, request: HttpRequest, queryset: QuerySet[Order], action: str,
                    per_order: dict[int, dict[str, Any]] | None = None) -> None:
        orders = queryset.select_related("merchant__account").order_by("pk").defer(
            "raw_data", "merchant__account__credentials")
        if action == "acknowledge":  # its skip check reads every order's items: one query
            orders = orders.prefetch_related("items")
        orders = orders[: services.BULK_MAX_ORDERS + 1]
        try:
            run = dispatch.bulk_run_start(action=action, orders=orders, actor=request.user,
                                          per_order=per_order)
        except OrderActionRefused as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        counts = Counter(run.items.values_list("outcome", flat=True))
        skipped = counts.pop(BulkRunItem.Outcome.SKIPPED, 0)
        started = sum(counts.values())
        self.message_user(
            request,
            f"{run.label}: {started} order(s) sent to the worker, {skipped} skipped "
            f"(run #{run.pk}; the outcome of each order is shown above the list).",
            messages.SUCCESS if started else messages.WARNING,
        )

    @admin.action(description="Place selected orders with their provider",
                  permissions=["run_transitions"])
    def place_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._start_bulk(request, queryset, "place")

    @admin.action(description="Sync selected orders now", permissions=["run_transitions"])
    def sync_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._start_bulk(request, queryset, "sync")

    @admin.action(description="Cancel selected orders", permissions=["run_transitions"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._start_bulk(request, queryset, "cancel")

    @admin.action(description="Acknowledge all items of selected orders",
                  permissions=["run_transitions"])
    def acknowledge_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._start_bulk(request, queryset, "acknowledge")

    @admin.action(description="Mark selected orders shipped (asks for tracking numbers)",
                  permissions=["run_transitions"])
    def mark_shipped_selected(self, request: HttpRequest,
                              queryset: QuerySet[Order]) -> HttpResponse | None:
        orders = list(queryset.select_related("merchant__account").order_by("pk")[:200])
        form = BulkShipForm(request.POST if "apply" in request.POST else None)
        rows = bulk_ship_rows(orders)  # each order with its provider's carriers, as one ship
        errors = []
        if "apply" in request.POST and form.is_valid():
            per_order = {}
            for row in rows:
                order = row["order"]
                carrier = request.POST.get(f"carrier_{order.pk}", form.cleaned_data["carrier"])
                if row["carriers"] and carrier not in {v for v, _l in row["carriers"]}:
                    errors.append(f"{order.reference}: “{carrier}” is not one of "
                                  f"{order.merchant.account.provider_label}'s carriers.")
                per_order[order.pk] = {
                    "tracking_number": request.POST.get(f"tracking_{order.pk}", "").strip(),
                    "carrier": carrier}
            if not errors:
                self._start_bulk(request, queryset, "mark_shipped", per_order=per_order)
                return None
        return TemplateResponse(request, "admin/orders/order/bulk_ship.html", {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": "Mark orders shipped", "form": form,
            "rows": rows, "errors": errors, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "posted": request.POST if "apply" in request.POST else {},
        })

    # --- CSV of the filtered list, streamed ------------------------------------------------
    def export_csv_view(self, request: HttpRequest) -> HttpResponseBase:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        per = request.GET.get("rows", "orders")
        if per not in ("orders", "items"):
            return HttpResponseBadRequest("rows must be 'orders' or 'items'.")
        params = request.GET.copy()  # the list's own filters only
        params.pop("rows", None)
        request.GET = params  # type: ignore[assignment]
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter in the query string.")
        queryset = changelist.get_queryset(request)
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(csv_rows(queryset, per_item=per == "items"),
                                         content_type="text/csv; charset=utf-8")
        name = "order-items" if per == "items" else "orders"
        response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
        return response

    # --- status graphs -----------------------------------------------------------------------
    def status_graphs_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        providers = []
        order_counts, item_counts = selectors.raw_status_counts()
        here = self._page_order(request.GET.get("order", ""))
        here_key = here.provider if here is not None else ""
        here_items = {i.raw_status for i in here.items.all()} if here is not None else set()
        for key, cls in sorted(registry.all_services().items()):
            table = cls.statuses
            providers.append({
                "key": key, "label": cls.label, "places_orders": cls.places_orders,
                "actions": sorted(labels.action_label(a) for a in table.order_actions),
                "awaiting_payment": [labels.provider_code(table, c)
                                     for c in table.awaiting_payment_codes()],
                "order_svg": mark_safe(status_table_svg(  # noqa: S308 - escaped inside
                    table, counts=order_counts.get(key, {}),
                    current={here.raw_status} if here is not None and here_key == key else ())),
                "item_svg": mark_safe(status_table_svg(  # noqa: S308
                    table, items=True, counts=item_counts.get(key, {}),
                    current=here_items if here_key == key else ()))
                if table.item_statuses else "",
                "current": here if here_key == key else None,
                "no_order_rule": bool(table.order_statuses) and not table.edges(),
            })
        return TemplateResponse(request, "admin/orders/order/status_graphs.html", {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": "Provider status graphs", "providers": providers,
        })
