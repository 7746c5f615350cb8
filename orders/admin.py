from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, Prefetch, QuerySet, When
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
from django_fsm import can_proceed
from django_fsm.admin import FSMAdminMixin

from merchants.models import Merchant
from providers import registry
from providers.errors import ProviderError, ProviderNotSupported
from providers.graph import status_table_svg

from . import selectors, services
from .errors import OrderActionRefused
from .forms import NoteForm
from .models import (
    TRANSITION_PERMISSION,
    BulkRun,
    BulkRunItem,
    Order,
    OrderEvent,
    OrderItem,
    Shipment,
    ShipmentLine,
)
from .provider_admin import ProviderAdminViews, provider_tools

STATE_COLOURS = {
    "draft": "#6c757d", "placing": "#0d6efd", "placed": "#0d6efd", "in_progress": "#0dcaf0",
    "partially_shipped": "#6f42c1", "shipped": "#198754", "completed": "#146c43",
    "placement_unknown": "#fd7e14", "failed": "#dc3545", "on_hold": "#ffc107",
    "cancelled": "#495057", "expired": "#adb5bd",
}


def state_badge(obj: Any) -> str:
    colour = STATE_COLOURS.get(obj.state, "#6c757d")
    return format_html(
        '<span class="dd-badge" style="background:{};color:#fff;padding:2px 6px;'
        'border-radius:8px;white-space:nowrap">{}</span>',
        colour, obj.get_state_display(),
    )


def pretty_json(value: Any) -> str:
    return format_html(
        '<details><summary>show</summary><pre style="white-space:pre-wrap">{}</pre></details>',
        json.dumps(value, indent=2, sort_keys=True, default=str),
    )


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    fields = ["name", "product_id", "sku", "quantity", "confirmed_quantity", "unit_price",
              "state", "raw_status", "next_statuses"]
    readonly_fields = ["state", "raw_status", "next_statuses", "confirmed_quantity"]
    show_change_link = True

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(obj is None or obj.is_editable) and super().has_change_permission(request, obj)

    has_add_permission = has_change_permission  # type: ignore[assignment]
    has_delete_permission = has_change_permission  # type: ignore[assignment]


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0
    fields = readonly_fields = ("carrier", "tracking_number", "state", "pushed_at", "shipped_at")
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "kind", "message", "operation", "http_status",
                                "duration_ms", "outcome", "actor")
    verbose_name_plural = "Timeline"

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ProviderFilter(admin.SimpleListFilter):
    title = "provider"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, cls.label) for key, cls in sorted(registry.all_services().items())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value():
            return queryset.filter(merchant__account__provider=self.value())
        return queryset


class MerchantFilter(admin.SimpleListFilter):
    """Merchants of the chosen provider only (there may be thousands in all): pick a provider
    first, or search by merchant name in the search box."""

    title = "merchant (pick a provider first)"
    parameter_name = "merchant"
    limit = 100

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        provider = request.GET.get(ProviderFilter.parameter_name)
        qs = Merchant.objects.order_by("name")
        if provider:
            rows = qs.filter(account__provider=provider).values_list("pk", "name")[: self.limit]
        elif self.value():
            rows = qs.filter(pk=self.value() if str(self.value()).isdigit() else 0).values_list(
                "pk", "name"
            )
        else:
            return []
        return [(str(pk), name) for pk, name in rows]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        if value and str(value).isdigit():
            return queryset.filter(merchant_id=int(value))
        return queryset


class QuickFilter(admin.SimpleListFilter):
    """The status tabs above the list (also offered in the sidebar)."""

    title = "quick filter"
    parameter_name = "tab"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _q) in selectors.order_tabs().items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        tabs = selectors.order_tabs()
        value = self.value()
        if value and value in tabs:
            return queryset.filter(tabs[value][1])
        return queryset


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_safe(value: Any) -> Any:
    """Keep spreadsheets from running cell text as formulas."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class BulkShipForm(forms.Form):
    carrier = forms.CharField(required=False, max_length=120,
                              help_text="Same carrier for all; empty: other carrier.")


CSV_COLUMNS = [
    ("reference", "reference"), ("state", "state"), ("raw_status", "raw_status"),
    ("provider", "merchant__account__provider"), ("merchant", "merchant__name"),
    ("external_id", "external_id"), ("contact_name", "contact_name"),
    ("contact_email", "contact_email"), ("country", "country"), ("currency", "currency"),
    ("total", "total"), ("created_at", "created_at"), ("placed_at", "placed_at"),
    ("failure_reason", "failure_reason"),
]


class TransitionAfterCommitMixin:
    """Run the change form's provider calls after the admin's form transaction committed.

    Django's change form saves inside ``transaction.atomic``; django-fsm's ``response_change``
    ran the transition inside it too (and the item inline of a provider-side draft added and
    removed items there), so the provider call happened with the write lock held and the
    `placing` claim uncommitted — on SQLite the demo sandboxes (served by this same process)
    could not write and the call failed. The form is still saved atomically; the provider
    work is queued with ``run_after_form_commit`` and runs once that block is closed.
    """

    def run_after_form_commit(self, request: HttpRequest, work: Any) -> None:
        queue = getattr(request, "_dd_after_commit", None)
        if queue is None:
            work()  # not inside the change form: nothing to wait for
        else:
            queue.append(work)

    def response_change(self, request: HttpRequest, obj: Any) -> Any:
        if (request.POST.get(self.fsm_post_param)  # type: ignore[attr-defined]
                and getattr(request, "_dd_after_commit", None) is not None):
            return None  # changeform_view runs the transition after the commit
        return super().response_change(request, obj)  # type: ignore[misc]

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        queue: list[Any] = []
        request._dd_after_commit = queue  # type: ignore[attr-defined]
        try:
            response = super().changeform_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context)
        finally:
            request._dd_after_commit = None  # type: ignore[attr-defined]
        for work in queue:
            work()
        if response is None:  # a transition button: the form saved, now the transition
            obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
            return self.response_change(request, obj)
        return response


@admin.register(Order)
class OrderAdmin(TransitionAfterCommitMixin, ProviderAdminViews, FSMAdminMixin,
                 admin.ModelAdmin):
    fsm_fields = ["state"]
    change_list_template = "admin/orders/order/change_list.html"
    change_form_template = "admin/orders/order/change_form.html"
    fsm_transition_form_template = "admin/orders/order/transition_form.html"
    fsm_forms = {"ship": "orders.forms.OrderShipForm"}  # carrier choices per provider
    list_display = ["reference", "badge", "raw_status", "provider", "merchant", "contact_name",
                    "total_display", "draft_days_left", "age"]
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
    readonly_fields = ["state", "raw_status", "failure_reason", "external_id", "external_ids",
                       "items_total", "total", "ordered_at", "placed_at", "synced_at",
                       "expires_at", "created_at", "updated_at", "raw_data_pretty",
                       "draft_days_left", "provider_tools_html"]
    fieldsets = [
        (None, {"fields": ["merchant", "reference", "state", "raw_status", "failure_reason",
                           "external_id", "external_ids"]}),
        ("Shipping address", {"fields": ["contact_name", "contact_email", "phone_prefix",
                                         "phone_number", "address_line1", "address_line2",
                                         "city", "region", "postal_code", "country"]}),
        ("Money", {"fields": ["currency", "items_total", "shipping_total", "total"]}),
        ("Provider actions", {"fields": ["provider_tools_html"]}),
        ("Provider data", {"fields": ["provider_options", "raw_data_pretty"],
                           "classes": ["collapse"]}),
        ("Dates", {"fields": ["ordered_at", "placed_at", "synced_at", "expires_at",
                              "draft_days_left", "created_at", "updated_at"]}),
    ]
    # The timeline is drawn by the change form template (readable, with the note form).
    inlines = [OrderItemInline, ShipmentInline]

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
    def has_run_transitions_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(TRANSITION_PERMISSION))

    def _refuse_unless_operator(self, request: HttpRequest) -> None:
        if request.method != "POST":
            raise PermissionDenied("Use the buttons on the order page.")
        if not self.has_run_transitions_permission(request):
            raise PermissionDenied("Read-only access: you cannot change orders.")

    # Transition buttons run through the service layer, never the bare model method.
    def _apply_fsm_transition(self, *, obj: Any, transition_name: str, request: HttpRequest,
                              kwargs: Any = None) -> bool:
        try:
            services.order_run_transition(
                order=obj, name=transition_name, actor=request.user, payload=kwargs or {}
            )
        except OrderActionRefused as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return False
        except ProviderError as exc:
            self.message_user(request, f"Provider refused: {exc}", messages.ERROR)
            return False
        obj.refresh_from_db()
        level = messages.WARNING if obj.failure_reason else messages.SUCCESS
        self.message_user(
            request,
            f"{obj.reference}: {transition_name} → {obj.get_state_display()}"
            + (f" — {obj.failure_reason}" if obj.failure_reason else ""),
            level,
        )
        return True

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
            order = services.order_sync(order=order, actor=request.user)
        except OrderActionRefused as exc:
            self.message_user(request, exc.message, messages.ERROR)
        except ProviderError as exc:
            self.message_user(request, f"Sync failed: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"Synced: now {order.get_state_display()} "
                              f"({order.raw_status_label or 'no raw status'}).", messages.SUCCESS)
        return redirect("admin:orders_order_change", order.pk)

    def lookup_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        self._refuse_unless_operator(request)
        order = self._order_or_404(request, object_id)
        try:
            order = services.order_reconcile_from_provider(order=order, actor=request.user)
        except ProviderNotSupported as exc:
            self.message_user(request, f"{exc} Use the reconcile form.", messages.WARNING)
        except (OrderActionRefused, ProviderError) as exc:
            self.message_user(request, f"Lookup failed: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"Looked up: now {order.get_state_display()}.",
                              messages.SUCCESS)
        return redirect("admin:orders_order_change", order.pk)

    def acknowledge_items_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Acknowledge every item the provider lets us acknowledge, in one provider call."""
        self._refuse_unless_operator(request)
        order = self._order_or_404(request, object_id)
        items = self._acknowledgeable_items(order)
        try:
            services.order_items_set_status(order=order, items=items,
                                            transition_name="acknowledge", actor=request.user)
        except (OrderActionRefused, ProviderError) as exc:
            self.message_user(request, f"Not acknowledged: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"{len(items)} item(s) acknowledged.", messages.SUCCESS)
        return redirect("admin:orders_order_change", order.pk)

    @staticmethod
    def _acknowledgeable_items(order: Order) -> list[OrderItem]:
        items = list(order.items.all())
        for item in items:
            item.order = order  # the transition condition reads the provider's table
        return [i for i in items if can_proceed(i.acknowledge)]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = dict(extra_context or {})
        if str(object_id).isdigit():
            context["timeline"] = list(
                OrderEvent.objects.filter(order_id=int(object_id)).select_related("actor")
                .order_by("-created_at", "-id")[:500]
            )
            order = Order.objects.select_related("merchant__account").filter(
                pk=int(object_id)).first()
            context["ack_count"] = len(self._acknowledgeable_items(order)) if order else 0
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
            for key, label in [("", "All"), *[(k, v[0]) for k, v in selectors.order_tabs().items()]]:
                params = request.GET.copy()
                params.pop(QuickFilter.parameter_name, None)
                params.pop("p", None)
                if key:
                    params[QuickFilter.parameter_name] = key
                tabs.append({"key": key or "all", "label": label, "count": counts[key or "all"] if not key
                             else selectors.tab_count_label(counts[key]),
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
            run = services.bulk_run_start(action=action, orders=orders, actor=request.user,
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
        if "apply" in request.POST and form.is_valid():
            carrier = form.cleaned_data["carrier"]
            per_order = {
                o.pk: {"tracking_number": request.POST.get(f"tracking_{o.pk}", "").strip(),
                       "carrier": carrier}
                for o in orders
            }
            self._start_bulk(request, queryset, "mark_shipped", per_order=per_order)
            return None
        rows = [{"order": o, "allowed": can_proceed(o.ship)} for o in orders]
        return TemplateResponse(request, "admin/orders/order/bulk_ship.html", {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": "Mark orders shipped", "form": form,
            "rows": rows, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })

    # --- CSV of the filtered list, streamed ------------------------------------------------
    def export_csv_view(self, request: HttpRequest) -> HttpResponseBase:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter in the query string.")
        queryset = changelist.get_queryset(request)
        rows = queryset.values_list(*[f for _n, f in CSV_COLUMNS]).iterator(chunk_size=2000)
        writer = csv.writer(_Echo())

        def stream() -> Any:
            yield writer.writerow([n for n, _f in CSV_COLUMNS])
            for row in rows:
                yield writer.writerow([_csv_safe(v) for v in row])

        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
        return response

    # --- status graphs -----------------------------------------------------------------------
    def status_graphs_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        providers = []
        for key, cls in sorted(registry.all_services().items()):
            table = cls.statuses
            providers.append({
                "key": key, "label": cls.label, "places_orders": cls.places_orders,
                "actions": sorted(table.order_actions),
                "awaiting_payment": table.awaiting_payment_codes(),
                "order_svg": mark_safe(status_table_svg(table)),  # noqa: S308 - escaped inside
                "item_svg": mark_safe(status_table_svg(table, items=True))  # noqa: S308
                if table.item_statuses else "",
            })
        return TemplateResponse(request, "admin/orders/order/status_graphs.html", {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "title": "Provider status graphs", "providers": providers,
        })


@admin.register(OrderItem)
class OrderItemAdmin(TransitionAfterCommitMixin, FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["state"]
    list_display = ["__str__", "order", "sku", "quantity", "confirmed_quantity", "state",
                    "raw_status"]
    list_filter = ["state", "order__merchant__account__provider"]
    list_select_related = ["order__merchant__account"]
    search_fields = ["sku", "product_id", "name", "external_id", "order__reference"]
    readonly_fields = ["order", "state", "raw_status", "next_statuses", "confirmed_quantity",
                       "external_id", "raw_data"]
    raw_id_fields = ["order"]

    def _apply_fsm_transition(self, *, obj: Any, transition_name: str,
                              request: HttpRequest, kwargs: Any = None) -> bool:
        try:
            services.order_items_set_status(
                order=obj.order, items=[obj], transition_name=transition_name,
                actor=request.user, comment=(kwargs or {}).get("comment", ""),
            )
        except (OrderActionRefused, ProviderError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return False
        self.message_user(request, f"Item moved: {transition_name}.", messages.SUCCESS)
        return True

    def _get_fsm_extra_context(self, *, request: HttpRequest, obj: Any) -> Any:
        if not request.user.has_perm(TRANSITION_PERMISSION):
            return iter(())
        return super()._get_fsm_extra_context(request=request, obj=obj)


class ShipmentLineInline(admin.TabularInline):
    model = ShipmentLine
    extra = 0
    raw_id_fields = ["item"]


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "order", "carrier", "tracking_number", "state", "pushed_at",
                    "created_at"]
    list_filter = ["state", "carrier", "order__merchant__account__provider"]
    list_select_related = ["order__merchant__account"]
    search_fields = ["tracking_number", "order__reference", "carrier"]
    readonly_fields = ["order", "state", "pushed_at", "shipped_at", "delivered_at", "raw_data"]
    date_hierarchy = "created_at"
    inlines = [ShipmentLineInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # shipments are created by the order's "Ship" transition


@admin.register(OrderEvent)
class OrderEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "order", "kind", "message", "operation", "http_status",
                    "duration_ms", "outcome", "actor"]
    list_filter = ["kind", "outcome"]
    list_select_related = ["order", "actor"]
    search_fields = ["order__reference", "message", "operation"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- item status bulk actions (Tipser: one request per order with all chosen item ids) ---
def _items_bulk(transition_name: str, label: str):  # type: ignore[no-untyped-def]
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        from collections import defaultdict

        if queryset.model is Order:
            queryset = OrderItem.objects.filter(order__in=queryset)
        by_order: dict[int, list[OrderItem]] = defaultdict(list)
        for item in queryset.select_related("order__merchant__account").order_by("order_id", "id"):
            by_order[item.order_id].append(item)
        for items in by_order.values():
            order = items[0].order
            if modeladmin.model is Order:  # whole orders: the items that can move
                from django_fsm import can_proceed

                items = [i for i in items if can_proceed(getattr(i, transition_name))]
                if not items:
                    continue
            try:
                services.order_items_set_status(order=order, items=items,
                                                transition_name=transition_name, actor=request.user)
            except (OrderActionRefused, ProviderError) as exc:
                modeladmin.message_user(request, f"{order}: {exc}", messages.ERROR)
            else:
                modeladmin.message_user(request, f"{order}: {len(items)} item(s) → {label}",
                                        messages.SUCCESS)

    action.__name__ = f"items_{transition_name}"
    action.short_description = f"{label} (items, one provider request per order)"  # type: ignore[attr-defined]
    action.allowed_permissions = ("transition",)  # type: ignore[attr-defined]
    return action


def _has_transition_permission(self: admin.ModelAdmin, request: HttpRequest) -> bool:
    return request.user.has_perm(TRANSITION_PERMISSION)


OrderItemAdmin.has_transition_permission = _has_transition_permission  # type: ignore[attr-defined]
OrderItemAdmin.actions = [
    _items_bulk(name, label) for name, label in
    [("acknowledge", "Acknowledge"), ("hold", "Hold"), ("cancel", "Cancel"),
     ("mark_returned", "Mark returned")]
]


# --- provider form extensions (brandsdistribution carrier choice, issue 10) ------------------
# provider key -> object with ``title``, ``field_names`` and ``extend(form_class, order)``
# returning a form class that adds those (non-model) fields and folds them into the order
# (e.g. into ``provider_options``). Used on editable (draft) orders only.
ORDER_FORM_EXTENSIONS: dict[str, Any] = {}


def order_form_extension_register(provider: str, extension: Any) -> None:
    ORDER_FORM_EXTENSIONS[provider] = extension


def _order_form_extension(obj: Any) -> Any:
    if obj is None or not getattr(obj, "is_editable", False):
        return None
    return ORDER_FORM_EXTENSIONS.get(obj.merchant.account.provider)
