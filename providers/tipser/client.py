"""Tipser merchant orders API over HTTP (apiKey query parameter on every call)."""

from __future__ import annotations

from typing import Any

import requests

from providers.errors import ProviderBadReply
from providers.http import HttpClient, Recorder, body_excerpt, redact_text
from providers.ratelimit import RateScope

ORDERS = "/v3/merchants/orders"
MARKETS = "/v3/markets"


class TipserClient(HttpClient):
    def __init__(
        self, *, base_url: str, api_key: str, recorder: Recorder | None = None,
        rate_scope: RateScope | None,
    ) -> None:
        # The apiKey travels as a query parameter; HttpClient redacts it in every recorded URL
        # and log line, and the value itself is in ``secrets`` for message scrubbing.
        super().__init__(
            base_url=base_url,
            recorder=recorder,
            params={"apiKey": api_key},
            headers={"Accept": "application/json"},
            secrets=[api_key],
            rate_scope=rate_scope,
        )

    def error_message(self, response: requests.Response) -> str:
        """``{"error": {"id": "IncorrectInputData", "message": "..."}}`` -> "message (id)"."""
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict) and (error.get("message") or error.get("id")):
            text = str(error.get("message") or "").strip()
            code = str(error.get("id") or "").strip()
            message = f"{text} ({code})" if text and code else (text or code)
            return redact_text(message, self.secrets)[:300]  # redact, then cut
        return super().error_message(response)

    def json(self, response: requests.Response, *, operation: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderBadReply(
                f"{operation}: the reply is not JSON: {body_excerpt(response, self.secrets)!r}",
                operation=operation,
                http_status=response.status_code,
            ) from exc

    # --- calls ---------------------------------------------------------------------------
    def list_orders(
        self, *, from_date: str, states: str, page_size: int, page_index: int, to_date: str = ""
    ) -> Any:
        params: dict[str, Any] = {"from": from_date, "states": states}
        if to_date:
            params["to"] = to_date
        params.update(pageSize=page_size, pageIndex=page_index)
        response = self.request(
            "GET", ORDERS, operation="list_orders", idempotent=True, params=params
        )
        return self.json(response, operation="list_orders")

    def get_order(self, order_id: str) -> Any:
        response = self.request(
            "GET", f"{ORDERS}/{order_id}", operation="fetch_order", idempotent=True
        )
        return self.json(response, operation="fetch_order")

    def set_status(self, order_id: str, body: dict[str, Any]) -> None:
        # Setting a status is idempotent (the same request twice leaves the same state).
        self.request(
            "PUT", f"{ORDERS}/{order_id}", operation="set_item_status", idempotent=True, json=body
        )

    def post_shipping(self, order_id: str, body: dict[str, Any]) -> None:
        # Not known to be idempotent (a second post may add a second shipping record).
        self.request(
            "POST",
            f"{ORDERS}/{order_id}/shipping",
            operation="push_shipment",
            idempotent=False,
            json=body,
        )

    def markets(self) -> Any:
        response = self.request("GET", MARKETS, operation="markets", idempotent=True)
        return self.json(response, operation="markets")
