"""The provider account page: credentials and options as fields, "check credentials" on it.

The form's provider-specific fields are added in ``ProviderAccountForm.__init__``; the admin
builds the form class from the model fields only and lists those extra fields in its
fieldsets (Django's ``modelform_factory`` refuses names that are not model fields).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from providers import registry

from . import dispatch
from .forms import CRED_PREFIX, OPT_PREFIX, credential_fields_for, option_fields_for
from .models import ProviderAccount

CHECK_BUTTON = "_check"


class ProviderAccountFormAdminMixin:
    def _provider_of(self, request: HttpRequest, obj: ProviderAccount | None) -> str | None:
        if obj is not None:
            return str(obj.provider)
        raw = request.POST.get("provider") or request.GET.get("provider")
        return str(raw) if raw and registry.get(str(raw)) is not None else None

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        readonly = set(self.get_readonly_fields(request, obj))  # type: ignore[attr-defined]
        kwargs["fields"] = [f for f in self.form.Meta.fields  # type: ignore[attr-defined]
                            if f not in readonly]
        return super().get_form(request, obj, change, **kwargs)  # type: ignore[misc]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        provider = self._provider_of(request, obj)
        cls = registry.get(provider) if provider else None
        label = cls.label if cls is not None else "the provider"
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ["provider", "name", "environment", "base_url", "is_active"]}),
            (f"Credentials for {label}", {
                "fields": [CRED_PREFIX + spec.name for spec, _u in credential_fields_for(provider)]
                + (["credentials_status"] if obj is not None else []),
                "description": "Write-only: a stored value is never shown again. Leave a box "
                               "blank to keep what is stored.",
            }),
        ]
        options = [OPT_PREFIX + o.name for o in option_fields_for(provider)]
        if options:
            fieldsets.append((f"{label} settings", {"fields": options}))
        fieldsets.append(("Advanced", {"fields": ["options"], "classes": ["collapse"]}))
        if obj is not None:
            fieldsets.append(("Bookkeeping", {"fields": ["sync_state", "created_at", "updated_at"],
                                              "classes": ["collapse"]}))
        return fieldsets

    # --- check credentials (run by the worker; the page polls for the result) -----------------
    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site  # type: ignore[attr-defined]
        return [
            path("<path:object_id>/check/", site.admin_view(self.check_view),
                 name="merchants_provideraccount_check"),
            path("<path:object_id>/check/status/", site.admin_view(self.check_status_view),
                 name="merchants_provideraccount_check_status"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def check_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST only, for users who may change accounts: queue the check, back to the page
        (which shows "Checking credentials…" until the worker answers)."""
        if request.method != "POST":
            raise PermissionDenied("Use the button on the account page.")
        account = self.get_object(request, object_id)  # type: ignore[attr-defined]
        if account is None:
            raise Http404("No such provider account.")
        if not self.has_change_permission(request, account):  # type: ignore[attr-defined]
            raise PermissionDenied("Read-only access: you cannot check credentials.")
        dispatch.account_check_request(account=account)
        return redirect("admin:merchants_provideraccount_change", account.pk)

    def check_status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: the polled fragment with the last check (a read; queues nothing)."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        account = self.get_object(request, object_id)  # type: ignore[attr-defined]
        if account is None or not self.has_view_or_change_permission(  # type: ignore[attr-defined]
                request, account):
            raise Http404("No such provider account.")
        return TemplateResponse(request, "admin/merchants/provideraccount/check_status.html",
                                check_status_context(account))

    def _after_save(self, request: HttpRequest, obj: ProviderAccount,
                    response: HttpResponse) -> HttpResponse:
        if CHECK_BUTTON in request.POST and self.has_change_permission(request, obj):  # type: ignore[attr-defined]
            # the account was just saved in this transaction: the worker reads it once committed
            transaction.on_commit(lambda: dispatch.account_check_request(account=obj))
            return HttpResponseRedirect(
                reverse("admin:merchants_provideraccount_change", args=[obj.pk]))
        return response

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        return self._after_save(request, obj, super().response_add(  # type: ignore[misc]
            request, obj, post_url_continue))

    def response_change(self, request: HttpRequest, obj: Any) -> Any:
        return self._after_save(request, obj, super().response_change(request, obj))  # type: ignore[misc]

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: Any = None) -> Any:
        context["dd_provider_chosen"] = self._provider_of(request, obj) is not None
        if obj is not None:
            context.update(check_status_context(obj))
        context["dd_can_check"] = bool(obj is not None and self.has_change_permission(  # type: ignore[attr-defined]
            request, obj) and registry.get(str(obj.provider)) is not None
            and registry.get(str(obj.provider)).supports("check_account"))  # type: ignore[union-attr]
        return super().render_change_form(  # type: ignore[misc]
            request, context, add=add, change=change, form_url=form_url, obj=obj)


def check_status_context(account: ProviderAccount) -> dict[str, Any]:
    """What the page says of the last credentials check, in plain words."""
    result = dispatch.account_check_result(account=account)
    cls = registry.get(str(account.provider))
    context: dict[str, Any] = {"dd_check_account": account, "dd_check_state": "none",
                               "dd_check_provider": cls.label if cls is not None else "the provider"}
    if result is None:
        return context
    if result.pending:
        context["dd_check_state"] = "pending"
        return context
    data = result.data if result.ready and isinstance(result.data, dict) else {
        "ok": False, "detail": result.error}
    context.update(dd_check_state="ok" if data.get("ok") else "failed",
                   dd_check_detail=str(data.get("detail") or ""),
                   dd_check_at=str(data.get("checked_at") or "")[:16].replace("T", " "))
    return context
