"""Admin tab counts: capped (constant cost in rows), equal to the exact counts below the cap."""

from __future__ import annotations

import pytest

from orders import selectors
from orders.models import Order
from providers.statuses import Lifecycle
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def test_capped_counts_equal_exact_counts_below_the_cap():
    for state in (Lifecycle.FAILED, Lifecycle.FAILED, Lifecycle.PLACEMENT_UNKNOWN,
                  Lifecycle.DRAFT, Lifecycle.PLACED, Lifecycle.CANCELLED):
        OrderFactory(state=state)
    exact = selectors.order_tab_counts(Order.objects.all())
    assert selectors.order_tab_counts(Order.objects.all(), cap=100) == exact
    assert exact["needs_action"] == 3 and exact["all"] == 6


def test_above_the_cap_a_tab_says_more_than_the_cap():
    for _ in range(4):
        OrderFactory(state=Lifecycle.FAILED)
    counts = selectors.order_tab_counts(Order.objects.all(), cap=2)
    assert counts["needs_action"] == 3  # cap + 1: "more than 2"
    assert counts["all"] == 4  # "All" stays exact
    assert selectors.tab_count_label(counts["needs_action"], cap=2) == "2+"
    assert selectors.tab_count_label(2, cap=2) == 2


def test_the_list_shows_a_capped_tab_count(admin_client, settings, monkeypatch):
    monkeypatch.setattr(selectors, "TAB_COUNT_CAP", 2)
    for _ in range(3):
        OrderFactory(state=Lifecycle.FAILED)
    page = admin_client.get("/admin/orders/order/").content.decode()
    assert 'data-tab="needs_action"' in page
    tab = page.split('data-tab="needs_action"', 1)[1].split("</a>", 1)[0]
    assert '<span class="dd-count">2+</span>' in tab
