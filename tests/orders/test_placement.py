from __future__ import annotations

import json

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

from orders import services
from orders.errors import OrderActionRefused, OrderValidationError
from orders.models import OrderEvent
from providers.errors import ProviderUnavailable
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db
CREATE = f"{BASE_URL}/orders"


def _creates(mocked) -> int:
    return sum(1 for c in mocked.calls if c.request.method == "POST" and c.request.url == CREATE)


def test_place_sends_order_and_records_ids_and_call(mocked, order):
    mocked.add(responses.POST, CREATE, json={"id": 991, "status": "NEW"}, status=200,
               match=[responses.matchers.header_matcher({"X-Api-Key": "sk_test_supersecret_123"})])
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placed"
    assert order.external_id == "991" and order.external_ids == ["991"]
    assert order.raw_status == "NEW"
    body = json.loads(mocked.calls[0].request.body)
    assert body == {"ref": order.reference, "items": [{"sku": "SKU-A", "qty": 2}, {"sku": "SKU-B", "qty": 1}]}
    call = order.events.get(kind=OrderEvent.Kind.PROVIDER_CALL)
    assert (call.operation, call.http_status, call.outcome) == ("place_order", 200, "ok")
    assert "supersecret" not in call.message
    transitions = list(order.events.filter(kind="transition").values_list("to_state", flat=True))
    assert "placing" in transitions and "placed" in transitions


def test_a_placement_reads_the_items_once_under_the_lock(mocked, order):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    mocked.add(responses.POST, CREATE, json={"id": 992, "status": "NEW"}, status=200)
    with CaptureQueriesContext(connection) as ctx:
        services.order_place(order=order)
    item_reads = [q["sql"] for q in ctx.captured_queries
                  if q["sql"].startswith("SELECT") and 'FROM "orders_orderitem"' in q["sql"]]
    # the checks (items present, provider validation) and the request body share one read
    assert len(item_reads) == 1, item_reads
    assert json.loads(mocked.calls[0].request.body)["items"] == [
        {"sku": "SKU-A", "qty": 2}, {"sku": "SKU-B", "qty": 1}]


def test_place_refuses_unauthorized_merchant_without_calling_provider(mocked):
    merchant = MerchantFactory(authorized=False)
    order = OrderFactory(merchant=merchant)
    OrderItemFactory(order=order)
    with pytest.raises(OrderActionRefused) as err:
        services.order_place(order=order)
    assert err.value.code == "merchant_not_authorized"
    assert len(mocked.calls) == 0
    order.refresh_from_db()
    assert order.state == "draft"


def test_place_refuses_order_without_items(mocked, merchant):
    order = OrderFactory(merchant=merchant)
    with pytest.raises(OrderValidationError):
        services.order_place(order=order)
    assert len(mocked.calls) == 0


def test_rejection_marks_failed_with_reason_and_no_retry(mocked, order):
    mocked.add(responses.POST, CREATE, body="unknown sku SKU-B", status=422)
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
    assert "unknown sku SKU-B" in order.failure_reason


def test_unavailable_marks_failed_and_reraises_for_retry(mocked, order):
    mocked.add(responses.POST, CREATE, status=503, headers={"Retry-After": "7"})
    with pytest.raises(ProviderUnavailable) as err:
        services.order_place(order=order)
    assert err.value.retry_after == 7
    order.refresh_from_db()
    assert order.state == "failed"
    # a retry is a new placement from failed
    mocked.replace(responses.POST, CREATE, json={"id": 5, "status": "NEW"})
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placed"


@pytest.mark.parametrize(
    "failure",
    [requests.exceptions.ReadTimeout("read timed out"),
     requests.exceptions.ChunkedEncodingError("reset mid-body")],
)
def test_timeout_after_send_is_placement_unknown_and_never_resent(mocked, order, failure):
    mocked.add(responses.POST, CREATE, body=failure)
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown"
    assert "Outcome unknown" in order.failure_reason
    with pytest.raises(OrderActionRefused):
        services.order_place(order=order)
    assert _creates(mocked) == 1


def test_connection_refused_is_unavailable(mocked, order):
    # as requests raises it: the type (NewConnectionError) says nothing was sent
    refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] "  # type: ignore[arg-type]
                                 "Connection refused")
    mocked.add(responses.POST, CREATE, body=requests.exceptions.ConnectionError(
        MaxRetryError(None, "/orders", reason=refused)))  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailable):
        services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"


def test_malformed_success_reply_is_placement_unknown(mocked, order):
    mocked.add(responses.POST, CREATE, body="<html>oops</html>", status=200)
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown"


def test_reconcile_by_operator(mocked, order):
    mocked.add(responses.POST, CREATE, body=requests.exceptions.ReadTimeout())
    services.order_place(order=order)
    with pytest.raises(OrderValidationError):
        services.order_reconcile(order=order, placed=True, external_id="")
    services.order_reconcile(order=order, placed=True, external_id="A-1")
    order.refresh_from_db()
    assert (order.state, order.external_id) == ("placed", "A-1")


def test_reconcile_by_lookup_not_found_goes_back_to_draft(mocked, order):
    mocked.add(responses.POST, CREATE, body=requests.exceptions.ReadTimeout())
    services.order_place(order=order)
    mocked.add(responses.GET, f"{BASE_URL}/orders/by-ref/{order.reference}", json={})
    services.order_reconcile_from_provider(order=order)
    order.refresh_from_db()
    assert order.state == "draft"


def test_html_error_page_becomes_readable_text(mocked, order):
    mocked.add(responses.POST, CREATE, status=400, content_type="text/html",
               body="<html><head><style>p{}</style></head><body><h1>Bad Request</h1>"
                    "<p>SKU &amp; quantity invalid</p></body></html>")
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
    assert "Bad Request SKU & quantity invalid" in order.failure_reason
    assert "<" not in order.failure_reason
