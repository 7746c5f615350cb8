from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


class IntegrationTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``: DRF tokens, refusing those of disabled integrations.

    The token, its user and the user's integration (scope, enabled flag) come in one query."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        model: Any = self.get_model()
        try:
            token = model.objects.select_related("user", "user__api_integration").get(key=key)
        except model.DoesNotExist:
            raise AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        integration = getattr(token.user, "api_integration", None)
        if integration is not None and not integration.is_active:
            raise AuthenticationFailed("This integration is disabled.")
        return token.user, token
