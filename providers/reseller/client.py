"""HTTP client of the reseller API v3: OAuth2 password grant, cached bearer token.

* ``POST {host}/oauth/token`` with the client key/secret **only** as HTTP Basic and the API
  user's username/password as the grant's credentials (documented);
* the token is cached in Django's cache, keyed per account (and per credentials, so a change
  of credentials never reuses an old token), until shortly before it expires; it is never
  logged or recorded (the token and every credential are in the redaction list);
* a 401 on a call drops the token, fetches a new one and retries that call once;
* ``X-Api-Version: 3.0`` on every call (older organisations default to v1 without it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import requests
from django.core.cache import cache

from core.redaction import register_basic_auth, register_secret
from providers.errors import ProviderBadReply, ProviderRejected
from providers.http import HttpClient, Recorder
from providers.ratelimit import RateScope

API_VERSION = "3.0"
TOKEN_PATH = "oauth/token"  # noqa: S105 - a path, not a secret
TOKEN_MARGIN = 60  # seconds: refresh a little before the provider's expiry
DEFAULT_TOKEN_LIFETIME = 3600


class ResellerClient(HttpClient):
    def __init__(
        self,
        *,
        base_url: str,
        account_key: str,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        recorder: Recorder | None = None,
        rate_scope: RateScope | None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            recorder=recorder,
            rate_scope=rate_scope,
            headers={"X-Api-Version": API_VERSION, "Accept": "application/json"},
            secrets=[client_id, client_secret, username, password],
        )
        self._client_auth = (client_id, client_secret)
        register_basic_auth(client_id, client_secret)
        self._grant = {"grant_type": "password", "username": username, "password": password}
        fingerprint = hashlib.sha256(
            "\0".join([self.base_url, client_id, username, password]).encode()
        ).hexdigest()[:16]
        self.cache_key = f"reseller:token:{account_key}:{fingerprint}"

    # --- errors ----------------------------------------------------------------------------
    def error_message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        parts: list[str] = []
        if isinstance(body, dict):
            folded = {str(k).lower(): v for k, v in body.items()}
            for key in ("error_description", "message", "detail", "title", "error"):
                value = folded.get(key)
                if isinstance(value, str) and value and value not in parts:
                    parts.append(value)
            errors = folded.get("errors") or folded.get("modelstate")
            if isinstance(errors, dict):
                for field, problems in errors.items():
                    text = ("; ".join(map(str, problems)) if isinstance(problems, list)
                            else str(problems))
                    parts.append(f"{field}: {text}")
            elif isinstance(errors, list):
                parts.extend(str(e) for e in errors[:5])
        text = " — ".join(parts) if parts else super().error_message(response)
        from providers.http import redact_text

        return redact_text(text, self.secrets)[:300]  # redact, then cut

    # --- token -----------------------------------------------------------------------------
    def token(self, *, refresh: bool = False) -> str:
        if not refresh:
            cached = cache.get(self.cache_key)
            if cached:
                self.secrets.append(cached)
                register_secret(cached, transient=True)
                return str(cached)
        response = self.request(
            "POST", TOKEN_PATH, operation="token", idempotent=True,
            data=self._grant, auth=self._client_auth,
            headers={"Accept": "application/json"},
        )
        try:
            body = response.json()
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderBadReply("token: the reply has no access_token",
                                   operation="token") from exc
        if not token:
            raise ProviderBadReply("token: empty access_token", operation="token")
        try:
            lifetime = int(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        self.secrets.append(token)
        register_secret(token, transient=True)  # masked in all logs and stored text
        cache.set(self.cache_key, token, timeout=max(5, lifetime - TOKEN_MARGIN))
        return token

    def forget_token(self) -> None:
        cache.delete(self.cache_key)

    # --- authenticated calls ---------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        idempotent: bool,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        """Make the call with a bearer token (refreshed once on 401); the decoded JSON body,
        or None for an empty reply."""
        token = self.token()
        try:
            response = self._send(method, path, token, operation=operation,
                                  idempotent=idempotent, params=params, json_body=json_body)
        except ProviderRejected as exc:
            if exc.http_status != 401:
                raise
            # A 401 means the request was not acted on: a fresh token and one retry.
            self.forget_token()
            token = self.token(refresh=True)
            response = self._send(method, path, token, operation=operation,
                                  idempotent=idempotent, params=params, json_body=json_body)
        if not response.content.strip():
            return None
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            raise ProviderBadReply(f"{operation}: the reply is not JSON",
                                   http_status=response.status_code,
                                   operation=operation) from exc

    def _send(self, method: str, path: str, token: str, *, operation: str, idempotent: bool,
              params: dict[str, Any] | None, json_body: Any) -> requests.Response:
        return self.request(
            method, path, operation=operation, idempotent=idempotent, params=params,
            json=json_body, headers={"Authorization": f"Bearer {token}"},
        )
