"""Migration 0011 creates the dashboard's daily counts filled from the orders already there
(the refresh's own query: local days, the last 31 of them) and reverses cleanly."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("orders", "0010_item_state_order")]
AFTER = [("orders", "0011_order_daily_count")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_migration_fills_the_daily_counts_and_reverses(settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    old = _migrate(BEFORE)
    account = old.get_model("merchants", "ProviderAccount").objects.create(
        provider="fake", name="A", credentials={})
    merchant = old.get_model("merchants", "Merchant").objects.create(account=account, name="M")
    Order = old.get_model("orders", "Order")
    now = timezone.now()
    for k, (ago, state) in enumerate([(0, "placed"), (0, "placed"), (0, "failed"),
                                      (3, "draft"), (45, "placed")]):
        order = Order.objects.create(merchant=merchant, reference=f"R-{k}", state=state)
        Order.objects.filter(pk=order.pk).update(created_at=now - dt.timedelta(days=ago))

    new = _migrate(AFTER)
    counts = {(day, state): n for day, state, n in
              new.get_model("orders", "OrderDailyCount").objects.values_list("day", "state", "n")}
    today = timezone.localdate(now)
    assert counts == {(today, "placed"): 2, (today, "failed"): 1,
                      (today - dt.timedelta(days=3), "draft"): 1}
    stamp = new.get_model("orders", "OrderDailyCountRefresh").objects.get(pk=1)
    assert stamp.time_zone == "Asia/Kolkata" and stamp.first_day == today - dt.timedelta(days=30)

    _migrate(BEFORE)  # reversible
    assert "orders_orderdailycount" not in connection.introspection.table_names()
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # back for other tests
