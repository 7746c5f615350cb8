"""Provider latency for the sandboxes: every ``/sandbox/`` request waits SANDBOX_LATENCY_MS.

The sandboxes answer in a few milliseconds on loopback; a real provider takes 100–300 ms per
call. Benchmarks (and demos) that must see what latency does to a sync or a placement set
``SANDBOX_LATENCY_MS`` (environment) for the server that serves the sandboxes. Applied here,
in one place, so no sandbox view needs to know about it. Installed only when
``SANDBOX_ENABLED`` (config/settings.py); 0 (the default) costs one comparison per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

PREFIX = "/sandbox/"


class SandboxLatencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        delay = float(getattr(settings, "SANDBOX_LATENCY_MS", 0) or 0)
        if delay > 0 and request.path.startswith(PREFIX):
            time.sleep(delay / 1000)
        return self.get_response(request)
