"""Strict query parameters: one specification per list view, read by both the parser and the
OpenAPI schema (so the schema states exactly what the server enforces).

A list view's parameters are its filterset's filters, ``ordering``, ``page`` and
``page_size``. Every value is checked before any filtering: a wrong type, an empty value
(``created_after=``), a repeated single-valued parameter or an unknown choice answers 400
naming the parameter. Parameters the view does not know are ignored.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import django_filters as filters
from django import forms
from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

MAX_ID = 2**63 - 1
MAX_PAGE = 2**31 - 1
NO_NUL = r"^[^\u0000]+$"
RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
INTEGER = re.compile(r"^[0-9]+$")


def parse_rfc3339(text: str) -> dt.datetime:
    """An RFC 3339 date-time (what OpenAPI's ``format: date-time`` means) as an aware UTC
    datetime; instants outside Python's range clamp to its ends. ValueError otherwise."""
    match = RFC3339.match(text)
    if not match:
        raise ValueError("not an RFC 3339 date-time")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = (match.group(7) or ".0")[1:7].ljust(6, "0")
    zone = match.group(8)
    offset = dt.timedelta(0) if zone in ("Z", "z") else (
        (1 if zone[0] == "+" else -1)
        * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    if hour > 23 or minute > 59 or second > 60 or abs(offset) >= dt.timedelta(hours=24):
        raise ValueError("not an RFC 3339 date-time")
    local = dt.datetime(year, month, day, hour, minute, min(second, 59), int(fraction))
    try:
        return (local - offset).replace(tzinfo=dt.UTC)
    except OverflowError:
        edge = dt.datetime.min if offset > dt.timedelta(0) else dt.datetime.max
        return edge.replace(tzinfo=dt.UTC)


class RFC3339Field(forms.Field):
    def to_python(self, value: Any) -> dt.datetime | None:
        if value in self.empty_values:
            return None
        try:
            return parse_rfc3339(str(value))
        except ValueError as exc:
            raise forms.ValidationError(
                "An RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z.", code="invalid") from exc


class DateTimeFilter(filters.Filter):
    """A date-time bound: RFC 3339 only (not the looser forms Django accepts)."""

    field_class = RFC3339Field


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    check: Callable[[str], str | None]  # the problem with one raw value, or None
    many: bool = False
    description: str = ""

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {"in": "query", "name": self.name, "required": False,
                               "schema": self.schema}
        if self.many:
            out.update(style="form", explode=True)
        if self.description:
            out["description"] = self.description
        return out


def _integer(low: int, high: int) -> tuple[dict[str, Any], Callable[[str], str | None]]:
    def check(value: str) -> str | None:
        if not INTEGER.match(value) or not low <= int(value) <= high:
            return f"An integer from {low} to {high}."
        return None
    return {"type": "integer", "minimum": low, "maximum": high}, check


def _enum(choices: list[str]) -> tuple[dict[str, Any], Callable[[str], str | None]]:
    def check(value: str) -> str | None:
        return None if value in choices else f"One of: {', '.join(choices)}."
    return {"type": "string", "enum": choices}, check


def _string(value: str) -> str | None:
    return "Must not contain NUL characters." if "\x00" in value else None


def _boolean(value: str) -> str | None:
    return None if value in ("true", "false") else "true or false."


def _datetime(value: str) -> str | None:
    try:
        parse_rfc3339(value)
    except ValueError:
        return "An RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z."
    return None


def _filter_param(name: str, f: filters.Filter) -> Param:
    help_text = str(f.extra.get("help_text") or "")
    if isinstance(f, filters.MultipleChoiceFilter):
        schema, check = _enum([str(k) for k, _ in f.extra["choices"]])
        return Param(name, {"type": "array", "items": schema, "minItems": 1}, check, many=True,
                     description=help_text)
    if isinstance(f, filters.ChoiceFilter):
        schema, check = _enum([str(k) for k, _ in f.extra["choices"]])
        return Param(name, schema, check, description=help_text)
    if isinstance(f, filters.NumberFilter) and f.field_class is forms.IntegerField:
        schema, check = _integer(f.extra.get("min_value", 1), f.extra.get("max_value", MAX_ID))
        return Param(name, schema, check, description=help_text)
    if isinstance(f, DateTimeFilter):
        return Param(name, {"type": "string", "format": "date-time"}, _datetime,
                     description=help_text)
    if isinstance(f, filters.BooleanFilter):
        return Param(name, {"type": "boolean"}, _boolean, description=help_text)
    if type(f) is filters.CharFilter:
        return Param(name, {"type": "string", "minLength": 1, "pattern": NO_NUL}, _string,
                     description=help_text)
    # Another kind of filter: django-filter's own form validates it; the schema says string.
    return Param(name, {"type": "string", "minLength": 1, "pattern": NO_NUL}, _string,
                 description=help_text)


def _ordering_param(fields: list[str]) -> Param:
    one = "|".join(re.escape(f) for f in fields)
    regex = rf"^-?(?:{one})(?:,-?(?:{one}))*$"
    compiled = re.compile(regex)

    def check(value: str) -> str | None:
        if compiled.match(value):
            return None
        return f"Comma-separated fields, each optionally prefixed by '-': {', '.join(fields)}."

    return Param("ordering", {"type": "string", "pattern": regex}, check,
                 description=f"Sort by these fields ('-' for descending): {', '.join(fields)}.")


@dataclass(frozen=True)
class QuerySpec:
    params: dict[str, Param] = field(default_factory=dict)

    def filter_parameters(self) -> list[dict[str, Any]]:
        return [p.openapi() for n, p in self.params.items() if n not in ("page", "page_size")]

    def pagination_parameters(self) -> list[dict[str, Any]]:
        return [p.openapi() for n, p in self.params.items() if n in ("page", "page_size")]

    def validate(self, query: Any) -> None:
        errors: dict[str, list[str]] = {}
        for name in query:
            param = self.params.get(name)
            if param is None:
                continue
            values = query.getlist(name)
            if len(values) > 1 and not param.many:
                errors[name] = ["Give this parameter at most once."]
                continue
            for value in values:
                problem = "Must not be empty." if value == "" else param.check(value)
                if problem:
                    errors[name] = [problem]
                    break
        if errors:
            raise ValidationError(errors)


def boolean_param(name: str, description: str = "") -> Param:
    """A strict boolean query parameter (``true`` or ``false``) for a route's own
    ``QuerySpec``."""
    return Param(name, {"type": "boolean"}, _boolean, description=description)


def pagination_params() -> list[Param]:
    max_size = int(getattr(settings, "API_MAX_PAGE_SIZE", 100))
    page_schema, page_check = _integer(1, MAX_PAGE)
    size_schema, size_check = _integer(1, max_size)
    return [
        Param("page", page_schema, page_check, description="Page number (from 1)."),
        Param("page_size", size_schema, size_check,
              description=f"Results per page (1 to {max_size})."),
    ]


@functools.cache
def _spec(filterset_class: Any, ordering: tuple[str, ...], paginated: bool) -> QuerySpec:
    params: dict[str, Param] = {}
    if filterset_class is not None:
        for name, f in filterset_class.base_filters.items():
            params[name] = _filter_param(name, f)
    if ordering:
        params["ordering"] = _ordering_param(list(ordering))
    if paginated:
        params.update((p.name, p) for p in pagination_params())
    return QuerySpec(params)


def spec_for(view: Any) -> QuerySpec:
    """The query parameters a list view accepts (from its filterset, ordering fields and
    paginator)."""
    from rest_framework.filters import OrderingFilter

    backends = getattr(view, "filter_backends", None) or []
    has_filters = any(getattr(b, "__name__", "") == "FilterBackend" for b in backends)
    ordering = (tuple(getattr(view, "ordering_fields", None) or ())
                if OrderingFilter in backends else ())
    return _spec(getattr(view, "filterset_class", None) if has_filters else None, ordering,
                 getattr(view, "pagination_class", None) is not None)


def validate_query(request: Request, view: Any) -> None:
    spec_for(view).validate(request.query_params)
