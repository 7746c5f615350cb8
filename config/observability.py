"""Log context: every log record of a request or a task carries its identifiers.

The identifiers live in ``structlog.contextvars`` (context variables, so they follow a thread,
a Celery prefork child or an asyncio task): the JSON formatter (config/logformat.py) merges
them into every record, stdlib or structlog. Bound here:

- ``request_id`` by ``RequestIdMiddleware`` (the client's ``X-Request-ID`` when it is sane, else
  a new one; echoed in the response);
- ``task_id`` and ``task`` at Celery's ``task_prerun``;
- ``order`` (reference) and ``provider_account`` (+ ``provider``) by ``bind_order`` /
  ``bind_account``, where an order's or an account's provider work runs (orders/tasks.py).

Each request and each task starts and ends with an empty context: nothing leaks to the next.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from celery.signals import task_postrun, task_prerun
from django.http import HttpRequest, HttpResponse

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    """Binds a request id for the request's log records and answers it in ``X-Request-ID``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.clear_contextvars()
        response["X-Request-ID"] = request_id
        return response


def bind_account(account: Any) -> None:
    """The provider account whose API the current work talks to."""
    if account is not None:
        structlog.contextvars.bind_contextvars(provider_account=account.pk,
                                               provider=account.provider)


def bind_order(order: Any) -> None:
    """The order the current work is about (and its merchant's provider account)."""
    if order is None:
        return
    structlog.contextvars.bind_contextvars(order=order.reference)
    merchant = getattr(order, "merchant", None)
    bind_account(getattr(merchant, "account", None))


@task_prerun.connect(dispatch_uid="dropdesk-log-context-prerun")
def _task_context_bind(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task=getattr(task, "name", None))


@task_postrun.connect(dispatch_uid="dropdesk-log-context-postrun")
def _task_context_clear(**kwargs: Any) -> None:
    structlog.contextvars.clear_contextvars()
