"""Business verbs on provider accounts and merchants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from providers import registry

from .models import AUTHORIZATION_PERIOD, EXPIRY_WARNING, Merchant, MerchantEvent, ProviderAccount


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
    account.full_clean()
    account.save()
    return account


@transaction.atomic
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
    return registry.service_for(account).check_account(merchant=merchant)


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
    return account


# Permissions an integration's service user gets: read everything it can see, run the
# order verbs; an unscoped integration may also create and authorize merchants.
INTEGRATION_PERMISSIONS = (
    "orders.view_order", "orders.add_order", "orders.change_order", "orders.run_order_transitions",
    "orders.view_orderitem", "orders.view_shipment", "merchants.view_merchant",
)
INTEGRATION_UNSCOPED_PERMISSIONS = ("merchants.add_merchant", "merchants.change_merchant")


def integration_token_rotate(*, integration: Any) -> str:
    """A new token for the integration (the old one stops working). Returns the key."""
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user=integration.user).delete()
    return Token.objects.create(user=integration.user).key


@transaction.atomic
def integration_create(
    *, name: str, merchants: list[Merchant] | None = None, staff: bool = False
) -> tuple[Any, str]:
    """Create an API integration with its service user and token. Returns (integration, key);
    the key is shown once by the caller."""
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
    codes = INTEGRATION_PERMISSIONS + (() if merchants else INTEGRATION_UNSCOPED_PERMISSIONS)
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
    return integration, integration_token_rotate(integration=integration)
