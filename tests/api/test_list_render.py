"""The list's fast value rendering equals DRF's field rendering, value by value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from rest_framework import serializers

from orders.api.serializers import _converter, _decimal, _iso_datetime


@pytest.mark.parametrize("value", [
    Decimal("12.30"), Decimal("0.00"), Decimal("-7.05"), Decimal("9999999999.99"),
    Decimal("1.5"), Decimal("2"), Decimal("0.005"), Decimal("1E+3"), Decimal("3.14159"),
    Decimal("-0.00"), 7, 2.5, "4.20",
])
def test_decimal_rendering_equals_drfs(value):  # type: ignore[no-untyped-def]
    field = serializers.DecimalField(max_digits=12, decimal_places=2)
    assert _decimal(field)(value) == field.to_representation(value)


def test_decimal_fields_drf_would_render_differently_keep_drfs_path():  # type: ignore[no-untyped-def]
    for field in (serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=False),
                  serializers.DecimalField(max_digits=12, decimal_places=2, normalize_output=True),
                  serializers.DecimalField(max_digits=12, decimal_places=2, localize=True)):
        assert _converter(field) == field.to_representation


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns"])
def test_datetime_rendering_equals_drfs(zone, settings):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    settings.TIME_ZONE = zone
    field = serializers.DateTimeField()
    with timezone.override(ZoneInfo(zone)):
        for value in (dt.datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=dt.UTC),
                      dt.datetime(2026, 11, 24, 6, 0, tzinfo=ZoneInfo("Asia/Kolkata"))):
            assert _iso_datetime(value, timezone.get_current_timezone()) == field.to_representation(value)
