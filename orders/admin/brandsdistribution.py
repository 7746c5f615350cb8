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
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from merchants import dispatch as merchant_dispatch
from orders import dispatch
from providers.brandsdistribution import mapping
from providers.brandsdistribution.models import AccountReservation
from providers.brandsdistribution.reservations import reservation_view

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
    """Per account: what is locked in its reservation and since when (first seen), with
    actions to read it again and to release it. Both run in the worker (a web request never
    calls the provider): the "Worker" column says "Reading…"/"Releasing…" and refreshes
    itself (htmx) until the outcome is there. The provider's reservation never expires by
    itself."""

    list_display = ["name", "locked_models", "read_at", "worker_status"]
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

    @admin.display(description="Worker")
    def worker_status(self, obj: AccountReservation) -> str:
        """The last read/release asked for, in plain words (a read of the cache only)."""
        reading, read = merchant_dispatch.account_reservation_read_state(account=obj)
        release = merchant_dispatch.account_reservation_release_result(account=obj)
        if (release is not None and release.pending) or reading:
            text = ("Releasing the reservation at Brandsdistribution…"
                    if release is not None and release.pending
                    else "Reading the reservation from Brandsdistribution…")
            url = reverse("admin:brandsdistribution_accountreservation_changelist")
            return format_html(
                '<span id="dd-res-{}" class="dd-working" hx-get="{}" hx-trigger="every 2s" '
                'hx-select="#dd-res-{}" hx-swap="outerHTML"><span class="dd-dot"></span>{}'
                "</span>", obj.pk, url, obj.pk, text)
        if read is not None and read.failed:
            return format_html('<span id="dd-res-{}">Could not read it: {}</span>', obj.pk,
                               read.error)
        if release is not None and release.ready and isinstance(release.data, dict):
            return format_html('<span id="dd-res-{}">Last release: {}</span>', obj.pk,
                               release.data.get("message") or "")
        if release is not None and release.failed:
            return format_html('<span id="dd-res-{}">Last release: {}</span>', obj.pk,
                               release.error)
        return format_html('<span id="dd-res-{}">—</span>', obj.pk)

    @admin.action(description="Read the reservation now", permissions=["change"])
    def read_reservation(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for account in queryset:
            result = merchant_dispatch.account_reservation_read(account=account, refresh=True)
            if result.pending:
                self.message_user(request, f"{account}: reading the reservation from "
                                  "Brandsdistribution… this page shows it when done.")
            elif result.failed:
                self.message_user(request, f"{account}: unreadable — {result.error}",
                                  messages.ERROR)
            else:
                models = (result.data or {}).get("models") or []
                self.message_user(request, f"{account}: {len(models)} model(s) locked")

    @admin.action(description="Release everything reserved (unlock)", permissions=["change"])
    def release_reservation(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for account in queryset:
            result = merchant_dispatch.account_reservation_release(account=account)
            data = result.data if result.ready and isinstance(result.data, dict) else None
            if result.pending:
                self.message_user(request, f"{account}: releasing the reservation at "
                                  "Brandsdistribution… this page shows the outcome.")
            elif data is not None and data.get("released"):
                self.message_user(request, f"{account}: {data.get('message')}")
            else:
                detail = (data or {}).get("message") or result.error
                self.message_user(request, f"{account}: not released — {detail}",
                                  messages.ERROR)
