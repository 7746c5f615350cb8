"""API tokens: issued, shown once, stored only as a hash, revocable, last use recorded.

The key is returned once by ``api_token_issue`` (printed by ``create_api_token``, shown in an
admin message); the database keeps its prefix and a SHA-512 of it (see ``models.ApiToken``
for why a fast hash is right for random keys). A token's abilities are its user's
permissions; a person may only issue a token whose abilities they have themselves.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import ApiToken

# ``last_used_at`` is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class TokenRefused(Exception):
    """A readable reason why a token was not issued (nothing changed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _is_person(actor: Any) -> bool:
    return actor is not None and bool(getattr(actor, "is_authenticated", False))


def api_token_abilities_check(*, actor: Any, user: Any) -> None:
    """Refuse (``TokenRefused``) unless ``actor`` holds every ability of ``user``, the
    service user a token would act as. System callers (``actor=None``: the management
    command, migrations) are not limited."""
    if not _is_person(actor) or actor.is_superuser:
        return
    if user.is_superuser:
        raise TokenRefused("Only a superuser may issue a token for a superuser.")
    missing = sorted(user.get_all_permissions() - actor.get_all_permissions())
    if missing:
        raise TokenRefused(
            "The token would have permissions you do not have: " + ", ".join(missing) + ".")
    if user.is_staff and not actor.is_staff:
        raise TokenRefused("Only staff may issue a staff token.")


@transaction.atomic
def api_token_issue(*, user: Any, name: str, actor: Any = None) -> str:
    """A new token for ``user``; its earlier tokens are revoked. Returns the key (the only
    time it exists in clear)."""
    api_token_abilities_check(actor=actor, user=user)
    api_tokens_revoke(user=user)
    _token, key = ApiToken.objects.create_key(user=user, name=name[:50])
    return key


def api_tokens_revoke(*, user: Any) -> int:
    """Revoke every live token of ``user`` (a revoked token never works again)."""
    return ApiToken.objects.filter(user=user, revoked=False).update(revoked=True)


def api_token_authenticate(*, key: str) -> ApiToken:
    """The live, unexpired token a presented key belongs to (``ApiToken.DoesNotExist``
    otherwise): one indexed query and one hash; ``last_used_at`` is refreshed when older
    than ``LAST_USED_RESOLUTION`` (at most one small UPDATE a minute per token)."""
    token = ApiToken.objects.get_from_key(key)
    if token.has_expired:
        raise ApiToken.DoesNotExist("Key has expired.")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
