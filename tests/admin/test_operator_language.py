"""Screens and messages speak the operator's language: state and action names, provider codes
only beside their documented names — never a state-machine or Python name."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from orders import labels, services
from orders.errors import OrderActionRefused
from providers.tipser.statuses import STATUSES as TIPSER
from tests.admin.conftest import set_state
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db

JARGON = re.compile(r"FSM|accept_shortfall|placement_unknown|in_progress|\b_[a-z]+\b|transition '")


def test_tipser_codes_are_shown_with_their_documented_names():
    assert [labels.provider_code(TIPSER, c, items=True) for c in "012346"] == [
        "New (0)", "Hold (1)", "Shipped (2)", "Cancelled (3)", "Returned (4)", "Acknowledged (6)"]
    assert labels.provider_code(TIPSER, "5", items=True) == "5 (undocumented)"
    assert labels.provider_codes(TIPSER, ["1", "2", "3", "6"]) == (
        "Hold (1), Shipped (2), Cancelled (3), Acknowledged (6)")


def test_a_refused_action_says_what_and_why_in_words(operator, order):
    set_state(order, "completed")
    with pytest.raises(OrderActionRefused) as exc:
        services.order_run_transition(order=order, name="hold", actor=operator)
    assert exc.value.message == "“Put on hold” is not possible while the order is Completed."


def test_tipser_order_list_and_page_name_the_item_statuses(operator_client):
    account = AccountFactory(provider="tipser", name="Tipser", credentials={"api_key": "k" * 20})
    order = set_state(OrderFactory(merchant=MerchantFactory(account=account)), "in_progress",
                      external_id="T1", raw_status="0")
    OrderItemFactory(order=order, raw_status="0", next_statuses=["1", "2", "3", "6"])
    OrderItemFactory(order=order, raw_status="2", next_statuses=["4"])
    html = operator_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "1× New (0), 1× Shipped (2)" in html
    page = operator_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Hold (1), Shipped (2), Cancelled (3), Acknowledged (6)" in page
    assert '["1", "2", "3", "6"]' not in page and "unknown (0)" not in page


def test_transition_messages_and_timeline_use_words(operator_client, order):
    url = reverse("admin:orders_order_transition", args=[order.pk, "cancel"])
    response = operator_client.post(url, {"reason": "customer changed their mind"}, follow=True)
    html = response.content.decode()
    assert f"{order.reference}: Cancel — now Cancelled" in html
    assert "Draft → Cancelled" in html and "Cancelled: customer changed their mind" in html
    messages = [str(m.message) for m in response.context["messages"]]
    assert messages and not any(JARGON.search(m) for m in messages), messages
    # a second cancel is refused in words
    response = operator_client.post(url, {"reason": "again"}, follow=True)
    messages = [str(m.message) for m in response.context["messages"]]
    assert not any(JARGON.search(m) for m in messages), messages
