"""The API's one error shape, and the exception handler that produces it.

Every error response is::

    {"error": {"code": "...", "message": "...",
               "fields": {"field.path": ["problem", ...]},   # validation errors
               "allowed": ["transition", ...],                # refused transitions
               "failure_reason": "...", "order_state": "..."  # provider errors on an order
    }}

Only ``code`` and ``message`` are always present.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.redaction import redact_text
from merchants.services import AuthorizationLinkRefused, MerchantAuthorizationError
from orders.errors import OrderActionRefused, OrderValidationError
from providers.errors import (
    ProviderError,
    ProviderNotSupported,
    ProviderRejected,
)

logger = logging.getLogger(__name__)

REFUSAL_STATUS = {
    "forbidden": status.HTTP_403_FORBIDDEN,
    "unknown": status.HTTP_404_NOT_FOUND,
    "invalid": status.HTTP_400_BAD_REQUEST,
    "version_conflict": status.HTTP_412_PRECONDITION_FAILED,  # If-Match no longer current
}


class ApiError(exceptions.APIException):
    """An error with our shape: raise it from views for anything not covered below."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        fields: dict[str, list[str]] | None = None,
        allowed: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code)
        self.status_code = status_code
        self.body: dict[str, Any] = {"code": code, "message": message}
        if fields:
            self.body["fields"] = fields
        if allowed is not None:
            self.body["allowed"] = allowed
        self.body.update(extra or {})


def provider_failure(exc: ProviderError, order: Any = None) -> ApiError:
    """A provider error while working on ``order``: 409 when the provider said no (or has no
    such operation), 502 when it failed or answered nonsense. The order's recorded failure
    reason travels in the body."""
    extra: dict[str, Any] = {"provider_error": exc.__class__.__name__}
    if order is not None:
        extra.update(order_id=order.pk, order_state=order.state,
                     failure_reason=redact_text(order.failure_reason or str(exc)))
    if isinstance(exc, ProviderNotSupported):
        return ApiError(409, "not_supported", str(exc), extra=extra)
    if isinstance(exc, ProviderRejected):
        return ApiError(409, "provider_rejected", f"The provider refused: {exc}", extra=extra)
    return ApiError(502, "provider_error", f"The provider failed: {exc}", extra=extra)


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"dotted.path": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            for k, v in flatten_errors(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(v) for v in detail)
        else:
            for index, value in enumerate(detail):
                if value in ({}, []):
                    continue
                path = f"{prefix}.{index}" if prefix else str(index)
                for k, v in flatten_errors(value, path).items():
                    out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def _field_list(fields: dict[str, Any]) -> dict[str, list[str]]:
    return {str(k): [str(v)] if not isinstance(v, list) else [str(x) for x in v]
            for k, v in fields.items()}


# Validation codes that are not a malformed request: the request is well formed (the schema
# allows it) but names something that does not exist, or conflicts with stored data.
NOT_FOUND_CODES = frozenset({"does_not_exist"})
CONFLICT_CODES = frozenset({"unique", "conflict"})


def _codes(detail: Any) -> set[str]:
    if isinstance(detail, dict):
        return set().union(*(_codes(v) for v in detail.values())) if detail else set()
    if isinstance(detail, list):
        return set().union(*(_codes(v) for v in detail)) if detail else set()
    return {str(detail)}


def _validation_error(exc: exceptions.ValidationError) -> ApiError:
    """400 for a request the schema forbids; 404 when the only problem is a referenced object
    that does not exist (or is not visible); 409 when it conflicts with stored data."""
    fields = flatten_errors(exc.detail)
    codes = _codes(exc.get_codes())
    if codes and codes <= NOT_FOUND_CODES:
        return ApiError(404, "not_found", "A referenced object does not exist.", fields=fields)
    if codes and codes <= NOT_FOUND_CODES | CONFLICT_CODES:
        return ApiError(409, "conflict", "This conflicts with existing data.", fields=fields)
    return ApiError(400, "invalid", "The data is not valid.", fields=fields)


def _merchant_refusal(exc: MerchantAuthorizationError) -> ApiError:
    if isinstance(exc, AuthorizationLinkRefused):
        return ApiError(404 if exc.code == "invalid" else 410, f"link_{exc.code or 'invalid'}",
                        exc.message)
    return ApiError(409, exc.code or "refused", exc.message)


def _to_api_error(exc: Exception) -> Exception:
    """Every domain refusal, by class, as an error of the API's shape."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, OrderValidationError):
        # The request was well formed (the serializer checked it against the schema): the
        # order's data does not allow this now. ``fields`` says what to fix.
        return ApiError(409, "order_invalid", exc.message, fields=_field_list(exc.fields))
    if isinstance(exc, OrderActionRefused):
        code = exc.code
        allowed = exc.allowed if code == "not_allowed" else None
        status_code = REFUSAL_STATUS.get(code, 429 if code == "rate_limited" else 409)
        return ApiError(status_code, code, exc.message, allowed=allowed)
    if isinstance(exc, MerchantAuthorizationError):
        return _merchant_refusal(exc)
    if isinstance(exc, ProviderError):
        return provider_failure(exc)
    if isinstance(exc, DjangoValidationError):
        fields = (_field_list(exc.message_dict) if hasattr(exc, "error_dict")
                  else {"non_field_errors": [str(m) for m in exc.messages]})
        errors = ([e for errs in exc.error_dict.values() for e in errs]
                  if hasattr(exc, "error_dict") else exc.error_list)
        if errors and all(e.code in ("unique", "unique_together") for e in errors):
            return ApiError(409, "conflict", "This conflicts with existing data.", fields=fields)
        return ApiError(400, "invalid", "The data is not valid.", fields=fields)
    if isinstance(exc, TransitionNotAllowed | ConcurrentTransition):
        return ApiError(409, "not_allowed", str(exc) or "Not allowed now.")
    if isinstance(exc, exceptions.ValidationError):
        return _validation_error(exc)
    if isinstance(exc, IntegrityError):
        return ApiError(409, "conflict", "This conflicts with existing data (a duplicate?).")
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _to_api_error(exc)
    response = drf_exception_handler(exc, context)  # status, auth and Retry-After headers
    if response is None:
        # A bug: logged with its traceback, answered in the error shape (also with DEBUG on,
        # where Django would render an HTML page).
        request = context.get("request")
        logger.error("Internal error on %s", getattr(request, "path", "?"), exc_info=exc)
        return Response({"error": {"code": "server_error",
                                   "message": "Internal error; it has been logged."}},
                        status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, ApiError):
        body = exc.body
    else:
        detail = getattr(exc, "detail", "")
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
        body = {"code": str(code), "message": str(detail) if not isinstance(detail, dict | list)
                else "; ".join(f"{k}: {' '.join(v)}" for k, v in flatten_errors(detail).items())}
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            body["retry_after"] = int(wait)
    response.data = {"error": body}
    return response


# --- the shape, for the schema ------------------------------------------------------------------
class ErrorBodySerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        # ``fields`` is a reserved attribute name on serializers: declare fields here.
        return {
            "code": serializers.CharField(
                help_text="Machine-readable: invalid, not_allowed, forbidden, not_found, "
                "not_authenticated, authentication_failed, throttled, parse_error, "
                "unsupported_media_type, idempotency_key_reused, idempotency_in_progress, "
                "provider_rejected, provider_error, not_supported, merchant_not_authorized, "
                "conflict, ..."
            ),
            "message": serializers.CharField(help_text="For people."),
            "fields": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()), required=False,
                help_text="Validation problems by field (dotted path for nested data, e.g. "
                "items.0.quantity).",
            ),
            "allowed": serializers.ListField(
                child=serializers.CharField(), required=False,
                help_text="With not_allowed: the transitions allowed now.",
            ),
            "order_id": serializers.IntegerField(required=False),
            "order_state": serializers.CharField(required=False),
            "failure_reason": serializers.CharField(
                required=False, help_text="With provider errors: the order's failure reason."
            ),
            "provider_error": serializers.CharField(required=False),
            "retry_after": serializers.IntegerField(required=False),
        }


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()
