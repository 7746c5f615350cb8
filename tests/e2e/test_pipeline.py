"""The order pipeline in the browser: a held sale approved from the dashboard, a missing
mapping fixed by a CSV import, and the sale then routed (its supplier orders on its page)."""

from __future__ import annotations

import copy
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from orders import snapshots
from orders.models import Order
from pipeline.models import RoutingPolicy, SalesRouting, SupplierOffer
from providers.tipser import mapping
from tests.factories import AccountFactory, MerchantFactory
from tests.providers.tipser.conftest import API_KEY, wire_order

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip("playwright.sync_api").expect


def _sale(n: int, products: list[str]):
    wire = wire_order(n, status=6, items=len(products))
    for item, product in zip(wire["items"], products, strict=True):
        item["productId"], item["sku"] = product, f"SKU-{product}"
    return mapping.parse_order(copy.deepcopy(wire))


@pytest.fixture
def pipeline_world(transactional_db, django_user_model):
    account = AccountFactory(provider="tipser", credentials={"api_key": API_KEY}, base_url="")
    MerchantFactory(account=account, name="Tipser shop")
    RoutingPolicy.objects.create(account=account, place_mode="manual")
    supplier = MerchantFactory(name="Supplier A")
    SupplierOffer.objects.create(sales_product_id="P1", supplier=supplier, supplier_sku="A-1",
                                 expected_cost=Decimal("10"))
    SupplierOffer.objects.create(sales_product_id="P2", supplier=supplier, supplier_sku="A-2",
                                 expected_cost=Decimal("38"))  # above 80 % of 39.90: held
    snapshots.upsert_page(account=account, page=[_sale(1, ["P1", "P2"]), _sale(2, ["P1", "P4"])])
    user = django_user_model.objects.create_user("pia", password="s3cret-pass", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label__in=["orders", "merchants", "pipeline"]).exclude(codename__startswith="delete_"))
    return {"supplier": supplier, "held": Order.objects.get(external_id="ord00001"),
            "unmapped": Order.objects.get(external_id="ord00002")}


def test_operator_approves_a_held_sale_and_fixes_a_missing_mapping(live_server, page, shot, pipeline_world,
                                                                    tmp_path):
    held, unmapped = pipeline_world["held"], pipeline_world["unmapped"]
    assert SalesRouting.objects.get(order=held).status == "held"
    assert SalesRouting.objects.get(order=unmapped).status == "needs_mapping"

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "pia")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    expect(page.locator("#dd-pipeline [data-pipeline=approval]")).to_have_text("1")
    expect(page.locator("#dd-pipeline [data-pipeline=needs_mapping]")).to_have_text("1")
    shot("70-dashboard-pipeline")

    # the held sale: from the dashboard to the list, approve it
    page.click("#dd-pipeline [data-pipeline=approval]")
    row = page.locator("#result_list tbody tr", has_text=held.reference)
    expect(row).to_contain_text("above 80% of the sale price")
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "route_now")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text(f"{held.reference}: Routed to suppliers")

    # the missing mapping: import one offer from a CSV file
    page.goto(f"{live_server.url}/admin/pipeline/supplieroffer/")
    page.click("text=Import CSV")
    bad = tmp_path / "bad.csv"
    bad.write_text("sales_product_id,supplier,expected_cost\nP4,999999,abc\n")
    page.set_input_files("#id_file", str(bad))
    page.click("input[type=submit][value=Import]")
    expect(page.locator("#import-errors")).to_contain_text("line 2, supplier: no merchant with id 999999")
    expect(page.locator("#import-errors")).to_contain_text("line 2, expected_cost: not a number: 'abc'")
    good = tmp_path / "offers.csv"
    good.write_text(f"sales_product_id,supplier,supplier_sku,expected_cost\n"
                    f"P4,{pipeline_world['supplier'].pk},A-4,12.00\n")
    page.set_input_files("#id_file", str(good))
    page.click("input[type=submit][value=Import]")
    expect(page.locator(".messagelist")).to_contain_text("Imported: 1 new, 0 updated offer(s)")

    # the sale that waited is routed: its page shows its supplier order
    page.goto(f"{live_server.url}/admin/orders/order/{unmapped.pk}/change/")
    panel = page.locator("#dd-pipeline")
    expect(panel).to_contain_text("Supplier orders — Routed to suppliers")
    supplier_ref = Order.objects.filter(merchant=pipeline_world["supplier"]).order_by("-pk").first().reference
    expect(panel).to_contain_text(supplier_ref)
    shot("71-sale-with-supplier-orders")
    panel.get_by_role("link", name=supplier_ref).first.click()
    expect(page.locator("#dd-pipeline")).to_contain_text(f"fulfils sales order {unmapped.reference}")
    assert re.search(r"/admin/orders/order/\d+/change/", page.url)
