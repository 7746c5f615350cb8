"""The wire format of every Tipser call, pinned with `responses`."""

from __future__ import annotations

import json
import logging

import pytest
import responses
from django.core.cache import cache
from django.test import override_settings
from responses import matchers

from merchants.provider_requests import provider_service as service_for
from orders import services
from orders.models import OrderEvent
from orders.provider_requests import order_request
from providers.errors import ProviderBadReply, ProviderRejected, ProviderUnavailable
from providers.tipser.service import PRODUCTION_HOST, SANDBOX_HOST

from .conftest import API_KEY, HOST, ORDERS_URL, fixture, wire_order

pytestmark = pytest.mark.django_db


def _import(account, *wire):
    from orders import snapshots
    from orders.models import Order
    from providers.tipser import mapping

    snapshots.upsert_page(account=account, page=[mapping.parse_order(w) for w in wire])
    return Order.objects.get(external_id=wire[0]["id"])


def test_base_url_per_environment_and_override(account, settings):
    settings.TIPSER_API_URL = PRODUCTION_HOST
    assert service_for(account).base_url == SANDBOX_HOST
    account.environment = "production"
    assert service_for(account).base_url == PRODUCTION_HOST
    settings.TIPSER_API_URL = "http://tipser.internal"
    assert service_for(account).base_url == "http://tipser.internal"
    account.base_url = "http://127.0.0.1:8000/sandbox/tipser/"
    assert service_for(account).base_url == "http://127.0.0.1:8000/sandbox/tipser/"


def test_list_call_sends_apikey_dates_states_and_page(mocked, account):
    mocked.add(
        responses.GET,
        ORDERS_URL,
        json=fixture("order_list.json"),
        match=[
            matchers.query_param_matcher(
                {
                    "apiKey": API_KEY,
                    "from": "2018-05-31",
                    "states": "0,1",
                    "pageSize": "2",
                    "pageIndex": "0",
                }
            ),
        ],
    )
    body = service_for(account).client.list_orders(
        from_date="2018-05-31", states="0,1", page_size=2, page_index=0
    )
    assert body["itemsCount"] == 1
    assert mocked.calls[0].request.method == "GET"


def test_detail_call_reads_one_order(mocked, account, tipser_merchant):
    order = _import(account, wire_order(1))
    mocked.add(
        responses.GET,
        f"{ORDERS_URL}/ord00001",
        json=fixture("order_detail.json"),
        match=[matchers.query_param_matcher({"apiKey": API_KEY})],
    )
    snap = service_for(account).fetch_order(order_request(order))
    assert snap.external_id == "5be5e8c4ac564b000165003f"


def test_status_change_puts_status_item_ids_and_comment(mocked, account, tipser_merchant):
    order = _import(account, wire_order(1, items=2))
    mocked.add(
        responses.PUT,
        f"{ORDERS_URL}/ord00001",
        json={},
        match=[
            matchers.query_param_matcher({"apiKey": API_KEY}),
            matchers.json_params_matcher(
                {
                    "status": 6,
                    "orderItemsIds": ["ord00001-item0", "ord00001-item1"],
                    "comment": "seen",
                }
            ),
        ],
    )
    services.order_items_set_status(
        order=order, items=list(order.items.all()), transition_name="acknowledge", comment="seen"
    )
    assert {i.state for i in order.items.all()} == {"acknowledged"}


def test_shipping_posts_carrier_tracking_items_then_marks_items_shipped(
    mocked, account, tipser_merchant
):
    order = _import(account, wire_order(1, items=2, status=6))
    ship = mocked.add(
        responses.POST,
        f"{ORDERS_URL}/ord00001/shipping",
        json={},
        match=[
            matchers.query_param_matcher({"apiKey": API_KEY}),
            matchers.json_params_matcher(
                {
                    "shippingProvider": "DHL",
                    "comment": "two boxes",
                    "sendDeliveryNoteToCustomer": False,
                    "trackingNumber": "JD0123",
                    "orderItemsIds": ["ord00001-item0", "ord00001-item1"],
                }
            ),
        ],
    )
    status = mocked.add(
        responses.PUT,
        f"{ORDERS_URL}/ord00001",
        json={},
        match=[
            matchers.json_params_matcher(
                {
                    "status": 2,
                    "orderItemsIds": ["ord00001-item0", "ord00001-item1"],
                    "comment": "two boxes",
                }
            ),
        ],
    )
    shipment = services.order_ship(
        order=order,
        carrier="DHL",
        tracking_number="JD0123",
        notify_customer=False,
        comment="two boxes",
    )
    assert ship.call_count == 1 and status.call_count == 1
    assert [c.request.method for c in mocked.calls] == ["POST", "PUT"]
    shipment.refresh_from_db()
    assert shipment.pushed_at is not None and shipment.state == "shipped"
    order.refresh_from_db()
    assert order.state == "shipped"
    assert {i.state for i in order.items.all()} == {"shipped"}


def test_other_carrier_is_sent_as_null(mocked, account, tipser_merchant):
    order = _import(account, wire_order(1))
    mocked.add(responses.POST, f"{ORDERS_URL}/ord00001/shipping", json={})
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})
    services.order_ship(order=order, carrier="", tracking_number="T-1")
    assert json.loads(mocked.calls[0].request.body)["shippingProvider"] is None


def test_markets_call_gives_carrier_choices_cached_per_account(mocked, account):
    cache.clear()
    markets = mocked.add(
        responses.GET,
        f"{HOST}/v3/markets",
        json=[{"id": "se", "shippingProviders": [{"name": "PostNord"}, {"name": "DHL"}]}],
        match=[matchers.query_param_matcher({"apiKey": API_KEY})],
    )
    service = service_for(account)
    assert service.carrier_choices() == [
        ("DHL", "DHL"),
        ("PostNord", "PostNord"),
        ("", "Other (not listed)"),
    ]
    assert service_for(account).carrier_names() == ["DHL", "PostNord"]
    assert markets.call_count == 1


def test_carrier_choices_keep_other_when_markets_fails(mocked, account):
    cache.clear()
    mocked.add(responses.GET, f"{HOST}/v3/markets", status=503)
    assert service_for(account).carrier_choices() == [("", "Other (not listed)")]


def test_check_account_lists_todays_orders(mocked, account):
    mocked.add(
        responses.GET,
        ORDERS_URL,
        json={"itemsCount": 0, "pageIndex": 0, "items": []},
        match=[matchers.query_param_matcher({"apiKey": API_KEY}, strict_match=False)],
    )
    assert "apiKey accepted" in service_for(account).check_account()
    assert mocked.calls[0].request.params["pageSize"] == "1"


def test_error_body_becomes_a_readable_rejection(mocked, account):
    mocked.add(
        responses.GET,
        ORDERS_URL,
        status=403,
        json={"error": {"id": "Unauthorized", "message": "Invalid apiKey"}},
    )
    with pytest.raises(ProviderRejected) as err:
        service_for(account).check_account()
    assert "Invalid apiKey (Unauthorized)" in str(err.value)


def test_server_error_on_a_read_is_retryable(mocked, account):
    mocked.add(responses.GET, ORDERS_URL, status=500, body="oops")
    with pytest.raises(ProviderUnavailable):
        service_for(account).check_account()


def test_non_json_reply_is_a_bad_reply(mocked, account):
    mocked.add(responses.GET, ORDERS_URL, status=200, body="<html>maintenance</html>")
    with pytest.raises(ProviderBadReply):
        service_for(account).check_account()


def test_apikey_never_appears_in_events_or_logs(mocked, account, tipser_merchant, caplog):
    order = _import(account, wire_order(1))
    mocked.add(
        responses.GET,
        f"{ORDERS_URL}/ord00001",
        status=400,
        json={"error": {"id": "IncorrectInputData", "message": f"bad key {API_KEY}"}},
    )
    caplog.set_level(logging.INFO)
    with pytest.raises(ProviderRejected):
        services.order_sync(order=order)
    assert API_KEY in mocked.calls[0].request.url  # it was sent…
    texts = [e.message for e in OrderEvent.objects.all()] + [
        str(e.data) for e in OrderEvent.objects.all()
    ]
    order.refresh_from_db()
    texts += [order.failure_reason, caplog.text]
    assert any("apiKey=***" in t for t in texts)
    assert not any(API_KEY in t for t in texts)  # …and is nowhere on record


@override_settings(TIPSER_API_URL=PRODUCTION_HOST)
def test_production_account_uses_production_host(mocked, account):
    account.environment = "production"
    mocked.add(
        responses.GET,
        f"{PRODUCTION_HOST}/v3/merchants/orders",
        json={"itemsCount": 0, "pageIndex": 0, "items": []},
    )
    service_for(account).check_account()
    assert mocked.calls[0].request.url.startswith(PRODUCTION_HOST)


def test_carrier_choices_are_those_of_the_orders_market(mocked, account, tipser_merchant):
    """Doc: supported shipping providers are "defined in market request (in proper market
    section)": a German order is offered Germany's carriers, not Sweden's or the US's."""
    from providers.tipser.sandbox import MARKETS
    from tests.factories import OrderFactory

    cache.clear()
    mocked.add(responses.GET, f"{HOST}/v3/markets", json=MARKETS)
    service = service_for(account)
    german = OrderFactory(merchant=tipser_merchant, country="DE", currency="EUR",
                          raw_data={"shippingPreferences": {"shippingProvider": "DHL"}})
    assert service.carrier_choices(order_request(german)) == [
        ("DHL", "DHL (customer's choice)"), ("DPD", "DPD"), ("Hermes", "Hermes"),
        ("", "Other (not listed)")]
    swedish_by_currency = OrderFactory(merchant=tipser_merchant, country="", currency="SEK")
    assert [v for v, _ in service.carrier_choices(order_request(swedish_by_currency))] == [
        "Bring", "DHL", "PostNord", ""]
    unknown_market = OrderFactory(merchant=tipser_merchant, country="GB", currency="GBP")
    assert len(service.carrier_choices(order_request(unknown_market))) == 8 + 1  # every market's, once
    assert len(mocked.calls) == 1  # one markets read, cached


def test_item_status_codes_have_their_documented_names_beside_the_raw_code(tipser_merchant):
    from providers.tipser.statuses import STATUSES
    from tests.factories import OrderFactory, OrderItemFactory

    order = OrderFactory(merchant=tipser_merchant, raw_status="0")
    item = OrderItemFactory(order=order, raw_status="0", next_statuses=["1", "2", "3", "6"])
    assert item.raw_status_label == "New (0)"
    assert item.next_statuses_labels == ["Hold (1)", "Shipped (2)", "Cancelled (3)",
                                         "Acknowledged (6)"]
    assert STATUSES.item_label("4") == "Returned (4)"
    assert STATUSES.item_label("5") == "unknown (5)"
    assert order.raw_status_label == "0 (order status names not published)"
