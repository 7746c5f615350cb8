"""``Idempotency-Key`` on POSTs: the first response is stored and replayed.

Keyed by (user, key): each integration has its own user, so keys are per token. The same
key with another request (method, path or body) is refused with 409 (it conflicts with the
stored request; a well-formed request is never 4xx-invalid for it); while the first request
is still running, 409 too. Records older than API_IDEMPOTENCY_RETENTION_HOURS are forgotten
(``idempotency_records_purge``, run by the ``orders.tasks.idempotency_purge_task``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ApiError
from orders.models import IdempotencyRecord

KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# A first request that never finished (its process died) stops blocking the key after this.
IN_PROGRESS_TIMEOUT = dt.timedelta(minutes=10)


def retention() -> dt.timedelta:
    return dt.timedelta(hours=getattr(settings, "API_IDEMPOTENCY_RETENTION_HOURS", 24))


def idempotency_records_purge(*, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=now - retention()).delete()
    return deleted


def request_digest(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _claim(request: Request, key: str, digest: str) -> tuple[IdempotencyRecord, Response | None]:
    now = timezone.now()
    user: Any = request.user
    with transaction.atomic():
        record = (
            IdempotencyRecord.objects.select_for_update()
            .filter(user=user, key=key).first()
        )
        if record is not None and (
            record.created_at < now - retention()
            or (record.status_code is None and record.created_at < now - IN_PROGRESS_TIMEOUT)
        ):
            record.delete()
            record = None
        if record is None:
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        user=user, key=key, method=request.method or "",
                        path=request.path[:500], request_hash=digest,
                    )
            except IntegrityError as exc:
                raise _in_progress() from exc
            return record, None
    if record.request_hash != digest:
        raise ApiError(
            409, "idempotency_key_reused",
            f"This Idempotency-Key was already used for a different request "
            f"({record.method} {record.path} with another body); use a new key.",
        )
    if record.status_code is None:
        raise _in_progress()
    headers = {**record.response_headers, REPLAYED_HEADER: "true"}
    return record, Response(record.response_body, status=record.status_code, headers=headers)


def _in_progress() -> ApiError:
    return ApiError(409, "idempotency_in_progress",
                    "A request with this Idempotency-Key is still running; retry shortly.")


def idempotent(func: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a viewset POST handler."""

    @functools.wraps(func)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or not request.user.is_authenticated:
            return func(self, request, *args, **kwargs)
        if not KEY_RE.fullmatch(key):
            raise ApiError(400, "invalid", "Bad Idempotency-Key header.",
                           fields={HEADER: ["1-255 printable ASCII characters, no spaces."]})
        record, replay = _claim(request, key, request_digest(request))
        if replay is not None:
            return replay
        try:
            try:
                response = func(self, request, *args, **kwargs)
            except Exception as exc:
                response = self.handle_exception(exc)
        except BaseException:
            record.delete()
            raise
        headers = {k: response[k] for k in ("Location", "Retry-After") if k in response}
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=response.status_code, response_body=response.data,
            response_headers=headers,
        )
        return response

    return wrapper
