"""The fault spec works: success as declared, and the classic faults on the create call."""

from __future__ import annotations

import pytest
import requests

from orders import services
from providers.errors import ProviderUnavailable

from .fault_spec import FAULT_SPEC

pytestmark = pytest.mark.django_db
METHOD, URL = FAULT_SPEC["create"]


def test_fault_spec_success_places_order(mocked):
    order = FAULT_SPEC["make_order"]()
    FAULT_SPEC["mock_success"](mocked, order)
    mocked.add(METHOD, URL, json=FAULT_SPEC["create_success_json"])
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state in ("placed", "in_progress", "completed")


@pytest.mark.parametrize("reply,state", [
    ({"body": requests.exceptions.ReadTimeout()}, "placement_unknown"),
    ({"status": 500, "body": "boom"}, "placement_unknown"),
    ({"status": 200, "body": "<html>garbage"}, "placement_unknown"),
    ({"status": 200, "json": ["x"]}, "placement_unknown"),
    ({"status": 400, "json": {"message": "Order 5001 is not in Draft status"}}, "failed"),
])
def test_fault_on_checkout_lands_in_named_state_and_is_not_resent(mocked, reply, state):
    order = FAULT_SPEC["make_order"]()
    FAULT_SPEC["mock_success"](mocked, order)
    mocked.add(METHOD, URL, **reply)
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == state and order.failure_reason
    assert sum(1 for c in mocked.calls if c.request.url == URL) == 1


def test_unavailable_checkout_fails_and_reraises_for_retry(mocked):
    order = FAULT_SPEC["make_order"]()
    FAULT_SPEC["mock_success"](mocked, order)
    mocked.add(METHOD, URL, status=503, body="maintenance")
    with pytest.raises(ProviderUnavailable):
        services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
