from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from merchants.models import ApiToken
from merchants.tokens import api_token_authenticate


class IntegrationTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``: hashed API tokens (``merchants.ApiToken``), refusing
    revoked or expired ones and those of disabled integrations.

    The token, its user and the user's integration (scope, enabled flag) come in one query by
    the key's prefix; then one SHA-512 comparison."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        try:
            token = api_token_authenticate(key=key)
        except ApiToken.DoesNotExist:
            raise AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        integration = getattr(token.user, "api_integration", None)
        if integration is not None and not integration.is_active:
            raise AuthenticationFailed("This integration is disabled.")
        return token.user, token
