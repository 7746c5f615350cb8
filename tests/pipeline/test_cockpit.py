"""The pipeline where an operator looks: the dashboard counts (each equal to the list it links
to) and the order page's supplier orders section, both ways."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from pipeline.models import SupplierOffer
from pipeline.selectors import supplier_orders_of

from .conftest import FAKE, sync, three_item_sale

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline_operator(operator):
    operator.user_permissions.add(*Permission.objects.filter(content_type__app_label="pipeline"))
    return operator


def _dashboard(client) -> dict[str, tuple[int, str]]:
    page = client.get(reverse("admin:index")).content.decode()
    return {key: (int(n), href.replace("&amp;", "&")) for href, key, n in re.findall(
        r'<a href="([^"]+)" data-pipeline="(\w+)"[^>]*>(\d+)</a>', page)}


def test_dashboard_pipeline_counts_equal_the_lists_they_link_to(
    client, pipeline_operator, account, tipser_merchant, policy, offers, mocked,
    django_capture_on_commit_callbacks, django_assert_max_num_queries,
):
    policy.place_mode = "manual"
    policy.save()
    mocked.post(f"{FAKE}/orders", json={"id": "F-1", "status": "NEW"})
    sync(account, [three_item_sale(1)], django_capture_on_commit_callbacks)  # routed, drafts
    SupplierOffer.objects.filter(sales_product_id="P2").update(expected_cost=Decimal("39"))
    sync(account, [three_item_sale(2)], django_capture_on_commit_callbacks)  # held
    SupplierOffer.objects.filter(sales_product_id="P3").delete()
    sync(account, [three_item_sale(3)], django_capture_on_commit_callbacks)  # needs a mapping
    client.force_login(pipeline_operator)

    with django_assert_max_num_queries(40):
        cards = _dashboard(client)
    assert {k: n for k, (n, _) in cards.items()} == {
        "needs_mapping": 1, "approval": 1, "placement": 1, "tracking": 0, "problem": 0}
    for key, (n, href) in cards.items():
        listed = client.get(href).context["cl"].result_count
        assert listed == n, key


def test_order_page_shows_supplier_orders_and_the_way_back(
    client, pipeline_operator, account, tipser_merchant, policy, offers, mocked,
    django_capture_on_commit_callbacks,
):
    mocked.post(f"{FAKE}/orders", json={"id": "F-1", "status": "NEW"})
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    client.force_login(pipeline_operator)
    page = client.get(reverse("admin:orders_order_change", args=[sale.pk])).content.decode()
    panel = page[page.index('id="dd-pipeline"'):]
    panel = panel[:panel.index("</div>")]
    assert "Supplier orders — Routed to suppliers" in panel
    for supplier_order in supplier_orders_of(sale):
        assert supplier_order.reference in panel
        other = client.get(reverse("admin:orders_order_change", args=[supplier_order.pk])).content.decode()
        assert "Fulfils a sale" in other and sale.reference in other

