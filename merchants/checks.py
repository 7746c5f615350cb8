from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from .crypto import KEY_SETTING, key_problems

GENERATE_HINT = (
    "Generate one with `python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'`."
)


@register(Tags.security)
def check_encryption_key(app_configs: Any, **kwargs: Any) -> list[Any]:
    """Every configured key must be a Fernet key (checked by every command, not only deploy)."""
    return [
        Error(problem, hint=f"{KEY_SETTING} is a comma-separated list of Fernet keys "
                            f"(the first encrypts, all decrypt). {GENERATE_HINT}",
              id="dropdesk.E002")
        for problem in key_problems()
    ]


@register(Tags.security, deploy=True)
def check_production_secrets(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if not settings.FIELD_ENCRYPTION_KEY:
        problems.append(
            Error(
                "FIELD_ENCRYPTION_KEY is not set: provider credentials would be encrypted with "
                "a key derived from DJANGO_SECRET_KEY.",
                hint=GENERATE_HINT,
                id="dropdesk.E001",
            )
        )
    if settings.SANDBOX_ENABLED and not settings.DEBUG:
        problems.append(
            Warning(
                "SANDBOX_ENABLED is on: fake provider endpoints are mounted under /sandbox/.",
                id="dropdesk.W001",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def check_stored_credentials_decrypt(app_configs: Any, **kwargs: Any) -> list[Any]:
    """Every stored account's credentials decrypt with the configured keys."""
    if key_problems():
        return []  # dropdesk.E002 already says why nothing decrypts
    from .models import ProviderAccount

    try:
        unreadable = [
            f"#{account.pk} {account.name}"
            for account in ProviderAccount.objects.only("pk", "name", "credentials")
            if not account.credentials_readable
        ]
    except DatabaseError:  # no database (yet): nothing stored to check
        return []
    if not unreadable:
        return []
    return [
        Error(
            f"Stored credentials of {len(unreadable)} provider account(s) cannot be decrypted "
            f"with {KEY_SETTING}: {', '.join(unreadable[:20])}"
            + (" …" if len(unreadable) > 20 else "") + ".",
            hint=f"Add the key they were encrypted with to {KEY_SETTING} (after the current "
                 "one), or enter their credentials again on the account page.",
            id="dropdesk.E003",
        )
    ]
