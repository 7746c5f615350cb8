"""Leftover reservations per Brandsdistribution account: what is locked, since when, release.

The provider's reservation never expires by itself, and an aborted create may have added
quantities to it (doc, "Notes"). The provider gives no dates, so "since" is when dropdesk first
saw a model locked (kept in ``account.state["reservation"]``, refreshed on every read here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from providers.errors import ProviderError

if TYPE_CHECKING:
    from providers.types import AccountConfig


def reservation_read(account: AccountConfig) -> dict[str, Any]:
    """``{"models": [{"stock_id","locked","available","since"}], "read_at", "error"}``; the
    account's cached view is updated (the last one kept, with ``error``, when unreadable)."""
    from merchants.models import ProviderAccount as Account

    from .service import BrandsdistributionService

    cached = dict((account.state or {}).get("reservation") or {})
    try:
        models = BrandsdistributionService(account).client.reservation()
    except ProviderError as exc:
        return {**cached, "models": cached.get("models", []), "error": str(exc)}
    now = timezone.now().isoformat()
    since = {str(m["stock_id"]): m.get("since") for m in cached.get("models", [])}
    entry = {
        "models": [{"stock_id": sid, "locked": m["locked"], "available": m["available"],
                    "since": since.get(sid) or now}
                   for sid, m in sorted(models.items()) if m["locked"] > 0],
        "read_at": now,
    }
    # TODO(issue 14, branch truth): a provider must not write the account; the domain will.
    state = {**(account.state or {}), "reservation": entry}
    Account.objects.filter(pk=account.pk or 0).update(state=state)
    return {**entry, "error": ""}


def reservation_release(account: AccountConfig) -> str:
    """Unlock every model the account's reservation holds now (read first); a note."""
    from .service import BrandsdistributionService

    service = BrandsdistributionService(account)
    models = service.client.reservation()
    locked = {sid: m["locked"] for sid, m in models.items() if m["locked"] > 0}
    if not locked:
        reservation_read(account)
        return "Nothing is reserved."
    service.client.reserve("unlock", locked)
    reservation_read(account)
    return "Released " + ", ".join(f"{q} x {sid}" for sid, q in sorted(locked.items())) + "."
