"""Needs action is every order waiting for the operator; To ship is a tab; each count equals the
length of the list it opens (one selector feeds tabs, list and dashboard)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import (
    AccountFactory,
    MerchantFactory,
    OrderFactory,
    OrderItemFactory,
    orders_needing_action,
)

from .conftest import set_state

pytestmark = pytest.mark.django_db
URL = reverse("admin:orders_order_changelist")


@pytest.fixture
def waiting(merchant):
    tipser = MerchantFactory(account=AccountFactory(provider="tipser", name="Tipser EU"))
    new = set_state(OrderFactory(merchant=tipser), "placed", external_id="T-NEW")
    OrderItemFactory(order=new, state="new", raw_status="0")
    ack = set_state(OrderFactory(merchant=tipser), "in_progress", external_id="T-ACK")
    OrderItemFactory(order=ack, state="acknowledged", raw_status="6")
    done = set_state(OrderFactory(merchant=tipser), "shipped", external_id="T-DONE")
    OrderItemFactory(order=done, state="shipped", raw_status="2")
    failed = set_state(OrderFactory(merchant=merchant), "failed")
    unknown = set_state(OrderFactory(merchant=merchant), "placement_unknown")
    short = set_state(OrderFactory(merchant=merchant), "placed")
    OrderItemFactory(order=short, quantity=4, confirmed_quantity=0)
    cancelled_short = set_state(OrderFactory(merchant=merchant), "cancelled")
    OrderItemFactory(order=cancelled_short, quantity=4, confirmed_quantity=0)
    OrderFactory(merchant=merchant)  # a draft: nothing to do yet
    return {"new": new, "ack": ack, "failed": failed, "unknown": unknown, "short": short}


def _shown(client, **params) -> set[str]:
    response = client.get(URL, params)
    return {o.reference for o in response.context["cl"].result_list}


def test_needs_action_lists_every_order_waiting_for_the_operator(operator_client, waiting):
    assert _shown(operator_client, tab="needs_action") == {o.reference for o in waiting.values()}
    assert {o.reference for o in orders_needing_action()} == {
        o.reference for o in waiting.values()}


def test_to_acknowledge_and_to_ship_tabs(operator_client, waiting):
    assert _shown(operator_client, tab="to_acknowledge") == {waiting["new"].reference}
    assert _shown(operator_client, tab="to_ship") == {waiting["ack"].reference}
    html = operator_client.get(URL).content.decode()
    assert 'data-tab="to_ship"' in html


def test_every_tab_count_is_the_length_of_its_list(operator_client, waiting):
    response = operator_client.get(URL)
    for tab in response.context["dd_tabs"]:
        params = {} if tab["key"] == "all" else {"tab": tab["key"]}
        assert len(_shown(operator_client, **params)) == tab["count"], tab["key"]
