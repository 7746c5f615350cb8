"""OpenAPI: every operation documents the error shape for the statuses it can answer, and
every POST documents the ``Idempotency-Key`` header."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from .errors import ErrorSerializer

IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional, 1-255 printable ASCII characters. Sending the same key again with the same "
        "request replays the first response (header `Idempotent-Replayed: true`); the same key "
        "with a different request answers 422 `idempotency_key_reused`; while the first "
        "request still runs, 409 `idempotency_in_progress`. Keys are kept for "
        "API_IDEMPOTENCY_RETENTION_HOURS (default 24)."
    ),
    pattern=r"^[\x21-\x7e]{1,255}$",
)

ERROR_DESCRIPTIONS = {
    "400": "Invalid input (`invalid` with `fields`, or `parse_error`).",
    "401": "Not authenticated.",
    "403": "Authenticated but not allowed (e.g. read-only user).",
    "404": "Not found (or outside the token's merchants).",
    "409": "Not allowed now (`not_allowed` with `allowed`), provider refused "
           "(`provider_rejected` with `failure_reason`), or idempotency key in use.",
    "415": "Unsupported media type (send application/json).",
    "422": "Idempotency key reused with a different request.",
    "429": "Throttled (`retry_after` seconds).",
    "502": "The provider failed or answered nonsense (`provider_error` with `failure_reason`).",
}


class ApiAutoSchema(AutoSchema):
    def _is_api(self) -> bool:
        return self.path.startswith("/api/v1/")

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        if self._is_api() and self.method == "POST":
            params.append(IDEMPOTENCY_KEY)
        return params

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        if direction != "response" or not self._is_api():
            return responses
        codes = ["400", "401", "403", "404", "429"]
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            codes += ["409", "415", "502"]
        if self.method == "POST":
            codes.append("422")
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses
