"""The hand-written fast path is pinned to the framework versions it was checked on.

``orders.api.serializers.order_list_render`` re-implements ``OrderSerializer``'s output. It is
tested equal to the framework's own path (tests/api/test_orders.py; bench_api_orders.py also
checks a page in every run) and measured A/B (bench/RESULTS.md). On a DRF or Django upgrade
this test fails on purpose: re-run those tests and the A/B, and widen the range only if both
still hold (≥ 1.5×) — else delete the fast path and use the serializer.
(``config/db/insert.py`` was removed in issue 20: 1.32× / 1.01× over ``bulk_create``.)
"""

from __future__ import annotations

import django
import rest_framework

DJANGO_CHECKED = ((5, 2), (5, 2))  # inclusive (major, minor) range
DRF_CHECKED = ((3, 16), (3, 18))


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def test_order_list_render_was_checked_on_this_django():
    low, high = DJANGO_CHECKED
    assert low <= django.VERSION[:2] <= high, (
        f"order_list_render was checked on Django {low}–{high}, this is {django.get_version()}: "
        "re-run tests/api/test_orders.py and bench_api_orders.py"
    )


def test_order_list_render_was_checked_on_this_drf():
    low, high = DRF_CHECKED
    assert low <= _minor(rest_framework.VERSION) <= high, (
        f"order_list_render was checked on DRF {low}–{high}, this is {rest_framework.VERSION}: "
        "re-run tests/api/test_orders.py (equal to OrderSerializer) and bench_api_orders.py"
    )
