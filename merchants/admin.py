from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django_fsm.admin import FSMAdminMixin

from providers import registry
from providers.errors import ProviderError

from . import services
from .models import Integration, Merchant, MerchantEvent, ProviderAccount


def _credential_names() -> dict[str, tuple[str, list[str]]]:
    """credential name -> (label, providers using it), across installed providers."""
    names: dict[str, tuple[str, list[str]]] = {}
    for key, cls in sorted(registry.all_services().items()):
        for field in cls.credential_fields:
            label, users = names.get(field.name, (field.label, []))
            names[field.name] = (label, [*users, key])
    return names


class ProviderAccountForm(forms.ModelForm):
    """Credentials are write-only: each is a blank password input; blank keeps the stored value."""

    class Meta:
        model = ProviderAccount
        fields = ["provider", "name", "environment", "base_url", "options", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        provider = self.instance.provider if self.instance.pk else None
        for name, (label, users) in _credential_names().items():
            if provider and provider not in users:
                continue
            self.fields[f"cred__{name}"] = forms.CharField(
                label=label,
                required=False,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                help_text=("Used by: " + ", ".join(users) + ". ") + "Leave blank to keep the stored value.",
            )

    def save(self, commit: bool = True) -> ProviderAccount:
        account = super().save(commit=False)
        new = {k[6:]: v for k, v in self.cleaned_data.items() if k.startswith("cred__") and v}
        if new:
            account.credentials = {**account.credentials, **new}
        if commit:
            account.save()
        return account


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    list_display = ["name", "provider", "environment", "base_url", "is_active", "merchant_count"]
    list_filter = ["provider", "environment", "is_active"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["credentials_status", "sync_state", "created_at", "updated_at"]
    actions = ["check_accounts"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProviderAccount]:
        from django.db.models import Count

        return super().get_queryset(request).annotate(n_merchants=Count("merchants"))

    @admin.display(description="Merchants", ordering="n_merchants")
    def merchant_count(self, obj: ProviderAccount) -> int:
        return getattr(obj, "n_merchants", 0)

    @admin.display(description="Stored credentials")
    def credentials_status(self, obj: ProviderAccount) -> str:
        masked = obj.masked_credentials()
        if not masked:
            return "none stored"
        return format_html_join("", "<div><code>{}</code>: {}</div>", masked.items())

    @admin.display(description="Provider bookkeeping")
    def sync_state(self, obj: ProviderAccount) -> str:
        import json

        return format_html("<pre>{}</pre>", json.dumps(obj.state, indent=2, default=str))

    @admin.action(description="Check credentials with a harmless call")
    def check_accounts(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        for account in queryset:
            try:
                note = services.account_check(account=account)
            except ProviderError as exc:
                self.message_user(request, f"{account}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{account}: OK {note}", messages.SUCCESS)


class MerchantEventInline(admin.TabularInline):
    model = MerchantEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "message", "actor"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Merchant)
class MerchantAdmin(FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["auth_state"]
    list_display = ["name", "account", "external_id", "auth_state", "authorization_expires_at",
                    "days_left_display"]
    list_filter = ["auth_state", "account__provider", "account"]
    search_fields = ["name", "external_id", "contact_email"]
    list_select_related = ["account"]
    readonly_fields = ["auth_state", "authorized_at", "authorization_expires_at", "created_at"]
    inlines = [MerchantEventInline]

    @admin.display(description="Days left", ordering="authorization_expires_at")
    def days_left_display(self, obj: Merchant) -> str:
        days = obj.days_left
        return "—" if days is None else str(days)

    def _apply_fsm_transition(self, *, obj: Merchant, transition_name: str, request: HttpRequest,
                              kwargs: Any = None) -> bool:
        if transition_name != "revoke":
            self.message_user(request, "Not available here.", messages.ERROR)
            return False
        services.merchant_revoke(merchant=obj, actor=request.user)
        self.message_user(request, f"Authorization of {obj} revoked.", messages.SUCCESS)
        return True


# --- REST API integrations ---------------------------------------------------------------------
@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    """API clients. Adding one creates its service user and shows its token once."""

    list_display = ["name", "user", "scope", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    filter_horizontal = ["merchants"]
    fields = ["name", "merchants", "is_active", "user", "created_at"]
    readonly_fields = ["user", "created_at"]
    actions = ["rotate_token"]

    @admin.display(description="Merchants")
    def scope(self, obj: Integration) -> str:
        names = [m.name for m in obj.merchants.all()]
        return ", ".join(names) if names else "all"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Integration]:
        return super().get_queryset(request).select_related("user").prefetch_related("merchants")

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        integration, key = services.integration_create(
            name=obj.name, merchants=list(form.cleaned_data.get("merchants") or [])
        )
        if not obj.is_active:
            Integration.objects.filter(pk=integration.pk).update(is_active=False)
        obj.pk, obj.user, obj.created_at = integration.pk, integration.user, integration.created_at
        self.message_user(
            request,
            f"Token for '{obj.name}' (shown only this once): {key}",
            messages.WARNING,
        )

    @admin.action(description="Issue a new token (the old one stops working)")
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset.select_related("user"):
            key = services.integration_token_rotate(integration=integration)
            self.message_user(
                request, f"New token for '{integration.name}' (shown only this once): {key}",
                messages.WARNING,
            )
