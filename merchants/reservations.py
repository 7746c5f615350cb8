"""Brandsdistribution's reservation (the stock it locked for an account), as the verbs the
worker runs for the admin's reservation page and the API: read it, release it.

The provider package knows nothing of our models: these hand it the account's plain
configuration and return plain, redacted results (what the pages and the API show).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from core.redaction import redact_text

from .models import ProviderAccount
from .provider_requests import account_config

RESERVATION_PROVIDER = "brandsdistribution"


def _shown(result: dict[str, Any]) -> dict[str, Any]:
    return {"models": list(result.get("models") or []), "read_at": result.get("read_at"),
            "error": redact_text(str(result.get("error") or ""))}


def account_reservation_known(*, account: ProviderAccount) -> dict[str, Any]:
    """What is known of the reservation without a provider call (the last read)."""
    from providers.brandsdistribution.reservations import reservation_view

    return _shown(reservation_view(account.pk))


def account_reservation_read(*, account: ProviderAccount) -> dict[str, Any]:
    """Read the reservation from the provider now: ``{"models", "read_at", "error"}``; when
    unreadable, the last known models with ``error`` (plain words, redacted)."""
    from providers.brandsdistribution.service import reservation_read

    return _shown(reservation_read(account_config(account)))


def account_reservation_release(*, account: ProviderAccount) -> dict[str, Any]:
    """Unlock everything the reservation holds: ``{"released", "message", "finished_at",
    "reservation"}``. A provider failure is an outcome (``released`` false, nothing
    released), not an error."""
    from providers.brandsdistribution.service import reservation_release
    from providers.errors import ProviderError

    try:
        note, released = reservation_release(account_config(account)), True
    except ProviderError as exc:
        note, released = f"Nothing released: {exc}", False
    return {"released": released, "message": redact_text(note)[:1000],
            "finished_at": timezone.now().isoformat(),
            "reservation": account_reservation_known(account=account)}
