"""Filter pieces every app's API list uses: a backend that skips django-filter when no
filter is named, and an id filter bounded to the database's integer range."""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django import forms
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

from api.query import MAX_ID, validate_query

NOT_FILTERS = frozenset({"page", "page_size", "ordering", "format"})


class FilterBackend(DjangoFilterBackend):
    """django-filter, skipped when the request names no parameter besides paging/ordering.

    Every filter is a no-op without a value, so skipping changes nothing but the cost:
    django-filter builds a form class and a bound form per request (~3 ms of a 100-row list,
    issue 8). Any other parameter — a filter, or an unknown one — takes the normal path.
    """

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        if not getattr(view, "detail", False):
            validate_query(request, view)  # strict: 400 naming the parameter
        if NOT_FILTERS.issuperset(request.query_params.keys()):
            return queryset
        return super().filter_queryset(request, queryset, view)


class IdFilter(filters.NumberFilter):
    """An object id: an integer in the database's range (else 400, never an overflow)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)
