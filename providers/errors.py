"""The error hierarchy every provider raises.

Callers decide from the class alone:

* ``ProviderRejected``: the provider said no (4xx with a reason, validation). Never retry;
  show ``message`` to the operator.
* ``ProviderUnavailable``: nothing happened at the provider (connection refused, 503, 429;
  any transport failure or 5xx of an idempotent call).
  Safe to retry, after ``retry_after`` seconds when the provider said so.
* ``ProviderOutcomeUnknown``: the request may have been acted on (any failure after it was
  sent, a 3xx, or a 5xx other than 503, on a call that is not idempotent). Never re-send
  blindly: reconcile. "Sent or not" is decided by exception type in
  ``providers.transport.classify_transport_failure``: only a failure that proves nothing left
  (refused, DNS, connect timeout, proxy, TLS handshake) is ``ProviderUnavailable``.
* ``ProviderBadReply``: the provider answered 2xx but with a body we cannot read. For a
  create, that is an unknown outcome too (the order may exist); callers treat it so.
* ``ProviderNotSupported``: this provider has no such operation.
"""

from __future__ import annotations

from core.redaction import redact_text


class ProviderError(Exception):
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        operation: str = "",
        code: str = "",
        details: object = None,
    ) -> None:
        # Redacted at birth: the message reaches failure reasons, timelines, API bodies, admin
        # pages, the CSV and log lines (Celery's retry lines print the exception's repr).
        message = redact_text(str(message))
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.operation = operation
        self.code = code
        self.details = details

    def __str__(self) -> str:
        return self.message


class ProviderRejected(ProviderError):
    """The provider refused the request. Retrying the same request cannot help."""


class ProviderValidationError(ProviderRejected):
    """We refused the request ourselves, before any call: the data cannot be sent as is."""

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.fields = fields or {}


class ProviderUnavailable(ProviderError):
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ProviderOutcomeUnknown(ProviderError):
    """The request may or may not have been acted on."""


class ProviderBadReply(ProviderError):
    """A 2xx reply whose body does not have the documented shape."""


class ProviderNotSupported(ProviderError):
    pass


# --- reservation shortfall (brandsdistribution) ---
class ProviderShortfall(ProviderValidationError):
    """The provider could not hold the quantities asked for, so we did not send the order.

    ``confirmed_quantities`` (our OrderItem pk -> quantity the provider could hold) lets the
    domain show requested vs held on each item, so the operator can accept or cancel.
    """

    def __init__(self, message: str, *, confirmed_quantities: dict[int, int],
                 **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.confirmed_quantities = confirmed_quantities
