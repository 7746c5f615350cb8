"""The one HTTP helper all provider clients use.

* one ``requests.Session`` per thread and base URL (connection reuse),
* connect and read timeouts on every call,
* every call reported to a ``recorder`` (the order's timeline) and the log, with
  credentials redacted,
* transport and status failures mapped onto ``providers.errors``: the caller says whether the
  call is idempotent, and that decides whether a timeout after sending is *unavailable*
  (safe to retry) or *outcome unknown* (never blind-retry).
"""

from __future__ import annotations

import email.utils
import html
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urljoin

import requests
from django.conf import settings

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
from .types import CallRecord

logger = logging.getLogger("providers.http")

Recorder = Callable[[CallRecord], None]
MAX_EXCERPT = 300

_local = threading.local()


def session_for(base_url: str) -> requests.Session:
    sessions: dict[str, requests.Session] = getattr(_local, "sessions", None) or {}
    _local.sessions = sessions
    session = sessions.get(base_url)
    if session is None:
        session = sessions[base_url] = requests.Session()
        session.headers["User-Agent"] = "dropdesk/1.0"
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
    ) -> None:
        if not base_url:
            raise ProviderRejected("This account has no base URL configured.")
        self.base_url = base_url.rstrip("/") + "/"
        self.recorder = recorder
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
        if status == 429 or status in (502, 503) or (status >= 500 and idempotent):
            return ProviderUnavailable(
                message,
                http_status=status,
                operation=operation,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            # 500/504 on a create: the provider may have acted before failing.
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
        ratelimit.acquire()  # the account's shared limiter; raises before sending when busy
        all_params = {**self.params, **(params or {})}
        all_headers = {**self.headers, **(headers or {})}
        started = time.monotonic()
        shown_url = redact_url(url + ("?" + urlencode(all_params) if all_params else ""))
        status: int | None = None
        try:
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
            except requests.exceptions.ConnectTimeout as exc:
                raise ProviderUnavailable(
                    f"{operation}: could not connect in time ({exc.__class__.__name__})",
                    operation=operation,
                ) from exc
            except requests.exceptions.ConnectionError as exc:
                if _sent(exc) and not idempotent:
                    raise ProviderOutcomeUnknown(
                        f"{operation}: the connection broke after the request was sent; "
                        "the provider may have acted on it",
                        operation=operation,
                    ) from exc
                raise ProviderUnavailable(
                    f"{operation}: could not reach the provider ({_short(exc)})",
                    operation=operation,
                ) from exc
            except (requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                if idempotent:
                    raise ProviderUnavailable(
                        f"{operation}: no complete reply in time ({exc.__class__.__name__})",
                        operation=operation,
                    ) from exc
                raise ProviderOutcomeUnknown(
                    f"{operation}: no complete reply after the request was sent "
                    f"({exc.__class__.__name__}); the provider may have acted on it",
                    operation=operation,
                ) from exc
            except requests.exceptions.RequestException as exc:
                raise ProviderUnavailable(
                    f"{operation}: request failed ({_short(exc)})", operation=operation
                ) from exc
            status = response.status_code
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
        outcome = "ok" if error is None else _outcome(error)
        record = CallRecord(
            operation=operation,
            method=method,
            url=url,
            http_status=status,
            duration_ms=int((time.monotonic() - started) * 1000),
            outcome=outcome,
            message=redact_text(str(error), self.secrets)[:500] if error else "",
        )
        logger.info(
            "provider call %s %s %s -> %s %s in %sms",
            operation, method, url, status, outcome, record.duration_ms,
        )
        if self.recorder is not None:
            self.recorder(record)


def _sent(exc: requests.exceptions.ConnectionError) -> bool:
    """Did the failure happen after the request bytes went out (a reset mid-reply)?"""
    text = repr(exc)
    return any(
        marker in text
        for marker in ("RemoteDisconnected", "ConnectionResetError", "Connection aborted",
                       "IncompleteRead", "ProtocolError")
    ) and "NewConnectionError" not in text and "ConnectionRefused" not in text


def _short(exc: Exception) -> str:
    text = redact_text(str(exc))  # before cutting: a cut secret would escape the redaction
    return (text[:200] + "…") if len(text) > 200 else text


def _outcome(error: ProviderError) -> str:
    from .errors import ProviderBadReply

    if isinstance(error, ProviderOutcomeUnknown):
        return "unknown"
    if isinstance(error, ProviderUnavailable):
        return "unavailable"
    if isinstance(error, ProviderBadReply):
        return "bad_reply"
    return "rejected"
