"""The worker's side of merchants: periodic sweeps, and the provider calls a web request
asks for (credentials check, authorization link, the confirmation of a merchant's return
from the provider, the Merchant ID verification, Brandsdistribution reservation) — run here
and stored with ``core.provider_reads`` for the page or API route that asked.

Layering: admin/API → ``merchants.dispatch`` → these tasks → services → providers. A task
stores what the caller shows: a provider's "no" is an outcome (data), a bug on our side is
logged and stored as a failure in plain words, so a page never waits for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task

from core import provider_reads as reads

from . import landing, outcomes, services

logger = logging.getLogger(__name__)


# --- where each result is stored (the dispatch reads them) ------------------------------------
def account_check_key(account_pk: int) -> str:
    return reads.read_key("account-check", account_pk)


def reservation_read_key(account_pk: int) -> str:
    return reads.read_key("bd-reservation", account_pk)


def reservation_release_key(account_pk: int) -> str:
    return reads.read_key("bd-reservation-release", account_pk)


def authorization_link_key(merchant_pk: int) -> str:
    return reads.read_key("merchant-authorization-link", merchant_pk)


def authorization_confirm_key(request_pk: int) -> str:
    return reads.read_key("merchant-authorization-confirm", request_pk)


def merchant_verify_key(merchant_pk: int) -> str:
    return reads.read_key("merchant-verify", merchant_pk)


def _store(key: str, what: str, work: Callable[[], Any]) -> bool:
    """Run ``work`` and store its result under ``key``; a bug is logged and stored as a
    failure in plain words (never its text: it may carry secrets)."""
    try:
        data = work()
    except Exception:
        logger.exception("%s failed (%s)", what, key)
        reads.read_store_failure(key, f"{what} could not be done: an error on our side (it "
                                      "has been logged); try again later.")
        return False
    reads.read_store_data(key, data)
    return True


def _account(account_pk: int) -> Any:
    from .models import ProviderAccount

    return ProviderAccount.objects.get(pk=account_pk)


# --- tasks -------------------------------------------------------------------------------------
@shared_task(acks_late=True)
def merchant_authorizations_sweep_task() -> dict[str, int]:
    return services.merchant_authorizations_sweep()


@shared_task(acks_late=True)
def account_check_task(account_pk: int) -> bool:
    """The credentials check (harmless, may run twice): ``{"ok", "detail", "checked_at"}``."""
    return _store(account_check_key(account_pk), "The credentials check",
                  lambda: outcomes.account_check_outcome(account=_account(account_pk)))


@shared_task(acks_late=True)
def account_reservation_read_task(account_pk: int) -> bool:
    """Read the Brandsdistribution reservation; an unreadable one is a stored failure."""
    from . import reservations

    key = reservation_read_key(account_pk)
    try:
        result = reservations.account_reservation_read(account=_account(account_pk))
    except Exception:
        logger.exception("Reading the reservation failed (%s)", key)
        result = {"error": "The reservation could not be read: an error on our side (it has "
                           "been logged); try again later."}
    if result.get("error"):
        reads.read_store_failure(key, result["error"])
        return False
    reads.read_store_data(key, result)
    return True


@shared_task  # a write: at most once (a lost message leaves the route saying "not done")
def account_reservation_release_task(account_pk: int) -> bool:
    """Release the reservation, store the outcome, forget the last read (it changed)."""
    from . import reservations

    done = _store(reservation_release_key(account_pk), "Releasing the reservation",
                  lambda: reservations.account_reservation_release(account=_account(account_pk)))
    reads.read_forget(reservation_read_key(account_pk))
    return done


@shared_task  # a write (registers the merchant at the provider): at most once
def merchant_authorization_link_task(merchant_pk: int, actor_pk: int | None,
                                     base_url: str) -> bool:
    """Create the merchant's one-time authorization link; the outcome is
    ``{"created", "url", "expires_at", "detail", "code"}`` (a refusal: ``created`` false
    with a readable ``detail``). The service records the merchant's timeline events."""
    return _store(authorization_link_key(merchant_pk), "Creating the authorization link",
                  lambda: outcomes.merchant_authorization_link_outcome(
                      merchant_pk=merchant_pk, actor_pk=actor_pk, base_url=base_url))


@shared_task(acks_late=True)  # a harmless read, then a transition guarded by the request's state
def merchant_authorization_confirm_task(request_pk: int) -> bool:
    """Confirm with the provider that the merchant who came back allowed us; the outcome
    (``{"outcome": "authorized" | "refused" | "retry" | <status>}``) is on the request and
    the merchant's timeline — the merchant's status page reads them."""
    return _store(authorization_confirm_key(request_pk), "Confirming the authorization",
                  lambda: {"outcome": landing.merchant_authorization_confirm(
                      request_pk=request_pk)})


@shared_task  # authorizes the merchant: at most once
def merchant_verify_task(merchant_pk: int, actor_pk: int | None, external_id: str = "") -> bool:
    """Verify the Merchant ID with a harmless provider read and authorize; the outcome is
    ``{"ok", "detail", "code", "authorized_until"}`` (a refusal: ``ok`` false, readable)."""
    return _store(merchant_verify_key(merchant_pk), "Verifying the Merchant ID",
                  lambda: outcomes.merchant_verify_outcome(
                      merchant_pk=merchant_pk, actor_pk=actor_pk, external_id=external_id))
