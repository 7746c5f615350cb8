"""The two hand-written fast paths are pinned to the framework versions they were checked on.

``config/db/insert.py`` (``bulk_insert``) uses Django's private insert APIs;
``orders.api.serializers.order_list_render`` re-implements ``OrderSerializer``'s output.
Both are tested equal to the framework's own path (tests/db/test_bulk_insert.py,
tests/api/test_orders.py) and measured A/B (bench/bench_tipser_sync.py: "bulk_insert vs
bulk_create"; bench/RESULTS.md). On a framework upgrade this test fails on purpose: re-run those
tests and the A/B, and widen the range only if both still hold — else delete the fast path.
"""

from __future__ import annotations

import django
import rest_framework

from config.db import insert

DJANGO_CHECKED = ((5, 2), (5, 2))  # inclusive (major, minor) range
DRF_CHECKED = ((3, 16), (3, 18))


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def test_bulk_insert_was_checked_on_this_django():
    low, high = DJANGO_CHECKED
    assert low <= django.VERSION[:2] <= high, (
        f"config/db/insert.py was checked on Django {low}–{high}, this is {django.get_version()}: "
        "re-run tests/db/test_bulk_insert.py and the bulk_insert A/B of bench_tipser_sync.py"
    )


def test_the_private_apis_bulk_insert_uses_still_exist():
    from django.db import connection
    from django.db.models import Model

    from orders.models import Order

    assert hasattr(Model, "_prepare_related_fields_for_save")
    for name in ("bulk_batch_size", "return_insert_columns", "insert_statement", "quote_name"):
        assert callable(getattr(connection.ops, name)), name
    assert list(Order._meta.db_returning_fields) == [Order._meta.pk]
    assert callable(insert.bulk_insert)


def test_order_list_render_was_checked_on_this_drf():
    low, high = DRF_CHECKED
    assert low <= _minor(rest_framework.VERSION) <= high, (
        f"order_list_render was checked on DRF {low}–{high}, this is {rest_framework.VERSION}: "
        "re-run tests/api/test_orders.py (equal to OrderSerializer) and bench_api_orders.py"
    )
