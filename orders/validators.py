"""The one set of value rules for orders (issue 21, finding 6): non-negative money and
quantities, ISO 3166-1 alpha-2 country codes, ISO 4217 currency codes.

The model fields carry these validators, so the admin's forms and the API's serializers
(ModelSerializer copies them) apply the same rules; the database carries the matching
``CheckConstraint``s (``money_checks``, ``code_checks``) for anything that writes around the
forms. Provider imports (``orders.snapshots``) use the ``clean_*`` helpers: a provider's odd
value is left out of the column (it stays in the order's raw data) instead of failing a page.

Code lists: ``pycountry`` (the ISO 3166-1 and ISO 4217 tables of the Debian iso-codes
project), read once.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

ZERO = Decimal("0")
non_negative = MinValueValidator(ZERO, message="Must be 0 or more.")
at_least_one = MinValueValidator(1, message="Must be at least 1.")  # an item's quantity


@cache
def country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


class CodeField(models.CharField):
    """A code kept upper-case (``gb`` is stored, compared and shown as ``GB``)."""

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return value.strip().upper() if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return value.strip().upper() if isinstance(value, str) else value


def validate_country_code(value: str) -> None:
    if value and value.strip().upper() not in country_codes():
        raise ValidationError(
            "%(value)s is not an ISO 3166-1 alpha-2 country code (e.g. DE, GB, US).",
            code="invalid_country", params={"value": value},
        )


def validate_currency_code(value: str) -> None:
    if str(value).strip().upper() not in currency_codes():
        raise ValidationError(
            "%(value)s is not an ISO 4217 currency code (e.g. EUR, USD, GBP).",
            code="invalid_currency", params={"value": value},
        )


# The rules as the API's schema states them (api.schema reads ``openapi_schema``): the
# codes, in capitals or in lower case (both are accepted and stored in capitals).
COUNTRY_SCHEMA_CODES = ["", *sorted(country_codes()), *sorted(c.lower() for c in country_codes())]
CURRENCY_SCHEMA_CODES = [*sorted(currency_codes()), *sorted(c.lower() for c in currency_codes())]
validate_country_code.openapi_schema = {"enum": COUNTRY_SCHEMA_CODES}  # type: ignore[attr-defined]
validate_currency_code.openapi_schema = {"enum": CURRENCY_SCHEMA_CODES}  # type: ignore[attr-defined]


# --- provider imports: keep what is valid, leave out what is not ----------------------------
def clean_country(value: Any) -> str:
    code = str(value or "").strip().upper()
    return code if code in country_codes() else ""


def clean_currency(value: Any) -> str | None:
    code = str(value or "").strip().upper()
    return code if code in currency_codes() else None


def clean_money(value: Any) -> Any:
    """A money amount from a provider, or None when it is negative (left out)."""
    if value is None:
        return None
    try:
        return value if Decimal(str(value)) >= ZERO else None
    except ArithmeticError:
        return None


# --- database constraints ----------------------------------------------------------------------
def money_checks(prefix: str, *names: str) -> list[models.CheckConstraint]:
    """``name >= 0`` (NULL allowed) for each money column."""
    return [
        models.CheckConstraint(
            condition=models.Q(**{f"{name}__gte": ZERO}) | models.Q(**{f"{name}__isnull": True}),
            name=f"{prefix}_{name}_non_negative",
        )
        for name in names
    ]


def code_checks() -> list[models.CheckConstraint]:
    """The shape of the order's codes (the list itself is the validators' business)."""
    return [
        models.CheckConstraint(condition=models.Q(country="") | models.Q(country__regex=r"^[A-Z]{2}$"),
                               name="order_country_iso_shape"),
        models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"),
                               name="order_currency_iso_shape"),
    ]
