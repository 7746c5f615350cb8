from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_production_secrets(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if not settings.FIELD_ENCRYPTION_KEY:
        problems.append(
            Error(
                "FIELD_ENCRYPTION_KEY is not set: provider credentials would be encrypted with "
                "a key derived from DJANGO_SECRET_KEY.",
                hint="Generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`.",
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
