"""No provider call inside a web request, by construction (issue 14).

``WebRequestScopeMiddleware`` marks the context of every request; Celery's ``task_prerun``
clears the mark for the task's run (an eager task run inside a request in tests, or a real
worker) and ``task_postrun`` restores it. The provider HTTP client (``providers.http``) asks
``provider_call_check`` before it sends: inside a web request it refuses
(``PROVIDER_CALL_IN_REQUEST = "raise"``, the test suite's setting) or logs an error
(``"log"``, the default: an operator's page keeps working while the log says which call
should move to the worker). Work a request needs from a provider is queued through
``orders.dispatch`` / ``merchants.dispatch`` (reads: ``core.provider_reads``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

_IN_REQUEST: ContextVar[bool] = ContextVar("dropdesk_in_web_request", default=False)
_TASK_TOKENS: dict[str, Token[bool]] = {}


class ProviderCallInWebRequest(RuntimeError):
    """A provider call was about to be sent from inside a web request (a programming error)."""


class WebRequestScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _IN_REQUEST.set(True)
        try:
            return self.get_response(request)
        finally:
            _IN_REQUEST.reset(token)


def in_web_request() -> bool:
    return _IN_REQUEST.get()


def provider_call_check(operation: str) -> None:
    """Called by the provider HTTP client before it sends ``operation``."""
    if not _IN_REQUEST.get():
        return
    message = (f"provider call '{operation}' inside a web request: queue it for the worker "
               "(orders.dispatch / merchants.dispatch, core.provider_reads)")
    if getattr(settings, "PROVIDER_CALL_IN_REQUEST", "log") == "raise":
        raise ProviderCallInWebRequest(message)
    logger.error(message)


@task_prerun.connect(weak=False, dispatch_uid="dropdesk-web-scope-task-start")
def _task_starts(task_id: str | None = None, **kwargs: Any) -> None:
    _TASK_TOKENS[str(task_id)] = _IN_REQUEST.set(False)


@task_postrun.connect(weak=False, dispatch_uid="dropdesk-web-scope-task-end")
def _task_ends(task_id: str | None = None, **kwargs: Any) -> None:
    token = _TASK_TOKENS.pop(str(task_id), None)
    if token is None:
        return
    with contextlib.suppress(ValueError):  # ended in another context: nothing to restore
        _IN_REQUEST.reset(token)
