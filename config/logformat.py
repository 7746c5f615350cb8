"""Log output for production: one JSON object per line (structlog's ProcessorFormatter on the
standard logging handlers), with the context of config/observability.py merged in. Imported by
LOGGING before the apps load: nothing here touches Django models.

Why structlog itself (not django-structlog or python-json-logger): structlog is the actively
maintained core both build on; its contextvars carry request/task/order ids across threads and
Celery children, and rendering stdlib records keeps every record a plain ``LogRecord`` with a
string message until the end, so the redaction filter on the handlers sees every message
(django-structlog's own events are dicts, which the filter does not scrub).
"""

from __future__ import annotations

import logging
from typing import Any

import structlog


def _rendered_exception(logger: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    """A traceback the redaction already rendered (``record.exc_text``) is used as it is:
    rendering ``exc_info`` again would bring back what the redaction removed."""
    record = event.get("_record")
    text = getattr(record, "exc_text", None)
    if text and event.get("exc_info"):
        event.pop("exc_info")
        event["exception"] = text
    return event


def json_formatter() -> logging.Formatter:
    pre_chain: list[Any] = [
        _rendered_exception,
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(default=str),
        ],
    )
