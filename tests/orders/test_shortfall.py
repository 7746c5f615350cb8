"""Short quantity: accepting keeps what the provider took and recomputes the totals; accepting
nothing is a cancel; either answer takes the order off the Short quantity list."""

from __future__ import annotations

from decimal import Decimal

import pytest
import responses

from orders import selectors, services
from orders.models import Order
from orders.services.shortfall import order_shortfall_accept, order_shortfall_summary
from tests.admin.conftest import set_state
from tests.factories import OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db


def _short_order(merchant, *lines, state="placed"):
    order = OrderFactory(merchant=merchant, shipping_total=Decimal("5.00"))
    for quantity, taken, price in lines:
        OrderItemFactory(order=order, quantity=quantity, confirmed_quantity=taken, unit_price=Decimal(price))
    services.totals_recalculate(order)
    return set_state(order, state, external_id="E-77")


def _short_list() -> set[int]:
    return set(Order.objects.filter(selectors.order_tabs()["short_quantity"][1]).values_list("pk", flat=True))


def test_summary_shows_what_is_missing_and_the_total_after_accepting(merchant):
    order = _short_order(merchant, (10, 4, "2.00"), (3, 3, "1.00"))
    summary = order_shortfall_summary(order=order)
    assert [(line.asked, line.taken, line.missing) for line in summary.lines] == [(10, 4, 6)]
    assert summary.total_now == Decimal("28.00")
    assert summary.total_if_accepted == Decimal("16.00")  # 4×2 + 3×1 + 5 shipping
    assert not summary.nothing_taken


def test_accepting_keeps_what_was_taken_and_recomputes_totals(merchant, operator):
    order = _short_order(merchant, (10, 4, "2.00"), (3, 3, "1.00"))
    assert order.pk in _short_list()
    services.order_run_transition(order=order, name="accept_shortfall", actor=operator)
    order.refresh_from_db()
    assert order.state == "placed"
    assert sorted(order.items.values_list("quantity", flat=True)) == [3, 4]
    assert (order.items_total, order.total) == (Decimal("11.00"), Decimal("16.00"))
    assert order.pk not in _short_list()
    assert order_shortfall_summary(order=order) is None
    assert order.events.filter(message__startswith="Total 28.00 → 16.00").exists()


def test_accepting_nothing_taken_cancels_the_order_at_the_provider(merchant, operator, mocked):
    order = _short_order(merchant, (4, 0, "9.50"))
    mocked.add(responses.POST, f"{BASE_URL}/orders/E-77/cancel", json={})
    order_shortfall_accept(order=order, actor=operator)
    order.refresh_from_db()
    assert order.state == "cancelled"
    assert order.pk not in _short_list()
    assert len(mocked.calls) == 1


def test_cancel_is_the_other_answer(merchant, operator, mocked):
    order = _short_order(merchant, (4, 1, "9.50"))
    mocked.add(responses.POST, f"{BASE_URL}/orders/E-77/cancel", json={})
    services.order_run_transition(order=order, name="cancel", actor=operator, payload={"reason": "no partial"})
    order.refresh_from_db()
    assert order.state == "cancelled" and order.pk not in _short_list()
