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
    if provider not in dict(registry.provider_choices()):
        from django.core.exceptions import ValidationError

        raise ValidationError({"provider": f"Unknown provider '{provider}'."})
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
