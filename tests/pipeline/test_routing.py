"""A Tipser sale routed to supplier orders: one per supplier, address copied, each supplier item
linked to the sales item it fulfils; guards for missing mappings and costs; idempotent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from orders.models import Order
from pipeline import services
from pipeline.models import SalesRouting, SupplierLink, SupplierOffer
from pipeline.selectors import pipeline_counts, supplier_orders_of

from .conftest import FAKE, sync, three_item_sale

pytestmark = pytest.mark.django_db


def test_a_synced_sale_becomes_one_supplier_order_per_supplier_and_is_placed(
    account, tipser_merchant, policy, offers, suppliers, mocked, django_capture_on_commit_callbacks
):
    places = mocked.post(f"{FAKE}/orders", json={"id": "F-1", "status": "NEW"})
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)

    supplier_orders = supplier_orders_of(sale)
    assert [o.merchant for o in supplier_orders] == list(suppliers)
    a_order, b_order = supplier_orders
    assert sorted(a_order.items.values_list("sku", "quantity")) == [("A-1", 1), ("A-2", 1)]
    assert list(b_order.items.values_list("sku", flat=True)) == ["B-3"]
    for supplier_order in supplier_orders:
        assert (supplier_order.contact_name, supplier_order.city, supplier_order.country) == (
            sale.contact_name, sale.city, sale.country)
        assert supplier_order.state == "placed"
    assert places.call_count == 2
    links = {link.sales_item.sku: link.supplier_item.sku for link in SupplierLink.objects.all()}
    assert links == {"SKU-1": "A-1", "SKU-2": "A-2", "SKU-3": "B-3"}
    assert sale.routing.status == "routed"
    assert a_order.reference in sale.routing.reason
    assert sale.events.filter(message__startswith="Pipeline: Routed").exists()
    assert a_order.events.filter(message__startswith=f"Fulfils sales order {sale.reference}").exists()


def test_re_syncing_and_routing_again_never_create_a_second_supplier_order(
    account, tipser_merchant, policy, offers, mocked, django_capture_on_commit_callbacks
):
    mocked.post(f"{FAKE}/orders", json={"id": "F-1", "status": "NEW"})
    wire = three_item_sale()
    [sale] = sync(account, [wire], django_capture_on_commit_callbacks)
    sync(account, [wire], django_capture_on_commit_callbacks)
    services.sales_order_route(order=sale)
    services.sales_order_route(order=sale, approve=True)
    assert Order.objects.exclude(pk=sale.pk).count() == 2
    assert SupplierLink.objects.count() == 3
    with pytest.raises(IntegrityError), transaction.atomic():  # the database says so too
        link = SupplierLink.objects.first()
        SupplierLink.objects.create(sales_item=link.sales_item, supplier_item=Order.objects.get(
            pk=sale.pk).items.first())


def test_no_mapping_puts_the_sale_under_needs_mapping_and_an_import_routes_it(
    account, tipser_merchant, policy, offers, suppliers, mocked, django_capture_on_commit_callbacks
):
    SupplierOffer.objects.filter(sales_product_id="P3").delete()
    mocked.post(f"{FAKE}/orders", json={"id": "F-1", "status": "NEW"})
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    sale.routing.refresh_from_db()
    assert sale.routing.status == "needs_mapping"
    assert "SKU-3 (product P3)" in sale.routing.reason
    assert Order.objects.count() == 1  # nothing half-routed
    assert pipeline_counts()["needs_mapping"] == 1

    SupplierOffer.objects.create(sales_product_id="P3", supplier=suppliers[1], expected_cost=Decimal("5"))
    result = services.sales_order_route(order=sale)
    assert result.status == "routed" and len(result.supplier_orders) == 2


def test_a_supplier_cost_above_the_share_holds_the_sale_until_approved(
    account, tipser_merchant, policy, offers, mocked, django_capture_on_commit_callbacks
):
    SupplierOffer.objects.filter(sales_product_id="P2").update(expected_cost=Decimal("35.00"))
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    sale.routing.refresh_from_db()
    assert sale.routing.status == "held"
    assert "SKU-2: supplier cost 35.00 EUR is above 80% of the sale price 39.90 EUR" in sale.routing.reason
    assert Order.objects.count() == 1

    mocked.post(f"{FAKE}/orders", json={"id": "F-1", "status": "NEW"})
    result = services.sales_order_route(order=sale, approve=True)
    assert result.status == "routed" and len(result.to_place) == 2


def test_a_cost_in_another_currency_is_held(account, tipser_merchant, policy, offers,
                                            django_capture_on_commit_callbacks):
    SupplierOffer.objects.filter(sales_product_id="P1").update(cost_currency="USD")
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    sale.routing.refresh_from_db()
    assert sale.routing.status == "held" and "cannot compare" in sale.routing.reason


def test_propose_mode_waits_and_manual_placement_waits_for_the_operator(
    account, tipser_merchant, policy, offers, mocked, django_capture_on_commit_callbacks
):
    policy.route_mode, policy.place_mode = "propose", "manual"
    policy.save()
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    sale.routing.refresh_from_db()
    assert sale.routing.status == "proposed" and "SKU-1 → Supplier A" in sale.routing.reason
    result = services.sales_order_route(order=sale, approve=True)
    assert result.status == "routed" and result.to_place == []
    assert set(Order.objects.exclude(pk=sale.pk).values_list("state", flat=True)) == {"draft"}


def test_an_account_without_a_policy_is_left_alone(account, tipser_merchant, offers,
                                                   django_capture_on_commit_callbacks):
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    assert not SalesRouting.objects.exists() and Order.objects.count() == 1
    assert services.sales_order_route(order=sale).status == "not_routed"


def test_a_supplier_order_cancelled_before_placing_falls_back_to_the_next_offer(
    account, tipser_merchant, policy, offers, suppliers, mocked, django_capture_on_commit_callbacks
):
    from orders import services as order_services

    policy.place_mode = "manual"
    policy.save()
    fallback = SupplierOffer.objects.create(sales_product_id="P3", supplier=suppliers[0], priority=2,
                                            supplier_sku="A-3", expected_cost=Decimal("11"))
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    b_order = supplier_orders_of(sale)[1]
    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_cancel(order=b_order, reason="no stock at B")
    link = SupplierLink.objects.get(sales_item__sku="SKU-3", active=True)
    assert link.offer == fallback and link.supplier_item.sku == "A-3"
    assert SupplierLink.objects.filter(sales_item__sku="SKU-3", active=False).count() == 1
    assert sale.events.filter(message__contains="cancelled before it was placed").exists()


def test_a_failed_supplier_order_flags_the_sale(account, tipser_merchant, policy, offers, mocked,
                                                django_capture_on_commit_callbacks):
    mocked.post(f"{FAKE}/orders", status=422, json={"error": "SKU B-3 unknown"})
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    sale.routing.refresh_from_db()
    assert sale.routing.status == "problem" and "Supplier order" in sale.routing.reason
    assert pipeline_counts()["problem"] == 1


def test_an_offer_by_sku_alone_matches_and_a_product_and_sku_offer_wins(
    account, tipser_merchant, policy, suppliers, mocked, django_capture_on_commit_callbacks
):
    a, b = suppliers
    SupplierOffer.objects.create(sales_sku="SKU-1", supplier=b, expected_cost=Decimal("5"))
    SupplierOffer.objects.create(sales_product_id="P1", supplier=b, supplier_sku="B-P1", expected_cost=Decimal("5"))
    SupplierOffer.objects.create(sales_product_id="P1", sales_sku="SKU-1", supplier=a, supplier_sku="A-EXACT",
                                 expected_cost=Decimal("5"), priority=3)
    for n in (2, 3):
        SupplierOffer.objects.create(sales_sku=f"SKU-{n}", supplier=a, supplier_sku=f"A-{n}",
                                     expected_cost=Decimal("5"))
    mocked.post(f"{FAKE}/orders", json={"id": "F-1", "status": "NEW"})
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    links = dict(SupplierLink.objects.values_list("sales_item__sku", "supplier_item__sku"))
    assert links == {"SKU-1": "A-EXACT", "SKU-2": "A-2", "SKU-3": "A-3"}
    assert len(supplier_orders_of(sale)) == 1


def test_a_supplier_order_refused_before_placing_flags_the_sale_and_the_others_still_go(
    account, tipser_merchant, policy, offers, suppliers, mocked, django_capture_on_commit_callbacks
):
    a, _b = suppliers
    a.revoke()  # supplier A may not order: its supplier order is refused before any call
    a.save()
    places = mocked.post(f"{FAKE}/orders", json={"id": "F-1", "status": "NEW"})
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    sale.routing.refresh_from_db()
    assert sale.routing.status == "problem" and "cannot be placed" in sale.routing.reason
    assert places.call_count == 1  # supplier B's order was placed all the same


def test_the_supplier_gets_the_phone_split_and_a_region(account, tipser_merchant, policy, offers, mocked,
                                                        django_capture_on_commit_callbacks):
    mocked.post(f"{FAKE}/orders", json={"id": "F-1", "status": "NEW"})
    wire = three_item_sale()
    wire["customer"]["phoneNumber"] = "+46701234567"
    [sale] = sync(account, [wire], django_capture_on_commit_callbacks)
    supplier_order = supplier_orders_of(sale)[0]
    assert (supplier_order.phone_prefix, supplier_order.phone_number) == ("+46", "701234567")
    assert supplier_order.region == sale.city and not sale.region
    assert supplier_order.events.filter(message__contains="sent as +46 701234567").exists()


def test_a_supplier_short_before_sending_falls_back_to_the_next_offer(
    account, tipser_merchant, policy, offers, suppliers, mocked, django_capture_on_commit_callbacks
):
    """Brandsdistribution with reserve first finds a shortfall at the reservation, before the
    order is sent: the order fails with the shortfall; the pipeline tries the next offer."""
    policy.place_mode = "manual"
    policy.save()
    fallback = SupplierOffer.objects.create(sales_product_id="P3", supplier=suppliers[0], priority=2,
                                            supplier_sku="A-3", expected_cost=Decimal("11"))
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    b_order = supplier_orders_of(sale)[1]
    with django_capture_on_commit_callbacks(execute=True):
        b_order.place()
        b_order.save()
        b_order.items.update(confirmed_quantity=0)  # nothing could be reserved
        b_order.placement_failed(reason="Shortfall at the reservation: B-3 requested 1, available 0")
        b_order.save()
    b_order.refresh_from_db()
    assert b_order.state == "cancelled"
    link = SupplierLink.objects.get(sales_item__sku="SKU-3", active=True)
    assert link.offer == fallback
    sale.routing.refresh_from_db()
    assert sale.routing.status == "routed"


def test_a_shortfall_with_no_other_offer_is_left_to_the_operator(
    account, tipser_merchant, policy, offers, suppliers, django_capture_on_commit_callbacks
):
    policy.place_mode = "manual"
    policy.save()
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    b_order = supplier_orders_of(sale)[1]
    with django_capture_on_commit_callbacks(execute=True):
        b_order.place()
        b_order.save()
        b_order.items.update(confirmed_quantity=0)
        b_order.placement_failed(reason="Shortfall at the reservation")
        b_order.save()
    b_order.refresh_from_db()
    assert b_order.state == "failed"  # the operator decides (accept, cancel, fix the offers)
    sale.routing.refresh_from_db()
    assert sale.routing.status == "problem"
