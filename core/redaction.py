"""Secret redaction: the one place that decides what a secret looks like and masks it.

Every sink uses it: provider error messages (``providers.errors.ProviderError``), the text
stored on orders, timelines and authorization links (``redact_fields_on_save``), the admin,
the API and the CSV (they show what was stored, plus ``redact_text`` where text is built from
an exception), every log record (``install_log_redaction``: a record factory, so Celery's own
handlers and Django's are covered too, not only the handlers we configure), and Django's error
pages (``core.debug``).

What is a secret:

* every value registered with ``register_secret``: each provider account's credential values
  (registered when they are decrypted or encrypted, ``merchants.fields``; and loaded once per
  process for the display sinks, ``load_account_secrets``), tokens a client obtains (the
  reseller's OAuth access token), and ``FIELD_ENCRYPTION_KEY``'s keys. Their URL-encoded forms
  are registered too;
* generically, whatever follows ``apiKey=``, ``token=``, ``password=``, ``key=`` … in a query
  string or a form body, a JSON ``"password": "…"`` pair, and an ``Authorization`` header value.

Nothing here touches the database on the logging path: the registry is an in-memory set and its
compiled pattern is rebuilt only when a new value arrives.
"""

from __future__ import annotations

import base64
import html
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

REDACTED = "***"
# Shorter values are not masked in free text (a 3-letter "secret" would mask ordinary words).
MIN_SECRET_LENGTH = 6
_NAMES = (
    r"api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|token|password|passwd|"
    r"client[_-]?secret|secret|key"
)
SENSITIVE_PARAMS = {
    "apikey", "api_key", "api-key", "key", "token", "access_token", "refresh_token",
    "password", "passwd", "client_secret", "secret",
}
# name=value pairs (query strings, form bodies): a cheap scan, the name checked in Python
_PAIR = re.compile(r"(?<![\w.-])([A-Za-z][\w.-]*=)([^&\s'\"<>)]+)")
_SECRET_NAME = re.compile(rf"(?:^|[^a-z0-9_])(?:{_NAMES})=$")
# JSON / Python reprs: "password": "…", 'client_secret': '…'
_QUOTED = re.compile(rf"(?i)([\"'](?:{_NAMES})[\"']\s*:\s*[\"'])[^\"']+")
# headers: Authorization: Basic …, Bearer …, X-Api-Client-Id: …
_AUTHORIZATION = re.compile(
    r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:basic|bearer|token)\s+)[A-Za-z0-9._~+/=-]+")
_CLIENT_ID = re.compile(r"(?i)(x-api-client-id['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+")


def _mask_pair(match: re.Match[str]) -> str:
    name = match.group(1)
    return name + REDACTED if _SECRET_NAME.search(name.lower()) else match.group(0)


class SecretRegistry:
    """The known secret values of this process; one compiled pattern over all of them.

    Credentials stay for the life of the process. Tokens (``transient``) are renewed every
    hour or so: only the last ``MAX_TRANSIENT`` are kept, so a worker running for months does
    not grow a pattern of thousands of expired tokens that every log record is matched against.
    """

    MAX_TRANSIENT = 256

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._transient: dict[str, None] = {}  # insertion-ordered: the oldest go first
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _forms(values: tuple[object, ...]) -> list[str]:
        forms: list[str] = []
        for value in values:
            if value is None or isinstance(value, bool):
                continue
            text = str(value)
            if len(text) >= MIN_SECRET_LENGTH:
                # as written, in a URL, in a form body, in HTML
                forms += [text, quote(text, safe=""), quote_plus(text), html.escape(text)]
        return forms

    def add(self, *values: object, transient: bool = False) -> None:
        forms = [f for f in self._forms(values) if f not in self._values]
        if transient:
            forms = [f for f in forms if f not in self._transient]
        if not forms:
            return
        with self._lock:
            if transient:
                self._transient.update(dict.fromkeys(forms))
                while len(self._transient) > self.MAX_TRANSIENT:
                    del self._transient[next(iter(self._transient))]
            else:
                self._values.update(forms)
            self._pattern = None

    def __contains__(self, value: str) -> bool:
        return value in self._values or value in self._transient

    def __len__(self) -> int:
        return len(self._values) + len(self._transient)

    def pattern(self) -> re.Pattern[str] | None:
        pattern = self._pattern
        if pattern is None and (self._values or self._transient):
            with self._lock:
                known = self._values | set(self._transient)
                ordered = sorted(known, key=len, reverse=True)  # longest first
                pattern = self._pattern = re.compile("|".join(map(re.escape, ordered)))
        return pattern

    def clear(self) -> None:
        with self._lock:
            self._values = set()
            self._transient = {}
            self._pattern = None


registry = SecretRegistry()


def register_secret(*values: object, transient: bool = False) -> None:
    """Mask these values everywhere from now on: credential values, and (``transient``)
    tokens obtained from a provider."""
    registry.add(*values, transient=transient)


def register_basic_auth(username: str, password: str) -> None:
    """The base64 form HTTP Basic sends (a provider may echo the header value alone)."""
    if username and password:
        register_secret(base64.b64encode(f"{username}:{password}".encode("latin-1", "replace"))
                        .decode())


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret, every ``secrets`` value and every credential-looking
    parameter replaced by ``***``."""
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, REDACTED)
    pattern = registry.pattern()
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    # the generic patterns, each only where its marker occurs (this runs for every log record)
    if "=" in text:
        text = _PAIR.sub(_mask_pair, text)
    if ":" in text:
        if '"' in text or "'" in text:
            text = _QUOTED.sub(rf"\g<1>{REDACTED}", text)
        lowered = text.lower()
        if "authorization" in lowered:
            text = _AUTHORIZATION.sub(rf"\g<1>{REDACTED}", text)
        if "x-api-client-id" in lowered:
            text = _CLIENT_ID.sub(rf"\g<1>{REDACTED}", text)
    return text


def redact_url(url: str) -> str:
    """A URL with credential query parameters and user:password@ removed."""
    parts = urlsplit(url)
    query = [
        (k, REDACTED if k.lower() in SENSITIVE_PARAMS else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return redact_text(
        urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*,"), ""))
    )


def redact_data(value: Any) -> Any:
    """A JSON-like value with every string in it redacted (keys kept)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


# --- every log record -------------------------------------------------------------------------
def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Render the record's message and traceback now, redacted, so no handler or formatter
    (ours, Celery's, pytest's) ever sees the raw text."""
    if getattr(record, "_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging's own error path
        return record
    record.msg = redact_text(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
    record._redacted = True
    return record


class RedactingFilter(logging.Filter):
    """Logging filter (for handlers configured in LOGGING): scrubs every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_installed_factory: Callable[..., logging.LogRecord] | None = None


def install_log_redaction() -> None:
    """Redact every log record of the process at creation (root, Celery, Django, libraries).

    A filter only runs for the handlers or loggers it is attached to, and a Celery worker
    replaces the root handlers with its own; a record factory runs for every record.
    Idempotent.
    """
    global _installed_factory
    current = logging.getLogRecordFactory()
    if current is _installed_factory:
        return
    previous = current

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    _installed_factory = factory
    logging.setLogRecordFactory(factory)


# --- credentials of provider accounts ---------------------------------------------------------
# Set by the merchants app (core knows no models): registers every stored credential.
account_secrets_loader: Callable[[], None] | None = None
_accounts_loaded = False


def load_account_secrets(*, force: bool = False) -> None:
    """Register every stored account credential (once per process, again after an account
    changed: ``forget_account_secrets`` runs on save). For the display sinks, which may show
    text an older process stored; never called on the logging path."""
    global _accounts_loaded
    if (_accounts_loaded and not force) or account_secrets_loader is None:
        return
    account_secrets_loader()
    _accounts_loaded = True


def forget_account_secrets(**kwargs: Any) -> None:
    global _accounts_loaded
    _accounts_loaded = False


# --- text stored in the database --------------------------------------------------------------
def redact_fields_on_save(model: type, *field_names: str) -> None:
    """Redact these text/JSON fields of ``model`` each time an instance is saved."""
    from django.db.models.signals import pre_save

    def receiver(sender: type, instance: Any, **kwargs: Any) -> None:
        for name in field_names:
            value = getattr(instance, name, None)
            if value:
                setattr(instance, name, redact_data(value))

    pre_save.connect(receiver, sender=model, weak=False,
                     dispatch_uid=f"redact:{model.__module__}.{model.__qualname__}")
