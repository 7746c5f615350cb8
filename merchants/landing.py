"""The merchant back from the provider (the landing of a one-time authorization link), and
the worker's confirmation of it (issue 14: no provider call in the landing request).

``merchant_authorization_return`` (the web request) validates the one-time state, uses it up
and records the return; ``merchant_authorization_confirm`` (the worker, via
``merchants.tasks``) asks the provider and authorizes or says why not. The merchant's
status page is named by ``authorization_status_token`` (its outcome only).
"""

from __future__ import annotations

import datetime as dt

from django.core import signing
from django.db import transaction
from django.utils import timezone

from merchants.provider_requests import merchant_ref, provider_service
from providers import registry
from providers.errors import (
    ProviderBadReply,
    ProviderError,
    ProviderNotSupported,
    ProviderOutcomeUnknown,
    ProviderUnavailable,
)

from .models import AUTHORIZATION_LINK_TTL, AuthorizationRequest, Merchant
from .services import (
    RETURN_SALT,
    AuthorizationLinkRefused,
    _refuse_unusable,
    _request_for_state,
    merchant_authorize,
    merchant_event_add,
)

CANCEL_ERRORS = {"access_denied", "cancelled", "canceled", "user_cancelled", "user_denied"}


STATUS_SALT = "merchants.authorization.status"


def authorization_status_token(request: AuthorizationRequest) -> str:
    """The signed name of one returned request for its status page: it shows that request's
    outcome only (no link, no provider URL); it cannot be forged nor used as a landing."""
    return signing.dumps(request.token_hash, salt=STATUS_SALT)


def merchant_authorization_for_status(*, token: str) -> AuthorizationRequest:
    """The request a status token names (read only), or ``AuthorizationLinkRefused``."""
    try:
        token_hash = signing.loads(token, salt=STATUS_SALT,
                                   max_age=AUTHORIZATION_LINK_TTL + dt.timedelta(days=1))
    except signing.SignatureExpired as exc:
        raise AuthorizationLinkRefused("This page has expired.", code="expired") from exc
    except signing.BadSignature as exc:
        raise AuthorizationLinkRefused("This page is not valid.", code="invalid") from exc
    found = (AuthorizationRequest.objects.select_related("merchant__account")
             .filter(token_hash=str(token_hash)).first() if token_hash else None)
    if found is None or found.status in (AuthorizationRequest.Status.CREATED,
                                         AuthorizationRequest.Status.REDIRECTED):
        raise AuthorizationLinkRefused("This page is not valid.", code="invalid")
    return found


def merchant_authorization_return(
    *, state: str, error: str = ""
) -> tuple[str, AuthorizationRequest]:
    """The provider sent the merchant back (no provider call here). Returns (outcome,
    request): ``cancelled`` or ``failed`` when the provider said so (``?error``), else
    ``returned``: the landing state is used up (a replay is refused as ``used``), the
    merchant's timeline says the merchant came back, and the caller queues
    ``merchant_authorization_confirm`` for the worker.

    Coming back without ``?error`` proves nothing (anyone holding the landing URL can drop
    the query string): only the worker's confirmation with the provider authorizes."""
    if error:
        return _authorization_complete_with_error(state=state, error=error)
    found = _request_for_state(state, salt=RETURN_SALT)
    with transaction.atomic():
        request = (AuthorizationRequest.objects.select_for_update()
                   .select_related("merchant__account").get(pk=found.pk))
        _refuse_unusable(request, expect=AuthorizationRequest.Status.REDIRECTED)
        request.status = AuthorizationRequest.Status.RETURNED
        request.failure_reason = ""
        request.save(update_fields=["status", "failure_reason"])
        cls = registry.get(str(request.merchant.account.provider))
        label = cls.label if cls is not None else request.merchant.account.get_provider_display()
        merchant_event_add(merchant=request.merchant, kind="authorization_returned",
                           message=f"The merchant came back from {label}; confirming the "
                           f"authorization with {label}", data={"request": request.pk})
    return "returned", request


def merchant_authorization_confirm(*, request_pk: int) -> str:
    """The worker's half of the landing: ask the provider whether it now accepts orders for
    the merchant id it registered, then mark the merchant authorized. Returns
    ``authorized``, ``refused`` (the request failed with the reason), ``retry`` (the
    provider could not be asked; the request stays ``returned`` with the reason, the
    merchant's status page may try again) or the request's status when it was no longer
    waiting (a second run changes nothing)."""
    found = AuthorizationRequest.objects.get(pk=request_pk)
    if found.status != AuthorizationRequest.Status.RETURNED:
        return str(found.status)
    refused, reason, note = _authorization_confirm(found)  # a provider read: no lock held
    now = timezone.now()
    with transaction.atomic():
        request = (AuthorizationRequest.objects.select_for_update()
                   .select_related("merchant__account").get(pk=found.pk))
        if request.status != AuthorizationRequest.Status.RETURNED:
            return str(request.status)
        merchant = request.merchant
        if reason:
            request.failure_reason = reason[:2000]
            fields = ["failure_reason"]
            if refused:
                request.status = AuthorizationRequest.Status.FAILED
                request.completed_at = now
                fields += ["status", "completed_at"]
            request.save(update_fields=fields)
            merchant_event_add(merchant=merchant, kind="authorization_unconfirmed",
                               message=reason[:2000], data={"request": request.pk})
            return "refused" if refused else "retry"
        request.status = AuthorizationRequest.Status.COMPLETED
        request.completed_at = now
        request.failure_reason = ""
        request.save(update_fields=["status", "completed_at", "failure_reason"])
        merchant_authorize(merchant=merchant, external_id=request.provider_merchant_id, at=now,
                           how=f"authorization link; {note}")
    return "authorized"


def _authorization_confirm(request: AuthorizationRequest) -> tuple[bool, str, str]:
    """Ask the provider whether it now accepts orders for the merchant id it registered:
    (refused, reason, note). ``reason`` is empty when confirmed; ``refused`` tells a clear
    "no" (the link is used up) from "could not ask now" (it may be retried)."""
    probe = Merchant.objects.select_related("account").get(pk=request.merchant_id)
    probe.external_id = request.provider_merchant_id or probe.external_id
    service = provider_service(probe.account)
    try:
        note = service.check_account(merchant=merchant_ref(probe))
    except ProviderNotSupported:
        return True, (f"{service.label} offers no way to confirm the authorization; use "
                      "“Verify Merchant ID and authorize” once the merchant has allowed "
                      "access."), ""
    except (ProviderUnavailable, ProviderOutcomeUnknown, ProviderBadReply) as exc:
        return False, (f"Could not confirm the authorization with {service.label} "
                       f"({exc}); the merchant is not authorized yet — the merchant's page "
                       "offers to try again."), ""
    except ProviderError as exc:
        return True, (f"{service.label} did not confirm the authorization: {exc}. The "
                      "merchant is not authorized; send a new link."), ""
    return False, "", f"confirmed by {service.label}: {note}"


@transaction.atomic
def _authorization_complete_with_error(
    *, state: str, error: str
) -> tuple[str, AuthorizationRequest]:
    found = _request_for_state(state, salt=RETURN_SALT)
    request = (AuthorizationRequest.objects.select_for_update()
               .select_related("merchant__account").get(pk=found.pk))
    _refuse_unusable(request, expect=AuthorizationRequest.Status.REDIRECTED)
    now = timezone.now()
    merchant = request.merchant
    error = error[:100]
    cancelled = error.lower() in CANCEL_ERRORS
    request.status = (AuthorizationRequest.Status.CANCELLED if cancelled
                      else AuthorizationRequest.Status.FAILED)
    request.failure_reason = f"The provider reported: {error}"
    request.completed_at = now
    request.save(update_fields=["status", "failure_reason", "completed_at"])
    merchant_event_add(
        merchant=merchant,
        kind="authorization_cancelled" if cancelled else "authorization_failed",
        message=("The merchant cancelled the authorization" if cancelled
                 else f"Authorization failed at the provider ({error})"),
        data={"request": request.pk},
    )
    return ("cancelled" if cancelled else "failed"), request
