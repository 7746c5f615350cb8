"""The one HTTP helper all provider clients use.

* one ``requests.Session`` per thread and base URL (connection reuse),
* connect and read timeouts on every call,
* every call takes a slot of its account's shared rate limiter first (``rate_scope``, built
  by the service from its account: ``ProviderService.rate_scope``; ``providers.ratelimit``).
  The client holds the scope, so every request any provider method makes is limited — there
  is no list of limited operations,
* every call — sent, failed, or refused by the limiter before sending — goes through
  ``record_call``: the structured log always (with the account), and the ``recorder`` (the
  order's timeline) when the service was given one; credentials redacted
  (``core.redaction``),
* transport and status failures mapped onto ``providers.errors``: the caller says whether the
  call is idempotent, and that decides whether a failure after sending is *unavailable*
  (safe to retry) or *outcome unknown* (never blind-retry). Whether the request was sent is
  decided by exception type (``providers.transport.classify_transport_failure``),
* redirects are never followed (``ProviderSession``); a 3xx is a failure (``redirect_error``).
"""

from __future__ import annotations

import email.utils
import html
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from django.conf import settings

from core import web_scope

# Redaction lives in core.redaction (the one source of truth); re-exported for the clients.
from core.redaction import (  # noqa: F401
    REDACTED,
    SENSITIVE_PARAMS,
    RedactingFilter,
    redact_text,
    redact_url,
)

from . import ratelimit
from .errors import (
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
)
from .transport import classify_transport_failure
from .types import CallRecord

logger = logging.getLogger("providers.http")

Recorder = Callable[[CallRecord], None]
MAX_EXCERPT = 300

_local = threading.local()


class ProviderSession(requests.Session):
    """A session that never follows a redirect, whatever the caller asks: a 3xx is answered
    to the caller as is, so the body and the credentials (``Authorization``, API-key
    headers, query parameters) never go to a host the account does not name."""

    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = "dropdesk/1.0"

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        return super().send(request, **kwargs)

    def resolve_redirects(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        return iter(())  # a second guard: there is never a next request to build or send


def session_for(base_url: str) -> requests.Session:
    sessions: dict[str, requests.Session] = getattr(_local, "sessions", None) or {}
    _local.sessions = sessions
    session = sessions.get(base_url)
    if session is None:
        session = sessions[base_url] = ProviderSession()
    return session


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_TAGS = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.S | re.I)


def body_excerpt(response: requests.Response, secrets: Iterable[str] = ()) -> str:
    try:
        text = response.text
    except Exception:
        text = repr(response.content[:MAX_EXCERPT])
    if "html" in response.headers.get("Content-Type", "").lower() or text.lstrip()[:1] == "<":
        text = html.unescape(_TAGS.sub(" ", text))  # an HTML error page: its words, not markup
    text = " ".join(text.split())
    return redact_text(text, secrets)[:MAX_EXCERPT]  # redact, then cut


class HttpClient:
    """Base of every provider client. Subclasses set auth and override ``error_for``."""

    def __init__(
        self,
        *,
        base_url: str,
        recorder: Recorder | None = None,
        auth: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        timeout: tuple[float, float] | None = None,
        rate_scope: ratelimit.RateScope | None,
    ) -> None:
        """``rate_scope`` has no default on purpose: every client states whose limiter its
        calls take (the account's, ``ProviderService.rate_scope``), or ``None`` for none."""
        if not base_url:
            raise ProviderRejected("This account has no base URL configured.")
        self.base_url = base_url.rstrip("/") + "/"
        self.recorder = recorder
        self.rate_scope = rate_scope
        self.auth = auth
        self.headers = dict(headers or {})
        self.params = dict(params or {})
        self.secrets = [s for s in secrets if s]
        self.timeout = timeout or (
            settings.PROVIDER_CONNECT_TIMEOUT,
            settings.PROVIDER_READ_TIMEOUT,
        )

    # --- hooks ---------------------------------------------------------------------------
    def error_message(self, response: requests.Response) -> str:
        """A readable reason from an error reply. Providers override for their body shape."""
        return body_excerpt(response, self.secrets) or response.reason or "no reason given"

    def error_for(
        self, response: requests.Response, *, operation: str, idempotent: bool
    ) -> ProviderError:
        status = response.status_code
        message = f"{operation}: HTTP {status}: {self.error_message(response)}"
        # 429 and 503: the provider did not take the request. 502 and the other 5xx on a call
        # that is not idempotent: a gateway may have lost the reply of a provider that acted.
        if status in (429, 503) or (status >= 500 and idempotent):
            return ProviderUnavailable(
                message,
                http_status=status,
                operation=operation,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            # 500/502/504 on a create: the provider may have acted before failing.
            return ProviderOutcomeUnknown(message, http_status=status, operation=operation)
        return ProviderRejected(message, http_status=status, operation=operation)

    # --- the call ------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
    ) -> requests.Response:
        url = urljoin(self.base_url, path.lstrip("/"))
        all_params = {**self.params, **(params or {})}
        all_headers = {**self.headers, **(headers or {})}
        started = time.monotonic()
        shown_url = redact_url(url + ("?" + urlencode(all_params) if all_params else ""))
        status: int | None = None
        web_scope.provider_call_check(operation)  # never from inside a web request
        try:
            # the account's shared limiter; raises before sending when the wait is too long
            # (recorded as such: nothing was sent)
            ratelimit.acquire(self.rate_scope)
            try:
                response = session_for(self.base_url).request(
                    method,
                    url,
                    params=all_params or None,
                    json=json,
                    data=data,
                    headers=all_headers,
                    auth=auth if auth is not None else self.auth,
                    timeout=self.timeout,
                )
                response.content  # noqa: B018 - read the whole body inside the error mapping
            except requests.exceptions.RequestException as exc:
                raise transport_error(exc, operation=operation, idempotent=idempotent) from exc
            status = response.status_code
            if 300 <= status < 400:
                raise redirect_error(response, operation=operation, idempotent=idempotent)
            if status >= 400:
                raise self.error_for(response, operation=operation, idempotent=idempotent)
        except ProviderError as exc:
            self._record(operation, method, shown_url, exc.http_status or status, started, exc)
            raise
        self._record(operation, method, shown_url, status, started, None)
        return response

    def _record(
        self,
        operation: str,
        method: str,
        url: str,
        status: int | None,
        started: float,
        error: ProviderError | None,
    ) -> None:
        record = CallRecord(
            operation=operation,
            method=method,
            url=url,
            http_status=status,
            duration_ms=int((time.monotonic() - started) * 1000),
            outcome="ok" if error is None else _outcome(error),
            message=redact_text(str(error), self.secrets)[:500] if error else "",
        )
        record_call(record, recorder=self.recorder, scope=self.rate_scope)


def record_call(
    record: CallRecord, *, recorder: Recorder | None, scope: ratelimit.RateScope | None
) -> None:
    """The one place a provider call is recorded: the structured log always (the account, the
    operation and the outcome as fields of the record), and ``recorder`` (the order's
    timeline, ``orders.timeline.CallRecorder``) when there is one. There is no account-level
    call table: for calls made without an order (account checks, carrier lists, reservation
    reads, token fetches), the log is the record. ``record`` is already redacted."""
    account = scope.account_id if scope is not None else None
    fields: dict[str, Any] = {
        "provider_operation": record.operation,
        "http_method": record.method,
        "http_status": record.http_status,
        "outcome": record.outcome,
        "duration_ms": record.duration_ms,
    }
    if account is not None:  # never overwrite a bound provider_account with None
        fields["provider_account"] = account
    logger.info(
        "provider call %s %s %s -> %s %s in %sms (account %s)",
        record.operation, record.method, record.url, record.http_status, record.outcome,
        record.duration_ms, account if account is not None else "-",
        extra=fields,
    )
    if recorder is not None:
        recorder(record)


def transport_error(
    exc: requests.exceptions.RequestException, *, operation: str, idempotent: bool
) -> ProviderError:
    """A failure without a reply, classed by ``classify_transport_failure``: before sending
    it is *unavailable* (safe to retry); after sending it is *unavailable* for an idempotent
    call and *outcome unknown* for any other. The reason names the kind of failure only (no
    URL, no exception text: those can carry credentials)."""
    failure = classify_transport_failure(exc)
    if failure.before_sending:
        return ProviderUnavailable(
            f"{operation}: could not reach the provider ({failure.kind}); nothing was sent",
            operation=operation,
        )
    if idempotent:
        return ProviderUnavailable(f"{operation}: no complete reply ({failure.kind})",
                                   operation=operation)
    return ProviderOutcomeUnknown(
        f"{operation}: no complete reply after the request was sent ({failure.kind}); "
        "the provider may have acted on it",
        operation=operation,
    )


def redirect_error(response: requests.Response, *, operation: str, idempotent: bool) -> ProviderError:
    """A 3xx: never followed, never retryable. Unknown outcome for a call that is not
    idempotent (the provider may have acted before redirecting); a plain refusal otherwise.
    The reason names the status and the target host only (a Location's path or query may
    carry secrets)."""
    status = response.status_code
    try:
        target = urlsplit(urljoin(response.url or "", response.headers.get("Location", "")))
        host = target.hostname or ""
        if host and target.port:
            host = f"{host}:{target.port}"
    except ValueError:  # a Location we cannot parse
        host = ""
    where = f" to {host}" if host else ""
    message = (f"{operation}: HTTP {status} redirect{where}; provider calls do not follow "
               "redirects (check the account's base URL)")
    if not idempotent:
        return ProviderOutcomeUnknown(message + "; the provider may have acted on the request",
                                      http_status=status, operation=operation, code="redirect")
    return ProviderRejected(message, http_status=status, operation=operation, code="redirect")


def _outcome(error: ProviderError) -> str:
    from .errors import ProviderBadReply

    if isinstance(error, ProviderOutcomeUnknown):
        return "unknown"
    if isinstance(error, ProviderUnavailable):
        return "unavailable"
    if isinstance(error, ProviderBadReply):
        return "bad_reply"
    return "rejected"
