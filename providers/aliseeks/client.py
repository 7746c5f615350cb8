"""Aliseeks HTTP client: auth header, error bodies, "any non-200 is an error"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import requests

from providers.errors import ProviderBadReply, ProviderError, ProviderRejected, ProviderUnavailable
from providers.http import HttpClient, Recorder, body_excerpt, parse_retry_after
from providers.ratelimit import RateScope

from . import mapping

AUTH_HEADER = "X-Api-Client-Id"


class AliseeksClient(HttpClient):
    def __init__(
        self, *, base_url: str, api_key: str, recorder: Recorder | None = None,
        secrets: Iterable[str] = (), rate_scope: RateScope | None,
    ) -> None:
        if not api_key:
            raise ProviderRejected("This Aliseeks account has no API key (credential 'api_key').")
        super().__init__(
            base_url=base_url, recorder=recorder, headers={AUTH_HEADER: api_key},
            secrets=[api_key, *secrets], rate_scope=rate_scope,
        )

    # --- error replies -------------------------------------------------------------------
    def error_message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        message = mapping.error_text(body)
        if not message:
            code = response.headers.get("x-error-code", "")
            detail = response.headers.get("x-error-detailed-message", "")
            message = ": ".join(p for p in (code, detail) if p)
        if message:
            from providers.http import redact_text

            return redact_text(message, self.secrets)[:500]
        return body_excerpt(response, self.secrets) or response.reason or "no reason given"

    def error_for(
        self, response: requests.Response, *, operation: str, idempotent: bool
    ) -> ProviderError:
        status = response.status_code
        if status == 403:
            return ProviderRejected(
                f"{operation}: HTTP 403: this Aliseeks account has no access to this API "
                f"({self.error_message(response)})",
                http_status=status, operation=operation, code="forbidden",
            )
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:  # the provider names a time: a real "later"
                return ProviderUnavailable(
                    f"{operation}: HTTP 429: Aliseeks asks to retry in {int(retry_after)} s "
                    f"({self.error_message(response)})",
                    http_status=status, operation=operation, code="rate_limited",
                    retry_after=retry_after,
                )
            # Documented: 429 is the subscription's call quota ("upgrade your subscription").
            # Not transient: waiting minutes changes nothing, so it is never retried.
            return ProviderRejected(
                f"{operation}: HTTP 429: the Aliseeks call quota of this subscription is "
                f"exhausted — not retried; upgrade the subscription or wait for the quota to "
                f"renew ({self.error_message(response)})",
                http_status=status, operation=operation, code="quota_exhausted",
            )
        error = super().error_for(response, operation=operation, idempotent=idempotent)
        if status == 422:
            error.code = "invalid"
        if 400 <= status < 500:
            error.details = _json_or_none(response)
        return error

    # --- the calls -----------------------------------------------------------------------
    def _json(self, method: str, path: str, *, operation: str, idempotent: bool,
              params: Mapping[str, Any] | None = None, json: Any = None) -> dict[str, Any]:
        response = self.request(method, path, operation=operation, idempotent=idempotent,
                                params=params, json=json)
        if response.status_code != 200:
            # The docs: any non-200 is an error. A 2xx other than 200 is not the documented
            # answer; for a create that means we do not know what happened.
            raise ProviderBadReply(
                f"{operation}: unexpected HTTP {response.status_code} (Aliseeks answers 200)",
                http_status=response.status_code, operation=operation,
            )
        body = _json_or_none(response)
        if not isinstance(body, dict):
            raise ProviderBadReply(
                f"{operation}: the reply is not a JSON object: "
                f"{body_excerpt(response, self.secrets)[:120] or 'empty body'}",
                http_status=response.status_code, operation=operation,
            )
        return body

    def create_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/v1/orders", operation="place_order", idempotent=False,
                          json=dict(body))

    def get_order(self, *, merchant_id: str, order_id: str) -> dict[str, Any]:
        return self._json("GET", "/v1/orders", operation="fetch_order", idempotent=True,
                          params={"merchantId": merchant_id, "orderId": order_id})

    def register_merchant(self, *, redirect_url: str, merchant_id: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"redirectUrl": redirect_url}
        if merchant_id:
            body["merchantId"] = merchant_id
        return self._json("POST", "/v1/merchants", operation="register_merchant",
                          idempotent=False, json=body)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
