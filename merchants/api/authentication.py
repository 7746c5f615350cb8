from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


class IntegrationTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``: DRF tokens, refusing those of disabled integrations."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        user, token = super().authenticate_credentials(key)
        integration = getattr(user, "api_integration", None)
        if integration is not None and not integration.is_active:
            raise AuthenticationFailed("This integration is disabled.")
        return user, token
