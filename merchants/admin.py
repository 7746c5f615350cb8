from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django_fsm.admin import FSMAdminMixin

from . import dispatch, services
from .account_admin import ProviderAccountFormAdminMixin
from .fields import UNREADABLE_MESSAGE
from .forms import ProviderAccountForm
from .models import Integration, Merchant, MerchantEvent, ProviderAccount
from .schedules import account_schedule_sync


@admin.register(ProviderAccount)
class ProviderAccountAdmin(ProviderAccountFormAdminMixin, admin.ModelAdmin):
    form = ProviderAccountForm
    change_form_template = "admin/merchants/provideraccount/change_form.html"
    list_display = ["name", "provider", "environment", "base_url", "is_active", "merchant_count"]
    list_filter = ["provider", "environment", "is_active"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["credentials_status", "sync_state", "created_at", "updated_at"]
    actions = ["check_accounts", "sync_now"]

    def save_model(self, request: HttpRequest, obj: ProviderAccount, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        account_schedule_sync(account=obj)  # the periodic sync follows interval and activity

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProviderAccount]:
        from django.db.models import Count

        return super().get_queryset(request).annotate(n_merchants=Count("merchants"))

    @admin.display(description="Merchants", ordering="n_merchants")
    def merchant_count(self, obj: ProviderAccount) -> int:
        return getattr(obj, "n_merchants", 0)

    @admin.display(description="Stored credentials")
    def credentials_status(self, obj: ProviderAccount) -> str:
        masked = obj.masked_credentials()
        if not obj.credentials_readable:
            return format_html("<strong>{}</strong>", UNREADABLE_MESSAGE)
        if not masked:
            return "none stored"
        return format_html_join("", "<div><code>{}</code>: {}</div>", masked.items())

    @admin.display(description="Provider bookkeeping")
    def sync_state(self, obj: ProviderAccount) -> str:
        import json

        return format_html("<pre>{}</pre>", json.dumps(obj.state, indent=2, default=str))

    @admin.action(description="Sync incoming orders now (at most once a minute per account)",
                  permissions=["change"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        from orders.dispatch import account_sync_now
        from orders.errors import OrderActionRefused

        for account in queryset.order_by("pk"):
            try:
                note = account_sync_now(account=account, actor=request.user)
            except OrderActionRefused as exc:
                self.message_user(request, f"{account}: {exc.message}", messages.WARNING)
            else:
                self.message_user(request, note, messages.SUCCESS)

    @admin.action(description="Check credentials with a harmless call", permissions=["change"])
    def check_accounts(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        """Queued for the worker: each account's page shows the result."""
        for account in queryset.order_by("pk"):
            result = dispatch.account_check_request(account=account)
            if result.pending:
                self.message_user(request, f"{account}: checking credentials… its page shows "
                                  "the result.", messages.INFO)
                continue
            data = result.data if result.ready and isinstance(result.data, dict) else {
                "ok": False, "detail": result.error}
            self.message_user(request, f"{account}: " + (
                f"OK {data.get('detail')}" if data.get("ok") else
                f"check failed — {data.get('detail')}"),
                messages.SUCCESS if data.get("ok") else messages.ERROR)


@admin.register(MerchantEvent)
class MerchantEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "merchant", "kind", "message", "actor"]
    list_filter = ["kind"]
    list_select_related = ["merchant", "actor"]
    search_fields = ["merchant__name", "message"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MerchantEventInline(admin.TabularInline):
    model = MerchantEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "kind", "message", "actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


AUTH_COLOURS = {
    "pending": "#6c757d", "authorized": "#198754", "expiring": "#c79100", "expired": "#dc3545",
    "revoked": "#495057",
}


def _authorization_link_service() -> Any:
    """The Aliseeks branch's ``merchant_authorization_link_create`` when it is installed."""
    return getattr(services, "merchant_authorization_link_create", None)


def authorization_link_context(merchant: Merchant) -> dict[str, Any]:
    """What the merchant's page says of the last authorization link asked for."""
    result = dispatch.merchant_authorization_link_result(merchant=merchant)
    context: dict[str, Any] = {"dd_link_merchant": merchant, "dd_link_state": "none"}
    if result is None:
        return context
    if result.pending:
        context["dd_link_state"] = "pending"
        return context
    data = result.data if result.ready and isinstance(result.data, dict) else {
        "created": False, "detail": result.error}
    context.update(dd_link_state="created" if data.get("created") else "failed",
                   dd_link_url=data.get("url") or "", dd_link_detail=data.get("detail") or "",
                   dd_link_expires=str(data.get("expires_at") or "")[:16].replace("T", " "))
    return context


def _provider_label(merchant: Merchant) -> str:
    from providers import registry

    cls = registry.get(str(merchant.account.provider))
    return cls.label if cls is not None else merchant.account.get_provider_display()


def verify_context(merchant: Merchant) -> dict[str, Any]:
    """What the merchant's page says of the last "Verify Merchant ID and authorize"."""
    result = dispatch.merchant_verify_result(merchant=merchant)
    context: dict[str, Any] = {"dd_verify_merchant": merchant, "dd_verify_state": "none",
                               "dd_verify_provider": _provider_label(merchant)}
    if result is None:
        return context
    if result.pending:
        context["dd_verify_state"] = "pending"
        return context
    data = result.data if result.ready and isinstance(result.data, dict) else {
        "ok": False, "detail": result.error}
    context.update(dd_verify_state="verified" if data.get("ok") else "failed",
                   dd_verify_detail=data.get("detail") or "")
    return context


@admin.register(Merchant)
class MerchantAdmin(FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["auth_state"]
    change_form_template = "admin/merchants/merchant/change_form.html"
    list_display = ["name", "account", "external_id", "auth_badge", "authorization_expires_at",
                    "days_left_display"]
    list_filter = ["auth_state", "account__provider", "account"]
    search_fields = ["name", "external_id", "contact_email"]
    list_select_related = ["account"]
    readonly_fields = ["auth_badge", "days_left_display", "auth_state", "authorized_at",
                       "authorization_expires_at", "created_at"]
    inlines = [MerchantEventInline]

    @admin.display(description="Authorization", ordering="auth_state")
    def auth_badge(self, obj: Merchant) -> str:
        colour = AUTH_COLOURS.get(obj.auth_state, "#6c757d")
        return format_html(
            '<span class="dd-auth dd-auth-{}" style="background:{};color:#fff;padding:2px 6px;'
            'border-radius:8px;white-space:nowrap">{}</span>',
            obj.auth_state, colour, obj.get_auth_state_display(),
        )

    @admin.display(description="Days left", ordering="authorization_expires_at")
    def days_left_display(self, obj: Merchant) -> str:
        days = obj.days_left
        return "—" if days is None else str(max(days, 0))

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<path:object_id>/authorization-link/",
                 self.admin_site.admin_view(self.authorization_link_view),
                 name="merchants_merchant_authorization_link"),
            path("<path:object_id>/authorization-link/status/",
                 self.admin_site.admin_view(self.authorization_link_status_view),
                 name="merchants_merchant_authorization_link_status"),
            path("<path:object_id>/verify/status/",
                 self.admin_site.admin_view(self.verify_status_view),
                 name="merchants_merchant_verify_status"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = dict(extra_context or {})
        merchant: Any = self.get_object(request, object_id)
        may_change = self.has_change_permission(request)
        context["can_send_authorization_link"] = bool(
            may_change and merchant is not None
            and dispatch.merchant_authorization_link_available(merchant=merchant))
        if merchant is not None and may_change:  # the link is a credential: changers only
            context.update(authorization_link_context(merchant))
        if merchant is not None:
            context.update(verify_context(merchant))
        return super().change_view(request, object_id, form_url, extra_context=context)

    def authorization_link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """(Re)send the merchant the link to authorize us at the provider: queued for the
        worker; the page shows "Creating the link…" and then the link."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied("Read-only access: you cannot send authorization links.")
        merchant: Any = self.get_object(request, object_id)
        if merchant is None:
            raise Http404("No such merchant.")
        try:
            dispatch.merchant_authorization_link_request(
                merchant=merchant, actor=request.user, base_url=_public_base(request))
        except services.MerchantAuthorizationError as exc:
            self.message_user(request, f"Could not create the link: {exc.message}",
                              messages.ERROR)
        return redirect("admin:merchants_merchant_change", merchant.pk)

    def authorization_link_status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: the polled fragment with the last link (a read; queues nothing)."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        if not self.has_change_permission(request):
            raise PermissionDenied("Read-only access: authorization links are not shown.")
        merchant: Any = self.get_object(request, object_id)
        if merchant is None:
            raise Http404("No such merchant.")
        return TemplateResponse(request, "admin/merchants/merchant/authorization_link.html",
                                authorization_link_context(merchant))

    def verify_status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: the polled fragment with the last Merchant ID verification (queues nothing)."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied("You cannot see merchants.")
        merchant: Any = self.get_object(request, object_id)
        if merchant is None:
            raise Http404("No such merchant.")
        return TemplateResponse(request, "admin/merchants/merchant/verify_status.html",
                                verify_context(merchant))

    def _apply_fsm_transition(self, *, obj: Any, transition_name: str, request: HttpRequest,
                              kwargs: Any = None) -> bool:
        if transition_name != "revoke":
            self.message_user(request, "Not available here.", messages.ERROR)
            return False
        services.merchant_revoke(merchant=obj, actor=request.user)
        self.message_user(request, f"Authorization of {obj} revoked.", messages.SUCCESS)
        return True


# --- merchant authorization: links, manual verification, expiry filter ---
from django.conf import settings  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.utils import timezone  # noqa: E402

from .models import EXPIRY_WARNING, AuthorizationRequest, Merchant  # noqa: E402


class AuthorizationExpiryFilter(admin.SimpleListFilter):
    title = "authorization expiry"
    parameter_name = "expiry"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("soon", f"Expiring in {EXPIRY_WARNING.days} days"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Merchant]) -> QuerySet[Merchant]:
        now = timezone.now()
        live = [Merchant.AuthState.AUTHORIZED, Merchant.AuthState.EXPIRING]
        if self.value() == "soon":
            return queryset.filter(auth_state__in=live, authorization_expires_at__gt=now,
                                   authorization_expires_at__lte=now + EXPIRY_WARNING)
        if self.value() == "expired":
            return queryset.filter(
                Q(auth_state=Merchant.AuthState.EXPIRED)
                | Q(auth_state__in=live, authorization_expires_at__lte=now)
            )
        return queryset


def _public_base(request: HttpRequest) -> str:
    return (getattr(settings, "PUBLIC_BASE_URL", "") or request.build_absolute_uri("/")).rstrip("/")


@admin.action(description="Send authorization link (register with the provider)",
              permissions=["change"])
def send_authorization_link(modeladmin: Any, request: HttpRequest,
                            queryset: QuerySet[Merchant]) -> None:
    """Queued for the worker: each merchant's page shows "Creating the link…", then it."""
    for merchant in queryset.select_related("account"):
        try:
            result = dispatch.merchant_authorization_link_request(
                merchant=merchant, actor=request.user, base_url=_public_base(request))
        except services.MerchantAuthorizationError as exc:
            modeladmin.message_user(request, f"{merchant}: {exc.message}", messages.ERROR)
            continue
        data = result.data if result.ready and isinstance(result.data, dict) else None
        if data is None and result.pending:
            modeladmin.message_user(request, f"{merchant}: creating the link… the merchant's "
                                    "page shows it.", messages.INFO)
        elif data is not None and data.get("created"):
            modeladmin.message_user(request, format_html(
                "{}: send this one-time link to the merchant (valid {} days): "
                "<a href='{}'>{}</a>", merchant, services.AUTHORIZATION_LINK_TTL.days,
                data["url"], data["url"]), messages.SUCCESS)
        else:
            detail = (data or {}).get("detail") or result.error
            modeladmin.message_user(request, f"{merchant}: {detail}", messages.ERROR)


@admin.action(description="Verify Merchant ID and authorize (single merchant per account)",
              permissions=["change"])
def verify_merchant_id(modeladmin: Any, request: HttpRequest,
                       queryset: QuerySet[Merchant]) -> None:
    """Queued for the worker (the provider is asked there): each merchant's page shows
    "Verifying the Merchant ID…", then the outcome."""
    for merchant in queryset.select_related("account"):
        try:
            result = dispatch.merchant_verify_request(merchant=merchant, actor=request.user)
        except services.MerchantAuthorizationError as exc:
            modeladmin.message_user(request, f"{merchant}: {exc.message}", messages.ERROR)
            continue
        data = result.data if result.ready and isinstance(result.data, dict) else None
        if data is None and result.pending:
            modeladmin.message_user(request, format_html(
                "{}: verifying the Merchant ID with {}… <a href='{}'>the merchant's page</a> "
                "shows the outcome.", merchant, _provider_label(merchant),
                reverse("admin:merchants_merchant_change", args=[merchant.pk])), messages.INFO)
        elif data is not None and data.get("ok"):
            modeladmin.message_user(request, f"{merchant}: {data.get('detail')}",
                                    messages.SUCCESS)
        else:
            detail = (data or {}).get("detail") or result.error
            modeladmin.message_user(request, f"{merchant}: {detail}", messages.ERROR)


MerchantAdmin.list_filter = [  # type: ignore[assignment]
    *MerchantAdmin.list_filter, AuthorizationExpiryFilter,
]
MerchantAdmin.actions = [  # type: ignore[assignment]
    *(MerchantAdmin.actions or []), send_authorization_link, verify_merchant_id,
]


@admin.register(AuthorizationRequest)
class AuthorizationRequestAdmin(admin.ModelAdmin):
    """Read-only history of authorization links (never the link or the provider URL)."""

    list_display = ["merchant", "status", "provider_merchant_id", "created_at", "expires_at",
                    "used_at", "completed_at", "created_by"]
    list_filter = ["status"]
    list_select_related = ["merchant", "created_by"]
    readonly_fields = ["merchant", "status", "provider_merchant_id", "failure_reason",
                       "created_at", "expires_at", "used_at", "completed_at", "created_by"]
    fields = readonly_fields  # type: ignore[assignment]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
# --- REST API integrations ---------------------------------------------------------------------
def _unregister_unused_token_admins() -> None:
    """Tokens are ``merchants.ApiToken`` (hashed): the libraries' own token models are unused
    (DRF's authtoken table is emptied by the migration that hashed its keys)."""
    from rest_framework.authtoken.models import TokenProxy
    from rest_framework_api_key.models import APIKey

    for model in (TokenProxy, APIKey):
        if admin.site.is_registered(model):
            admin.site.unregister(model)


_unregister_unused_token_admins()


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    """API clients. Adding one creates its service user and shows its token once; the token
    is stored only as a hash."""

    list_display = ["name", "user", "scope", "is_active", "token_status", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    filter_horizontal = ["merchants"]
    fields = ["name", "merchants", "is_active", "user", "token_status", "created_at"]
    readonly_fields = ["user", "token_status", "created_at"]
    actions = ["rotate_token", "revoke_tokens"]

    @admin.display(description="Merchants")
    def scope(self, obj: Integration) -> str:
        names = [m.name for m in obj.merchants.all()]
        return ", ".join(names) if names else "all"

    @admin.display(description="Token")
    def token_status(self, obj: Integration) -> str:
        live = [t for t in obj.user.api_tokens.all() if not t.revoked] if obj.pk else []
        if not live:
            return "none (revoked or never issued)"
        token = live[0]
        used = (f"last used {token.last_used_at:%Y-%m-%d %H:%M} UTC" if token.last_used_at
                else "never used")
        return f"{token.prefix}… issued {token.created:%Y-%m-%d %H:%M} UTC, {used}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Integration]:
        return (super().get_queryset(request).select_related("user")
                .prefetch_related("merchants", "user__api_tokens"))

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        from .tokens import TokenRefused

        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            integration, key = services.integration_create(
                name=obj.name, merchants=list(form.cleaned_data.get("merchants") or []),
                actor=request.user,
            )
        except TokenRefused as exc:
            raise PermissionDenied(exc.message) from exc
        if not obj.is_active:
            Integration.objects.filter(pk=integration.pk).update(is_active=False)
        obj.pk, obj.user, obj.created_at = integration.pk, integration.user, integration.created_at
        self.message_user(
            request,
            f"Token for '{obj.name}' (shown only this once; stored only as a hash): {key}",
            messages.WARNING,
        )

    def has_issue_token_permission(self, request: HttpRequest) -> bool:
        """Issuing a token needs the change permission on integrations; the service also
        refuses a token with abilities the issuer lacks."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description="Issue a new token (the old one stops working)",
                  permissions=["issue_token"])
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        from .tokens import TokenRefused

        for integration in queryset.select_related("user"):
            try:
                key = services.integration_token_rotate(integration=integration,
                                                        actor=request.user)
            except TokenRefused as exc:
                self.message_user(request, f"'{integration.name}': no token issued. "
                                  f"{exc.message}", messages.ERROR)
                continue
            self.message_user(
                request, f"New token for '{integration.name}' (shown only this once; stored "
                f"only as a hash): {key}", messages.WARNING,
            )

    @admin.action(description="Revoke the token (requests with it are refused)",
                  permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset.select_related("user"):
            n = services.integration_tokens_revoke(integration=integration)
            self.message_user(request, f"'{integration.name}': {n} token(s) revoked.",
                              messages.SUCCESS if n else messages.INFO)


from . import admin_schedules  # noqa: E402,F401  (periodic tasks: permissions on every action)
