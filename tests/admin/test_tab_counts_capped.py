"""Counts shown in the admin stop at a cap ("1,000+"; the dashboard's "100+"): the tabs, the
list's total and the dashboard's numbers cost the same at 1,000 or 100,000 orders; below the
cap they are exact."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders import dashboard, selectors
from orders.admin import paging
from orders.models import Order
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

from .conftest import days_ago, set_state

pytestmark = pytest.mark.django_db
LIST = reverse("admin:orders_order_changelist")
HOME = reverse("admin:index")


def _every_tab(merchant):
    """At least one order in every tab (and some in none)."""
    tipser = MerchantFactory(account=AccountFactory(provider="tipser", name="Tipser"))
    for state in ("failed", "failed", "placement_unknown", "draft", "cancelled", "completed"):
        set_state(OrderFactory(merchant=merchant), state)
    set_state(OrderFactory(merchant=merchant), "placed", placed_at=days_ago(9))  # unshipped
    short = set_state(OrderFactory(merchant=merchant), "placed", placed_at=days_ago(1))
    OrderItemFactory(order=short, quantity=3, confirmed_quantity=1)
    for k, (state, item_state) in enumerate([("placed", "new"), ("in_progress", "acknowledged"),
                                             ("in_progress", "acknowledged"), ("completed", "new")]):
        order = set_state(OrderFactory(merchant=tipser), state, external_id=f"T{k}")
        OrderItemFactory(order=order, state=item_state, raw_status="0")


def test_capped_counts_equal_the_exact_counts_below_the_cap(merchant):
    _every_tab(merchant)
    exact = selectors.order_tab_counts(Order.objects.all())
    capped = selectors.order_tab_counts(Order.objects.all(), cap=100)
    assert capped == exact
    assert (exact["all"], exact["needs_action"], exact["to_ship"], exact["to_acknowledge"],
            exact["short_quantity"], exact["unshipped"]) == (12, 7, 2, 1, 1, 1)
    # and each is the length of the list its tab opens
    for key, (_label, cond) in selectors.order_tabs().items():
        assert capped[key] == Order.objects.filter(cond).count(), key


def test_dashboard_counts_capped_equal_exact_below_the_cap(merchant):
    _every_tab(merchant)
    exact = selectors.order_tab_counts_by_provider()
    capped = selectors.order_tab_counts_by_provider(cap=100)
    assert capped == exact
    assert capped["tipser"]["to_ship"] == 2


def test_above_the_cap_a_count_reads_more_than_the_cap(merchant):
    for _ in range(4):
        set_state(OrderFactory(merchant=merchant), "failed")
    counts = selectors.order_tab_counts(Order.objects.all(), cap=2)
    assert counts["failed"] == counts["all"] == 3  # cap + 1: "more than 2"
    assert counts["placement_unknown"] == 0
    assert selectors.count_label(counts["failed"], cap=2) == "2+"
    assert selectors.count_label(2, cap=2) == 2


def test_all_counts_are_one_query(merchant):
    _every_tab(merchant)
    with CaptureQueriesContext(connection) as ctx:
        selectors.order_tab_counts(Order.objects.all(), cap=selectors.TAB_COUNT_CAP)
    assert len(ctx.captured_queries) == 1
    with CaptureQueriesContext(connection) as ctx:
        selectors.order_tab_counts_by_provider(cap=selectors.TAB_COUNT_CAP)
    assert len(ctx.captured_queries) == 2  # the providers in use, then every count


def test_the_list_shows_capped_counts_and_total(admin_client, merchant, monkeypatch):
    from orders.admin.order import OrderAdmin

    monkeypatch.setattr(selectors, "TAB_COUNT_CAP", 2)
    monkeypatch.setattr(paging, "PAGES_AHEAD", 0)
    monkeypatch.setattr(OrderAdmin, "list_per_page", 1)  # the list's cap: max(2, 1 × 1)
    for _ in range(3):
        set_state(OrderFactory(merchant=merchant), "failed")
    page = admin_client.get(LIST).content.decode()
    tab = page.split('data-tab="needs_action"', 1)[1].split("</a>", 1)[0]
    assert '<span class="dd-count">2+</span>' in tab
    assert "\n2+ orders\n" in page.split('class="paginator"', 1)[1]  # the list's total
    assert '<a href="?p=3"' in page  # one page past what was counted: following it counts on
    assert "All 2+ selected" in page and "Select all 2+ orders" in page
    assert "2+ results" in page
    # the exact number where it is under the cap
    set_state(OrderFactory(merchant=merchant), "placement_unknown")
    page = admin_client.get(LIST, {"tab": "placement_unknown"}).content.decode()
    assert re.search(r'<p class="paginator">\s*1 order\s', page)


def test_a_deep_page_is_counted_past_itself(admin_client, merchant, monkeypatch):
    monkeypatch.setattr(selectors, "TAB_COUNT_CAP", 2)
    monkeypatch.setattr(paging, "PAGES_AHEAD", 1)
    OrderFactory.create_batch(6, merchant=merchant)
    response = admin_client.get(LIST, {"p": "2"})
    cl = response.context["cl"]
    assert response.status_code == 200 and cl.paginator.cap == 150  # max(2, (2 + 1) * 50)
    assert cl.result_count == 6
    assert paging.cap_for_page("3", 2) == 8 and paging.cap_for_page("x", 2) == 4


def test_the_dashboard_shows_capped_counts(admin_client, merchant, monkeypatch):
    monkeypatch.setattr(selectors, "DASHBOARD_COUNT_CAP", 2)
    for _ in range(3):
        set_state(OrderFactory(merchant=merchant), "failed")
    html = admin_client.get(HOME).content.decode()
    assert re.search(r'data-tab="failed" data-provider="fake" class="dd-count-link[^"]*">2\+</a>',
                     html)
    assert re.search(r'data-tab="failed" data-provider="" class="dd-count-link[^"]*">2\+</a>', html)


def test_the_dashboard_caps_at_100_and_the_list_at_1000(admin_client, merchant, monkeypatch):
    """The dashboard has its own, lower cap; the list's tabs keep theirs (one rule, two caps)."""
    assert (selectors.DASHBOARD_COUNT_CAP, selectors.TAB_COUNT_CAP) == (100, 1000)
    # (the list: four failed orders under "Needs action", counted to 1,000)
    monkeypatch.setattr(selectors, "DASHBOARD_COUNT_CAP", 3)
    for _ in range(4):
        set_state(OrderFactory(merchant=merchant), "failed")
    html = admin_client.get(HOME).content.decode()
    assert re.search(r'data-tab="failed" data-provider="" class="dd-count-link[^"]*">3\+</a>', html)
    listed = admin_client.get(LIST).content.decode()
    tab = listed.split('data-tab="needs_action"', 1)[1].split("</a>", 1)[0]
    assert '<span class="dd-count">4</span>' in tab
    with CaptureQueriesContext(connection) as ctx:
        dashboard.work_counts(now=timezone.now())
    counting = [q["sql"] for q in ctx.captured_queries if "COUNT(*)" in q["sql"]]
    assert len(counting) == 1 and "LIMIT 4" in counting[0]  # read with LIMIT cap + 1
