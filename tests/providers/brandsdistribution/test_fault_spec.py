from __future__ import annotations

import pytest
import responses

from orders import services

from .fault_spec import FAULT_SPEC

pytestmark = pytest.mark.django_db


def test_fault_spec_describes_a_successful_placement(mocked):
    order = FAULT_SPEC["make_order"]()
    FAULT_SPEC["mock_success"](mocked, order)
    method, url = FAULT_SPEC["create"]
    mocked.add(method, url, json=FAULT_SPEC["create_success_json"])
    services.order_place(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id) == ("placed", "4711")
    assert mocked.calls[0].request.url == url
    assert [c.request.method for c in mocked.calls] == ["POST", "GET"]  # create, status by key


def test_fault_spec_mock_success_covers_the_reservation_when_on(mocked):
    order = FAULT_SPEC["make_order"]()
    order.merchant.account.options = {"wire_format": "json", "reserve_first": True}
    order.merchant.account.save()
    FAULT_SPEC["mock_success"](mocked, order)
    method, url = FAULT_SPEC["create"]
    mocked.add(method, url, json=FAULT_SPEC["create_success_json"])
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placed"
    assert responses.POST in {c.request.method for c in mocked.calls}
