"""Admin pages for provider-side drafts and extra information (reseller v3).

Mounted by ``OrderAdmin.get_urls``: create the provider draft, poll the execution now, and
edit the order's custom fields / an item's characteristics with a form built from what the
provider's GET returns. Thin: the worker reads those values (``dispatch.*_read``: the page
shows "Reading…" and polls until they are there) and each write is queued for the worker
through ``orders.dispatch``; no provider call happens in the request.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from providers import registry
from providers.errors import ProviderError

from . import dispatch
from .errors import OrderActionRefused, OrderValidationError
from .models import TRANSITION_PERMISSION, Order, OrderItem

QUEUED = "this page shows the outcome when the worker is done."


def values_form(fields: list[dict[str, Any]], *, data: Any = None,
                read_only: bool = False) -> forms.Form:
    """A form with one field per provider value (choices → select, otherwise text)."""
    form = forms.Form(data=data)
    for spec in fields:
        name = spec["name"]
        initial = "" if spec.get("value") is None else str(spec.get("value"))
        common = {"label": spec.get("label") or name, "initial": initial,
                  "required": bool(spec.get("required")), "disabled": read_only}
        if spec.get("choices"):
            choices = [("", "—")] + [(c, c) for c in spec["choices"]]
            form.fields[name] = forms.ChoiceField(choices=choices, **common)
        else:
            form.fields[name] = forms.CharField(max_length=1000, **common)
    return form


def provider_tools(order: Order) -> str:
    """Links/buttons for the order page (empty for providers without these verbs)."""
    if not order.pk:
        return ""
    cls = registry.get(order.provider)
    if cls is None:
        return ""
    links: list[tuple[str, str]] = []
    if cls.supports("create_draft") and order.is_editable and not order.external_id:
        links.append((reverse("admin:orders_order_provider_draft", args=[order.pk]),
                      "Create provider draft (then add/remove items there)"))
    if order.external_id and cls.supports("poll_execution") and order.state in ("placed",
                                                                                  "in_progress"):
        links.append((reverse("admin:orders_order_execution_poll", args=[order.pk]),
                      "Check execution status now"))
    if order.external_id and cls.supports("custom_fields_get"):
        links.append((reverse("admin:orders_order_custom_fields", args=[order.pk]),
                      "Custom fields"))
    if order.external_id and cls.supports("item_characteristics_get"):
        for item in order.items.exclude(external_id=""):
            links.append((reverse("admin:orders_order_item_characteristics",
                                  args=[order.pk, item.pk]), f"Characteristics: {item}"))
    if not links:
        return "—"
    return format_html("<ul>{}</ul>", format_html_join(
        "", '<li><a class="button" href="{}">{}</a></li>', links))


class ProviderAdminViews:
    """Mixed into OrderAdmin."""

    def provider_urls(self: Any) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/provider/draft/", wrap(self.provider_draft_view),
                 name="orders_order_provider_draft"),
            path("<int:pk>/provider/execution/", wrap(self.execution_poll_view),
                 name="orders_order_execution_poll"),
            path("<int:pk>/provider/custom-fields/", wrap(self.custom_fields_view),
                 name="orders_order_custom_fields"),
            path("<int:pk>/provider/items/<int:item_pk>/characteristics/",
                 wrap(self.characteristics_view), name="orders_order_item_characteristics"),
        ]

    def _back(self, order: Order) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def _refused(self: Any, request: HttpRequest, exc: Exception) -> None:
        text = exc.message if isinstance(exc, (OrderActionRefused, OrderValidationError)) else (
            f"Provider refused: {exc}")
        self.message_user(request, text, messages.ERROR)

    def _require_operator(self: Any, request: HttpRequest) -> None:
        """These pages call the provider and may change the order: operators only, for the
        confirmation page (GET) and the action (POST) alike."""
        if not request.user.has_perm(TRANSITION_PERMISSION):
            raise PermissionDenied("Read-only access: you cannot change orders.")

    def provider_draft_view(self: Any, request: HttpRequest, pk: int) -> HttpResponse:
        self._require_operator(request)
        order = get_object_or_404(Order, pk=pk)
        if request.method != "POST":
            return TemplateResponse(request, "admin/orders/provider_confirm.html", {
                **self.admin_site.each_context(request), "order": order,
                "title": "Create the provider draft",
                "question": "Create this order's draft at the provider now? Its items are "
                            "added there; later item changes go there too while it is Draft. "
                            "The provider deletes drafts 7 days after creation."})
        try:
            result = dispatch.order_provider_draft_enqueue(order=order, actor=request.user)
        except OrderActionRefused as exc:
            self._refused(request, exc)
        else:
            self.message_user(request, f"{result.message}; {QUEUED}", messages.SUCCESS)
        return self._back(order)

    def execution_poll_view(self: Any, request: HttpRequest, pk: int) -> HttpResponse:
        """Ask the provider now (it may move the order): POST only; GET shows what a POST
        would do and changes nothing."""
        self._require_operator(request)
        order = get_object_or_404(Order, pk=pk)
        if request.method != "POST":
            return TemplateResponse(request, "admin/orders/provider_confirm.html", {
                **self.admin_site.each_context(request), "order": order,
                "title": "Check the execution status now",
                "question": "Ask the provider now how the execution of this order goes? "
                            "Its answer is applied to the order (state and raw status)."})
        try:
            result = dispatch.order_execution_poll_enqueue(order=order, actor=request.user)
        except OrderActionRefused as exc:
            self._refused(request, exc)
        else:
            self.message_user(request, f"{result.message}; {QUEUED}", messages.SUCCESS)
        return self._back(order)

    def _values_page(self: Any, request: HttpRequest, order: Order, title: str, what: str,
                     read: Any, peek: Any, write: Any) -> HttpResponse:
        """The form of the provider's values. The worker reads them (``dispatch.*_read``):
        while it does, the page says so and polls itself; a failed read shows its reason and
        "Read again"; a POST is checked against the stored read, never a fresh call."""
        can_write = request.user.has_perm(TRANSITION_PERMISSION)
        if request.method == "POST" and not can_write:
            raise PermissionDenied("Read-only access: you cannot change orders.")
        provider = order.merchant.account.provider_label
        context = {**self.admin_site.each_context(request), "order": order, "title": title,
                   "can_write": can_write, "form": None, "error": "", "what": what,
                   "provider": provider, "reading": False, "read_error": "", "read_at": None}
        page = "admin/orders/provider_values_form.html"
        try:
            if request.method == "POST":
                stored = peek()
                if stored is None or not stored.ready:
                    read(True)
                    context.update(reading=True, error=(
                        f"Nothing saved: the {what} this form showed are no longer known "
                        f"here. They are being read from {provider} again; check them, then "
                        "save again."))
                    return TemplateResponse(request, page, context)
                result = stored
            else:
                result = read(request.GET.get("refresh") == "1")
        except OrderActionRefused as exc:
            context["error"] = exc.message
            return TemplateResponse(request, page, context)
        if result.pending:
            context["reading"] = True
            return TemplateResponse(request, page, context)
        if result.failed:
            context["read_error"] = result.error
            return TemplateResponse(request, page, context)
        context["read_at"] = result.read_at
        fields = result.data or []
        if request.method == "POST":
            form = values_form(fields, data=request.POST)
            if form.is_valid():
                changed = {k: form.cleaned_data[k] for k in form.changed_data}
                if not changed:
                    self.message_user(request, "Nothing changed.", messages.INFO)
                    return self._back(order)
                try:
                    dispatched = write(changed)
                except OrderActionRefused as exc:
                    context["error"] = exc.message
                else:
                    self.message_user(request, f"{title}: {dispatched.message}; {QUEUED}",
                                      messages.SUCCESS)
                    return self._back(order)
        else:
            form = values_form(fields, read_only=not can_write)
        context["form"] = form
        return TemplateResponse(request, page, context)

    def custom_fields_view(self: Any, request: HttpRequest, pk: int) -> HttpResponse:
        order = get_object_or_404(Order.objects.select_related("merchant__account"), pk=pk)
        return self._values_page(
            request, order, f"Custom fields of {order.reference}", "custom fields",
            lambda refresh: dispatch.order_custom_fields_read(
                order=order, actor=request.user, refresh=refresh),
            lambda: dispatch.order_custom_fields_peek(order=order),
            lambda values: dispatch.order_custom_fields_set_enqueue(
                order=order, values=values, actor=request.user),
        )

    def characteristics_view(self: Any, request: HttpRequest, pk: int,
                             item_pk: int) -> HttpResponse:
        item = get_object_or_404(OrderItem.objects.select_related("order__merchant__account"),
                                 pk=item_pk, order_id=pk)
        return self._values_page(
            request, item.order, f"Characteristics of {item}", "characteristics",
            lambda refresh: dispatch.order_item_characteristics_read(
                item=item, actor=request.user, refresh=refresh),
            lambda: dispatch.order_item_characteristics_peek(item=item),
            lambda values: dispatch.order_item_characteristics_set_enqueue(
                item=item, values=values, actor=request.user),
        )

    def save_provider_items(self: Any, request: HttpRequest, order: Order, formset: Any) -> None:
        """Item inline of a provider-backed draft: adds and deletes go through
        ``orders.dispatch`` — saved or checked here, the provider half queued for the worker;
        edits of items already there are refused."""
        instances = formset.save(commit=False)
        # after the form's transaction (TransitionAfterCommitMixin): the order form saved first
        later = getattr(self, "run_after_form_commit", lambda request, work: work())

        def done(result: dispatch.Dispatched) -> None:
            if result.queued:
                self.message_user(request, f"{result.message}; {QUEUED}", messages.SUCCESS)

        def remove(obj: Any) -> None:
            try:
                done(dispatch.order_item_remove_enqueue(item=obj, actor=request.user))
            except (OrderActionRefused, ProviderError) as exc:
                self._refused(request, exc)

        def add(fields: dict[str, Any]) -> None:
            try:
                done(dispatch.order_item_add_enqueue(order=order, actor=request.user, **fields))
            except (OrderActionRefused, OrderValidationError, ProviderError) as exc:
                self._refused(request, exc)

        for obj in formset.deleted_objects:
            later(request, lambda obj=obj: remove(obj))
        for obj in instances:
            if obj.pk is None:
                fields = {f: getattr(obj, f) for f in ("name", "product_id", "sku", "quantity",
                                                       "unit_price")}
                later(request, lambda fields=fields: add(fields))
            elif obj.external_id:
                self.message_user(
                    request, f"'{obj}' is at the provider, which cannot change an item: "
                    "delete it and add it again.", messages.WARNING)
            else:
                obj.save()
