"""HTTP client for the Brandsdistribution / BDroppy "ghost" API.

HTTP Basic auth (API key as user name, password), ``Content-Type``/``Accept`` chosen by the
account's wire format. Error replies: the provider answers a refused order body with
**429 and the reason in the body**, so a 429 is a rejection with that message — unless the
body talks about a rate limit or a ``Retry-After`` header is present, which makes it a real
"try later" (ProviderUnavailable). 412 carries a plain-text reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import requests
from requests.auth import HTTPBasicAuth

from core.redaction import register_basic_auth
from providers.errors import ProviderError, ProviderRejected, ProviderUnavailable
from providers.http import HttpClient, Recorder, parse_retry_after, redact_text
from providers.ratelimit import RateScope

from . import mapping

ORDER_CREATE_PATH = "/restful/ghost/orders/0/dropshipping"
RESERVE_PATH = "/restful/ghost/orders/sold/"
RESERVATION_PATH = "/restful/ghost/orders/dropshipping/locked/"
STATUS_BY_KEY_PATH = "/restful/ghost/clientorders/clientkey/{key}"
CARRIERS_PATH = "/restful/export/carriers"

# Client code documents 429 as "too many requests, retry in 15 minutes".
RATE_LIMIT_WAIT = 15 * 60
_RATE_LIMIT_WORDS = re.compile(r"(?i)rate.?limit|too many requests|retry (later|in)|throttl")


class BrandsdistributionClient(HttpClient):
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        password: str,
        wire_format: str = mapping.JSON,
        recorder: Recorder | None = None,
        secrets: Iterable[str] = (),
        rate_scope: RateScope | None,
    ) -> None:
        if wire_format not in mapping.CONTENT_TYPES:
            raise ProviderRejected(
                f"Unknown wire format '{wire_format}' (use 'json' or 'xml').", code="config"
            )
        if not api_key or not password:
            raise ProviderRejected(
                "The account needs both an API key and a password (HTTP Basic).", code="config"
            )
        content_type = mapping.CONTENT_TYPES[wire_format]
        register_basic_auth(api_key, password)
        super().__init__(
            base_url=base_url,
            recorder=recorder,
            auth=HTTPBasicAuth(api_key, password),
            headers={"Accept": content_type},
            secrets=[api_key, password, *secrets],
            rate_scope=rate_scope,
        )
        self.wire_format = wire_format
        self.content_type = content_type

    # --- error mapping -------------------------------------------------------------------
    def error_message(self, response: requests.Response) -> str:
        text = mapping.error_text(response.content, response.headers.get("Content-Type", ""))
        text = redact_text(text, self.secrets)[:500]  # redact, then cut
        return text or response.reason or "no reason given"

    def error_for(
        self, response: requests.Response, *, operation: str, idempotent: bool
    ) -> ProviderError:
        status = response.status_code
        message = self.error_message(response)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None or _RATE_LIMIT_WORDS.search(message) or not message:
                return ProviderUnavailable(
                    f"{operation}: rate limited by Brandsdistribution: {message}",
                    http_status=status, operation=operation,
                    retry_after=retry_after if retry_after is not None else RATE_LIMIT_WAIT,
                )
            # The documented way of refusing a request body: the reason is the message.
            return ProviderRejected(message, http_status=status, operation=operation,
                                    code="refused")
        if status == 401:
            return ProviderRejected(
                f"{operation}: Brandsdistribution refused the API key/password (HTTP 401)",
                http_status=status, operation=operation, code="unauthorized",
            )
        if status in (404, 412):
            return ProviderRejected(message, http_status=status, operation=operation,
                                    code="not_found" if status == 404 else "refused")
        return super().error_for(response, operation=operation, idempotent=idempotent)

    # --- calls ---------------------------------------------------------------------------
    def _send(self, method: str, path: str, *, operation: str, idempotent: bool,
              body: bytes | None = None) -> requests.Response:
        headers: dict[str, str] = {}
        if body is not None:
            headers["Content-Type"] = self.content_type
        return self.request(method, path, operation=operation, idempotent=idempotent,
                            data=body, headers=headers)

    def create_order(self, document: Mapping[str, Any]) -> dict[str, Any]:
        response = self._send(
            "POST", ORDER_CREATE_PATH, operation="place_order", idempotent=False,
            body=mapping.order_body(document, self.wire_format),
        )
        return mapping.parse_models_reply(response.content, self.wire_format,
                                          what="place_order")

    def reserve(self, operation: str, quantities: Mapping[str, int]) -> dict[str, dict[str, int]] | None:
        """Lock/unlock quantities. ``lock`` is not idempotent (it adds to the reservation).

        The reply lists the models in the reservation after the operation (Rewix "Reserve":
        "the actually reserved quantities"): returned like ``reservation()``; None when the
        reply carries no list (an empty body, or JSON without ``models``)."""
        response = self._send(
            "POST", RESERVE_PATH, operation=f"reserve_{operation}",
            idempotent=operation == "set",
            body=mapping.reserve_body(mapping.reserve_document(operation, quantities),
                                      self.wire_format),
        )
        return mapping.parse_reserve_reply(response.content, self.wire_format,
                                           what=f"reserve_{operation}")

    def reservation(self) -> dict[str, dict[str, int]]:
        response = self._send("GET", RESERVATION_PATH, operation="reservation_status",
                              idempotent=True)
        return mapping.parse_models_reply(response.content, self.wire_format,
                                          what="reservation_status")["models"]

    def orders_by_key(self, key: str) -> list[dict[str, Any]]:
        """Orders whose ``ext_ref`` is our reference; [] when the provider has none (404)."""
        try:
            response = self._send(
                "GET", STATUS_BY_KEY_PATH.format(key=quote(key, safe="")),
                operation="order_status", idempotent=True,
            )
        except ProviderRejected as exc:
            if exc.http_status == 404:
                return []
            raise
        if not response.content.strip():
            return []
        return mapping.parse_status_reply(response.content, self.wire_format,
                                          what="order_status")

    def carriers(self) -> list[dict[str, Any]]:
        response = self._send("GET", CARRIERS_PATH, operation="carriers", idempotent=True)
        return mapping.parse_carriers(response.content, self.wire_format, what="carriers")
