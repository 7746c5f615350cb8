"""Brandsdistribution in our admin: carrier and auto-confirm choices on a draft order's form,
and the accounts' leftover reservations (read / release).

Glue on the domain side: the provider package (``providers/brandsdistribution``) knows nothing
of our admin or models; this module hands it plain account configurations.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from merchants.provider_requests import account_config
from orders import dispatch
from providers.brandsdistribution import mapping
from providers.brandsdistribution.models import AccountReservation
from providers.brandsdistribution.reservations import reservation_view
from providers.brandsdistribution.service import (
    reservation_read,
    reservation_release,
)
from providers.errors import ProviderError

from .common import order_form_extension_register


class OrderChoices:
    """Adds "Carrier" (a list read from the provider by the worker, cached per account; a free
    id field while it is read or when it cannot be) and "Auto-confirm" to a draft order's
    admin form. The form never waits for the provider."""

    title = "Brandsdistribution"
    field_names = ("bd_carrier", "bd_auto_confirm")

    def extend(self, form_class: type[forms.ModelForm], order: Any) -> type[forms.ModelForm]:
        class Form(form_class):  # type: ignore[valid-type, misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                opts = order.provider_options or {}
                current = str(opts.get("carrierId", "") or "")
                account = order.merchant.account
                read = dispatch.account_bd_carriers_read(account=account)
                carriers = (read.data if read.ready
                            else dispatch.account_bd_carriers_stale(account=account))
                if read.pending:
                    note = ("The carrier list is being read from the provider; reload to pick "
                            "from it")
                elif read.ready:
                    note = "The provider lists no carriers"
                else:
                    note = "The carrier list could not be read" + (
                        f" ({read.error[:200]})" if read.error else "")
                if carriers:
                    choices = [("", "Default carrier (the provider assigns one)")] + [
                        (c["id"], f"{c['name']} (id {c['id']}"
                         + (f", {c['cost']}" if c["cost"] else "") + ")")
                        for c in carriers
                    ]
                    if current and current not in {c for c, _ in choices}:
                        choices.append((current, f"id {current} (not in the list)"))
                    field: forms.Field = forms.ChoiceField(
                        choices=choices, required=False, label="Carrier",
                        help_text="" if read.ready else f"{note} (this list is older).")
                else:
                    field = forms.RegexField(
                        regex=r"^\d*$", required=False, label="Carrier id", max_length=20,
                        help_text=f"{note}; enter a carrier id, or leave empty for the default "
                        "carrier.",
                    )
                field.initial = current
                self.fields["bd_carrier"] = field
                self.fields["bd_auto_confirm"] = forms.BooleanField(
                    required=False, label="Auto-confirm", initial=mapping.auto_confirm(opts),
                    help_text="Let the provider confirm the order when ecredit/settings allow.",
                )

            def clean(self) -> dict[str, Any]:
                data = super().clean() or {}
                opts = dict(data.get("provider_options") or order.provider_options or {})
                carrier = str(data.get("bd_carrier") or "").strip()
                if carrier:
                    opts["carrierId"] = carrier
                else:
                    opts.pop("carrierId", None)
                opts["autoConfirm"] = bool(data.get("bd_auto_confirm"))
                data["provider_options"] = opts
                return data

        return Form


order_form_extension_register("brandsdistribution", OrderChoices())


@admin.register(AccountReservation)
class AccountReservationAdmin(admin.ModelAdmin):
    """Per account: what is locked in its reservation and since when (first seen), with an
    action to release it. The provider's reservation never expires by itself."""

    list_display = ["name", "locked_models", "read_at"]
    actions = ["read_reservation", "release_reservation"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccountReservation]:
        return super().get_queryset(request).filter(provider="brandsdistribution")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Locked (stock id: quantity, since)")
    def locked_models(self, obj: AccountReservation) -> str:
        models = reservation_view(obj.pk)["models"]
        if not models:
            return "nothing known to be locked (read it)"
        return format_html_join(", ", "{}: {} (since {})",
                                ((m["stock_id"], m["locked"], m["since"][:16]) for m in models))

    @admin.display(description="Read at")
    def read_at(self, obj: AccountReservation) -> str:
        return str(reservation_view(obj.pk)["read_at"] or "—")[:19]

    @admin.action(description="Read the reservation now", permissions=["change"])
    def read_reservation(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for account in queryset:
            result = reservation_read(account_config(account))
            level = messages.ERROR if result["error"] else messages.INFO
            self.message_user(request, f"{account}: {len(result['models'])} model(s) locked"
                              + (f" — unreadable: {result['error']}" if result["error"] else ""),
                              level)

    @admin.action(description="Release everything reserved (unlock)", permissions=["change"])
    def release_reservation(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for account in queryset:
            try:
                note = reservation_release(account_config(account))
            except ProviderError as exc:
                self.message_user(request, f"{account}: not released — {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{account}: {note}")
