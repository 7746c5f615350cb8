"""Service verbs the worker runs for a web request (``merchants.tasks``), answered as results
for people: a credentials check, an authorization link. A provider's "no" is an outcome here
(``ok``/``created`` false with a readable, redacted reason), never an exception; only a bug
on our side raises.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from core.redaction import redact_text
from providers.errors import (
    ProviderError,
    ProviderNotSupported,
    ProviderRejected,
    ProviderUnavailable,
)

from . import services
from .models import AuthorizationRequest, Merchant, ProviderAccount


def account_check_failure_reason(exc: Exception) -> str:
    """Why a credentials check failed, for people: from the error's class and HTTP status,
    never the raw exception text (it can carry URLs with keys, or library internals)."""
    if isinstance(exc, ProviderNotSupported):
        return "This provider has no credentials check."
    if isinstance(exc, ProviderRejected):
        if exc.http_status in (401, 403):
            return (f"The provider refused the credentials (HTTP {exc.http_status}): check the "
                    "account's keys and environment.")
        status = f" (HTTP {exc.http_status})" if exc.http_status else ""
        return f"The provider refused the check{status}: check the account's settings."
    if isinstance(exc, ProviderUnavailable):
        return ("The provider could not be reached or is unavailable right now; nothing was "
                "changed, try again later.")
    return "The provider's answer could not be read; try again later."


def account_check_outcome(*, account: ProviderAccount) -> dict[str, Any]:
    """The credentials check as a result for people: ``{"ok", "detail", "checked_at"}``. A
    failed check is an answer (``ok`` false with a readable reason, no secret), not an
    error; only a bug on our side raises."""
    try:
        note = services.account_check(account=account)
    except ProviderError as exc:
        ok, detail = False, account_check_failure_reason(exc)
    else:
        ok, detail = True, redact_text(str(note or "OK"))[:500]
    return {"ok": ok, "detail": detail, "checked_at": timezone.now().isoformat()}


def merchant_authorization_link_outcome(
    *, merchant_pk: int, actor_pk: int | None, base_url: str
) -> dict[str, Any]:
    """The worker's run of ``merchant_authorization_link_create``, as a result for the page
    or API client that asked: ``{"created", "url", "expires_at", "detail", "code"}``. A
    refusal is an outcome (``created`` false, a readable ``detail`` and ``code``)."""
    from django.contrib.auth import get_user_model

    merchant = Merchant.objects.select_related("account").get(pk=merchant_pk)
    actor = get_user_model().objects.filter(pk=actor_pk).first() if actor_pk else None
    try:
        link: Any = services.merchant_authorization_link_create(
            merchant=merchant, actor=actor, base_url=base_url)
    except services.MerchantAuthorizationError as exc:
        return {"created": False, "url": None, "expires_at": None,
                "detail": redact_text(exc.message)[:2000], "code": exc.code or "refused"}
    except (ProviderNotSupported, NotImplementedError):
        return {"created": False, "url": None, "expires_at": None, "code": "not_supported",
                "detail": "Authorization links are not available for this provider."}
    except ProviderError as exc:
        return {"created": False, "url": None, "expires_at": None, "code": "provider_error",
                "detail": redact_text(f"The provider did not create the link: {exc}")[:2000]}
    url: Any = link
    expires_at: Any = None
    if isinstance(link, dict):
        url, expires_at = link.get("url"), link.get("expires_at")
    if expires_at is None:
        latest = (AuthorizationRequest.objects.filter(
            merchant_id=merchant_pk, status=AuthorizationRequest.Status.CREATED)
            .order_by("-created_at", "-pk").first())
        expires_at = latest.expires_at if latest is not None else None
    if isinstance(expires_at, dt.datetime):
        expires_at = expires_at.isoformat()
    return {"created": True, "url": str(url), "code": "", "expires_at": expires_at,
            "detail": "Authorization link created: send it to the merchant."}


def merchant_verify_outcome(
    *, merchant_pk: int, actor_pk: int | None, external_id: str = ""
) -> dict[str, Any]:
    """The worker's run of ``merchant_verify_manual`` for the page or API client that asked:
    ``{"ok", "detail", "code", "authorized_until"}``; a refusal is an outcome."""
    from django.contrib.auth import get_user_model

    merchant = Merchant.objects.select_related("account").get(pk=merchant_pk)
    actor = get_user_model().objects.filter(pk=actor_pk).first() if actor_pk else None
    from providers import registry

    cls = registry.get(str(merchant.account.provider))
    label = cls.label if cls is not None else merchant.account.get_provider_display()
    try:
        merchant = services.merchant_verify_manual(merchant=merchant, external_id=external_id,
                                                   actor=actor)
    except services.MerchantAuthorizationError as exc:
        return {"ok": False, "detail": redact_text(exc.message)[:2000],
                "code": exc.code or "refused", "authorized_until": None}
    until = merchant.authorization_expires_at
    return {"ok": True, "code": "", "authorized_until": until.isoformat() if until else None,
            "detail": f"Merchant ID {merchant.external_id} verified with {label}: "
            f"{merchant.name} is authorized until {until:%Y-%m-%d}."}
