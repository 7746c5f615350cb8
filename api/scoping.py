"""Which merchants the caller may see, and safe object lookups (404, never 403 or 500)."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

_UNSET = object()
MAX_PK = 2**63 - 1


def integration_of(request: Request) -> Any:
    return getattr(request.user, "api_integration", None)


def merchant_scope(request: Request) -> list[int] | None:
    """Merchant ids a scoped integration token is limited to; None when unlimited."""
    cached = getattr(request, "_dd_merchant_scope", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    integration = integration_of(request)
    scope = None
    if integration is not None:
        ids = list(integration.merchants.values_list("pk", flat=True))
        scope = ids or None
    request._dd_merchant_scope = scope  # type: ignore[attr-defined]
    return scope


def scoped(queryset: QuerySet[Any], request: Request, merchant_path: str) -> QuerySet[Any]:
    scope = merchant_scope(request)
    if scope is None:
        return queryset
    return queryset.filter(**{f"{merchant_path}__in": scope})


def parse_pk(value: Any) -> int:
    """A path id as an int, or 404 (ids beyond the database's range included)."""
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > MAX_PK:
        raise NotFound("No such object.")
    return int(text)


def get_or_404(queryset: QuerySet[Any], pk: Any) -> Model:
    try:
        return queryset.get(pk=parse_pk(pk))
    except queryset.model.DoesNotExist as exc:
        raise NotFound("No such object.") from exc


class SafeLookupMixin:
    """``get_object`` that answers 404 for malformed or out-of-range ids."""

    def get_object(self) -> Any:
        lookup = self.lookup_url_kwarg or self.lookup_field  # type: ignore[attr-defined]
        self.kwargs[lookup] = parse_pk(self.kwargs[lookup])  # type: ignore[attr-defined]
        return super().get_object()  # type: ignore[misc]
