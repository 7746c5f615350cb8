"""Business verbs on provider accounts and merchants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from merchants.provider_requests import merchant_ref, provider_service
from providers import registry

from .models import AUTHORIZATION_PERIOD, EXPIRY_WARNING, Merchant, MerchantEvent, ProviderAccount
from .schedules import account_schedule_sync


def _actor(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def merchant_event_add(
    *, merchant: Merchant, kind: str, message: str, actor: Any = None, data: dict | None = None
) -> MerchantEvent:
    return MerchantEvent.objects.create(
        merchant=merchant, kind=kind, message=message, actor=_actor(actor), data=data or {}
    )


@transaction.atomic
def account_create(
    *,
    provider: str,
    name: str,
    environment: str = ProviderAccount.Environment.PRODUCTION,
    base_url: str = "",
    credentials: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
) -> ProviderAccount:
    account = ProviderAccount(
        provider=provider, name=name, environment=environment, base_url=base_url,
        credentials=dict(credentials or {}), options=dict(options or {}),
    )
    if provider not in dict(registry.provider_choices()):
        from django.core.exceptions import ValidationError

        raise ValidationError({"provider": f"Unknown provider '{provider}'."})
    account.full_clean()
    account.save()
    account_schedule_sync(account=account)  # its periodic incoming sync, if it has one
    return account


@transaction.atomic
@sensitive_variables("credentials", "current")
def account_credentials_set(
    *, account: ProviderAccount, credentials: Mapping[str, str], replace: bool = False
) -> ProviderAccount:
    """Merge new credential values (blank values keep the stored ones)."""
    current = {} if replace else dict(account.credentials)
    current.update({k: v for k, v in credentials.items() if v not in (None, "")})
    account.credentials = current
    account.save(update_fields=["credentials", "updated_at"])
    return account


@transaction.atomic
def merchant_create(
    *, account: ProviderAccount, name: str, external_id: str = "", contact_email: str = "",
    actor: Any = None,
) -> Merchant:
    merchant = Merchant(account=account, name=name, external_id=external_id,
                        contact_email=contact_email)
    merchant.full_clean(exclude=["auth_state"])
    merchant.save()
    merchant_event_add(merchant=merchant, kind="created", message="Merchant created", actor=actor)
    return merchant


@transaction.atomic
def merchant_authorize(
    *, merchant: Merchant, actor: Any = None, external_id: str = "",
    at: dt.datetime | None = None, how: str = "",
) -> Merchant:
    """Mark the merchant authorized for one authorization period from now."""
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
    at = at or timezone.now()
    if external_id:
        merchant.external_id = external_id
    merchant.authorize(at=at, expires_at=at + AUTHORIZATION_PERIOD)
    merchant.save()
    merchant_event_add(
        merchant=merchant, kind="authorized", actor=actor,
        message=f"Authorized{f' ({how})' if how else ''} until "
        f"{merchant.authorization_expires_at:%Y-%m-%d}",
    )
    return merchant


@transaction.atomic
def merchant_revoke(*, merchant: Merchant, actor: Any = None, reason: str = "") -> Merchant:
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
    merchant.revoke()
    merchant.save()
    merchant_event_add(merchant=merchant, kind="revoked", actor=actor,
                       message="Authorization revoked" + (f": {reason}" if reason else ""))
    return merchant


def merchant_authorizations_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Expire lapsed authorizations and flag those lapsing within the warning window."""
    now = now or timezone.now()
    counts = {"expired": 0, "expiring": 0}
    lapsed = Merchant.objects.filter(
        auth_state__in=[Merchant.AuthState.AUTHORIZED, Merchant.AuthState.EXPIRING],
        authorization_expires_at__lte=now,
    ).order_by("pk")
    for pk in lapsed.values_list("pk", flat=True):
        with transaction.atomic():
            merchant = Merchant.objects.select_for_update().get(pk=pk)
            if merchant.auth_state in (Merchant.AuthState.AUTHORIZED, Merchant.AuthState.EXPIRING):
                merchant.expire()
                merchant.save()
                merchant_event_add(merchant=merchant, kind="expired",
                                   message="Authorization expired; re-authorize to place orders")
                counts["expired"] += 1
    soon = Merchant.objects.filter(
        auth_state=Merchant.AuthState.AUTHORIZED,
        authorization_expires_at__gt=now,
        authorization_expires_at__lte=now + EXPIRY_WARNING,
    ).order_by("pk")
    for pk in soon.values_list("pk", flat=True):
        with transaction.atomic():
            merchant = Merchant.objects.select_for_update().get(pk=pk)
            if merchant.auth_state == Merchant.AuthState.AUTHORIZED:
                merchant.flag_expiring()
                merchant.save()
                merchant_event_add(
                    merchant=merchant, kind="expiring",
                    message=f"Authorization expires in {merchant.days_left} day(s)",
                )
                counts["expiring"] += 1
    return counts


def account_check(*, account: ProviderAccount, merchant: Merchant | None = None) -> str:
    """A harmless provider call proving the account (and merchant id) work."""
    return provider_service(account).check_account(
        merchant=merchant_ref(merchant) if merchant is not None else None)


# --- merchant authorization (Aliseeks: manual Merchant ID, or one-time links) ---
import hashlib  # noqa: E402
import secrets as _secrets  # noqa: E402

from django.core import signing  # noqa: E402
from django.urls import reverse  # noqa: E402

from providers.errors import (  # noqa: E402
    ProviderBadReply,
    ProviderError,
    ProviderNotSupported,
    ProviderOutcomeUnknown,
)

from .models import AUTHORIZATION_LINK_TTL, AuthorizationRequest  # noqa: E402

CONNECT_SALT = "merchants.authorization.connect"
RETURN_SALT = "merchants.authorization.return"
MANUAL_PATH_HINT = (
    "Use the single-merchant path instead: onboard the merchant on the Aliseeks Console, enter "
    "the Merchant ID it shows on this merchant, and run “Verify Merchant ID and authorize”."
)


class MerchantAuthorizationError(Exception):
    """A readable reason why an authorization step could not be done (nothing changed)."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class AuthorizationLinkRefused(MerchantAuthorizationError):
    """A link or landing URL that cannot be honoured; ``code`` picks the page to show:
    ``invalid`` (forged, tampered, unknown), ``expired``, ``used``."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authorization_state_sign(token: str, *, salt: str) -> str:
    return signing.dumps(token, salt=salt)


def _request_for_state(state: str, *, salt: str) -> AuthorizationRequest:
    """The request a signed state names, or ``AuthorizationLinkRefused`` (no DB write)."""
    try:
        token = signing.loads(state, salt=salt,
                              max_age=AUTHORIZATION_LINK_TTL + dt.timedelta(hours=1))
    except signing.SignatureExpired as exc:
        raise AuthorizationLinkRefused(
            "This authorization link has expired.", code="expired") from exc
    except signing.BadSignature as exc:
        raise AuthorizationLinkRefused(
            "This authorization link is not valid.", code="invalid") from exc
    if not isinstance(token, str) or not token:
        raise AuthorizationLinkRefused("This authorization link is not valid.", code="invalid")
    found = (AuthorizationRequest.objects.select_related("merchant__account")
             .filter(token_hash=_token_hash(token)).first())
    if found is None:
        raise AuthorizationLinkRefused("This authorization link is not valid.", code="invalid")
    return found


def _refuse_unusable(request: AuthorizationRequest, *, expect: str) -> None:
    if request.status != expect:
        if expect == AuthorizationRequest.Status.REDIRECTED and (
            request.status == AuthorizationRequest.Status.CREATED
        ):
            # a landing for a link nobody followed to the provider: not from the provider
            raise AuthorizationLinkRefused("This authorization link is not valid.", code="invalid")
        raise AuthorizationLinkRefused("This authorization link was already used.", code="used")
    if request.is_expired:
        raise AuthorizationLinkRefused("This authorization link has expired.", code="expired")


def merchant_authorization_link_create(
    *, merchant: Merchant, actor: Any = None, base_url: str
) -> str:
    """Register the merchant at the provider and return a one-time link for the merchant.

    ``base_url`` is our public origin (``https://desk.example.com``); the provider is given
    our landing URL under it as ``redirectUrl`` (and the merchant's existing id, so a
    re-authorization keeps it). Raises ``MerchantAuthorizationError`` with a readable reason
    (pointing to the manual path when the account may not register merchants).
    """
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise MerchantAuthorizationError("The public base URL must start with http:// or https://.")
    service = provider_service(merchant.account)
    if not service.supports("register_merchant"):
        raise MerchantAuthorizationError(
            f"{service.label} has no authorization links.", code="not_supported")
    token = _secrets.token_urlsafe(32)
    request = AuthorizationRequest.objects.create(
        merchant=merchant, token_hash=_token_hash(token),
        expires_at=timezone.now() + AUTHORIZATION_LINK_TTL, created_by=_actor(actor),
    )
    return_url = base + reverse("merchants:authorization_return",
                                args=[authorization_state_sign(token, salt=RETURN_SALT)])
    try:
        registration = service.register_merchant(redirect_url=return_url,
                                                 merchant_id=merchant.external_id)
    except ProviderNotSupported as exc:
        request.delete()
        raise MerchantAuthorizationError(str(exc), code="not_supported") from exc
    except ProviderError as exc:
        AuthorizationRequest.objects.filter(pk=request.pk).update(
            status=AuthorizationRequest.Status.FAILED, failure_reason=str(exc)[:2000])
        if exc.retryable or isinstance(exc, ProviderOutcomeUnknown | ProviderBadReply):
            message = (f"{service.label} did not register the merchant this time ({exc}); "
                       "nothing was changed, try again later.")
        else:
            hint = f" {MANUAL_PATH_HINT}" if exc.http_status in (401, 403) else ""
            message = f"{service.label} refused to register the merchant: {exc}.{hint}"
        merchant_event_add(merchant=merchant, kind="authorization_link_failed", actor=actor,
                           message=message[:2000], data={"request": request.pk})
        raise MerchantAuthorizationError(message, code="provider_refused") from exc
    with transaction.atomic():
        fresh = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if fresh.external_id and fresh.external_id != registration.merchant_id:
            AuthorizationRequest.objects.filter(pk=request.pk).update(
                status=AuthorizationRequest.Status.FAILED,
                failure_reason="The provider returned a different Merchant ID.")
            raise MerchantAuthorizationError(
                f"{service.label} returned Merchant ID {registration.merchant_id}, not the "
                f"stored {fresh.external_id}; nothing was changed.", code="mismatch")
        if not fresh.external_id:
            fresh.external_id = registration.merchant_id
            fresh.save(update_fields=["external_id", "updated_at"])
        # the provider's earlier one-time URLs for this merchant are replaced by this one
        AuthorizationRequest.objects.filter(
            merchant=fresh, status=AuthorizationRequest.Status.CREATED,
        ).exclude(pk=request.pk).update(
            status=AuthorizationRequest.Status.FAILED,
            failure_reason="Replaced by a newer authorization link.")
        request.provider_merchant_id = registration.merchant_id
        request.provider_redirect_url = registration.redirect_url
        request.save(update_fields=["provider_merchant_id", "provider_redirect_url"])
        merchant_event_add(
            merchant=fresh, kind="authorization_link", actor=actor,
            message=f"Authorization link created (Merchant ID {registration.merchant_id}); "
            f"valid until {request.expires_at:%Y-%m-%d %H:%M} UTC",
            data={"request": request.pk},
        )
    merchant.refresh_from_db()
    return base + reverse("merchants:authorization_connect",
                          args=[authorization_state_sign(token, salt=CONNECT_SALT)])


def merchant_authorization_for_connect(*, state: str) -> AuthorizationRequest:
    """The request behind a connect link, if it can still be used (read only)."""
    request = _request_for_state(state, salt=CONNECT_SALT)
    _refuse_unusable(request, expect=AuthorizationRequest.Status.CREATED)
    return request


@transaction.atomic
def merchant_authorization_start(*, state: str) -> str:
    """Use up the connect link; return the provider's stored one-time URL (the only place
    the merchant is ever sent)."""
    found = _request_for_state(state, salt=CONNECT_SALT)
    request = AuthorizationRequest.objects.select_for_update().get(pk=found.pk)
    _refuse_unusable(request, expect=AuthorizationRequest.Status.CREATED)
    if not request.provider_redirect_url:
        raise AuthorizationLinkRefused("This authorization link is not valid.", code="invalid")
    request.status = AuthorizationRequest.Status.REDIRECTED
    request.used_at = timezone.now()
    request.save(update_fields=["status", "used_at"])
    return request.provider_redirect_url


def merchant_verify_precheck(*, merchant: Merchant, external_id: str = "") -> str:
    """What refuses a verification without asking the provider (``MerchantAuthorizationError``):
    no Merchant ID, or one another merchant of the account has. Returns the id to check."""
    external_id = (external_id or merchant.external_id).strip()
    if not external_id:
        raise MerchantAuthorizationError(
            "Enter the Merchant ID shown on the provider's console first.", code="missing")
    taken = (Merchant.objects.filter(account_id=merchant.account_id, external_id=external_id)
             .exclude(pk=merchant.pk).first())
    if taken is not None:
        raise MerchantAuthorizationError(
            f"Merchant ID {external_id} already belongs to merchant '{taken}' of this account.",
            code="duplicate")
    return external_id


def merchant_verify_manual(
    *, merchant: Merchant, external_id: str = "", actor: Any = None
) -> Merchant:
    """Single-merchant path: check the Merchant ID from the provider's console with a
    harmless call, then mark the merchant authorized. Nothing changes when the check fails."""
    external_id = merchant_verify_precheck(merchant=merchant, external_id=external_id)
    probe = Merchant.objects.select_related("account").get(pk=merchant.pk)
    probe.external_id = external_id
    try:
        note = provider_service(probe.account).check_account(merchant=merchant_ref(probe))
    except ProviderError as exc:
        raise MerchantAuthorizationError(
            f"Merchant ID {external_id} could not be verified: {exc}", code="verify_failed"
        ) from exc
    return merchant_authorize(merchant=merchant, external_id=external_id, actor=actor,
                              how=f"Merchant ID verified: {note}")
# --- REST API --------------------------------------------------------------------------------
ACCOUNT_EDITABLE_FIELDS = ("name", "environment", "base_url", "options", "is_active")


@transaction.atomic
def account_update(
    *, account: ProviderAccount, credentials: Mapping[str, str] | None = None, **fields: Any
) -> ProviderAccount:
    """Change an account's settings; new credential values merge (blank keeps the stored)."""
    unknown = set(fields) - set(ACCOUNT_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    account = ProviderAccount.objects.select_for_update().get(pk=account.pk)
    for name, value in fields.items():
        setattr(account, name, value)
    if credentials:
        account.credentials = {
            **account.credentials,
            **{k: v for k, v in credentials.items() if v not in (None, "")},
        }
    account.full_clean(exclude=["provider"])  # not editable here
    account.save()
    account_schedule_sync(account=account)  # interval, name or activity may have changed
    return account


# Permissions an integration's service user gets: read everything it can see, run the
# order verbs; an unscoped integration may also create and authorize merchants.
INTEGRATION_PERMISSIONS = (
    "orders.view_order", "orders.add_order", "orders.change_order", "orders.run_order_transitions",
    "orders.view_orderitem", "orders.view_shipment", "merchants.view_merchant",
)
INTEGRATION_UNSCOPED_PERMISSIONS = ("merchants.add_merchant", "merchants.change_merchant")
# A staff integration (``create_api_token --staff``) also manages provider accounts: create,
# change, check credentials, sync now (the admin's rule: add / change provider account).
INTEGRATION_STAFF_PERMISSIONS = (
    "merchants.view_provideraccount", "merchants.add_provideraccount",
    "merchants.change_provideraccount",
)


def integration_token_rotate(*, integration: Any, actor: Any = None) -> str:
    """A new token for the integration (the old one stops working). Returns the key, which
    is stored only as a hash. A person (``actor``) may only issue it when they hold every
    permission the integration's service user has (``tokens.TokenRefused`` otherwise)."""
    from .tokens import api_token_issue

    return api_token_issue(user=integration.user, name=integration.name, actor=actor)


def integration_tokens_revoke(*, integration: Any) -> int:
    """Revoke the integration's token(s): requests with them answer 401 from now on."""
    from .tokens import api_tokens_revoke

    return api_tokens_revoke(user=integration.user)


@transaction.atomic
def integration_create(
    *, name: str, merchants: list[Merchant] | None = None, staff: bool = False,
    actor: Any = None,
) -> tuple[Any, str]:
    """Create an API integration with its service user and token. Returns (integration, key);
    the key is shown once by the caller. A person (``actor``) may only create one whose
    permissions they hold (``tokens.TokenRefused``; nothing is created then)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.utils.text import slugify

    from .models import Integration

    user_model = get_user_model()
    base = f"api-{slugify(name) or 'integration'}"[:140]
    username, n = base, 1
    while user_model.objects.filter(username=username).exists():
        n += 1
        username = f"{base}-{n}"
    user = user_model(username=username, is_staff=staff)
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    codes = (INTEGRATION_PERMISSIONS + (() if merchants else INTEGRATION_UNSCOPED_PERMISSIONS)
             + (INTEGRATION_STAFF_PERMISSIONS if staff else ()))
    wanted = {tuple(code.split(".", 1)) for code in codes}
    perms = [
        p for p in Permission.objects.select_related("content_type").filter(
            content_type__app_label__in={app for app, _ in wanted}
        )
        if (p.content_type.app_label, p.codename) in wanted
    ]
    user.user_permissions.set(perms)
    integration = Integration(name=name, user=user)
    integration.full_clean(exclude=["user"])
    integration.save()
    if merchants:
        integration.merchants.set(merchants)
    return integration, integration_token_rotate(integration=integration, actor=actor)
