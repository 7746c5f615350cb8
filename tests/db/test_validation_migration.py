"""The migration that adds the money/code checks repairs rows that would break them (issue 21,
finding 6): it never fails on existing data and never loses a value."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("orders", "0006_provider_write_claims"), ("merchants", "0003_api_integrations")]
AFTER = [("orders", "0008_money_and_code_checks")]


@pytest.mark.django_db(transaction=True)
def test_migration_repairs_bad_rows_and_keeps_the_old_values():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    account = old.get_model("merchants", "ProviderAccount").objects.create(
        provider="fake", name="A", credentials={})
    merchant = old.get_model("merchants", "Merchant").objects.create(account=account, name="M")
    Order = old.get_model("orders", "Order")
    bad = Order.objects.create(merchant=merchant, reference="R-1", country="xx",
                               currency="€€€", shipping_total=Decimal("-2"))
    good = Order.objects.create(merchant=merchant, reference="R-2", country="gb", currency="USD")
    item = old.get_model("orders", "OrderItem").objects.create(
        order=bad, sku="S", unit_price=Decimal("-1"), merchant_price=Decimal("3"))

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    bad = new.get_model("orders", "Order").objects.get(pk=bad.pk)
    assert (bad.country, bad.currency, bad.shipping_total) == ("", "EUR", Decimal("0"))
    assert bad.raw_data["repaired_by_validation"] == {
        "country": "xx", "currency": "€€€", "shipping_total": "-2.00"}
    good = new.get_model("orders", "Order").objects.get(pk=good.pk)
    assert good.country == "GB" and "repaired_by_validation" in good.raw_data
    item = new.get_model("orders", "OrderItem").objects.get(pk=item.pk)
    assert item.unit_price is None and item.merchant_price == Decimal("3")
    assert item.raw_data["repaired_by_validation"] == {"unit_price": "-1.00"}

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # back to the latest for other tests
