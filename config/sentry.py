"""Optional error reporting: Sentry when ``SENTRY_DSN`` is set (settings.py calls ``init``).

Django and Celery integrations; no personal data (``send_default_pii=False``); every event
passes through ``scrub_event``, which runs the same redaction as the log handlers (the filter
named in ``LOGGING["filters"]["redact"]``) over every string of the event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

_REDACT_FILTER_KEY = "redact"


def _redactor(logging_config: dict[str, Any]) -> Callable[[str], str]:
    spec = logging_config["filters"][_REDACT_FILTER_KEY]
    factory = spec["()"]
    log_filter = (import_string(factory) if isinstance(factory, str) else factory)(
        **{k: v for k, v in spec.items() if k != "()"}
    )

    def redact(text: str) -> str:
        record = logging.LogRecord("sentry", logging.ERROR, __file__, 0, text, None, None)
        log_filter.filter(record)
        return str(record.msg)

    return redact


def _scrub(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, redact) for v in value]
    return value


def scrubber(logging_config: dict[str, Any]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A ``before_send`` running the logs' redaction over the whole event."""
    redact_holder: list[Callable[[str], str]] = []

    def scrub_event(event: dict[str, Any], hint: Any) -> dict[str, Any]:
        if not redact_holder:  # built on first use: the filter's module may need the apps
            redact_holder.append(_redactor(logging_config))
        return _scrub(event, redact_holder[0])

    return scrub_event


def init(*, dsn: str, environment: str, release: str, traces_sample_rate: float,
         logging_config: dict[str, Any]) -> bool:
    """Start the SDK when a DSN is given; False (and nothing imported) otherwise."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        before_send=scrubber(logging_config),  # type: ignore[arg-type]
    )
    return True
