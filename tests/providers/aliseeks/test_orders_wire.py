"""Aliseeks orders at the wire: exact requests, and how every reply is mapped."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
import responses
from responses import matchers

from orders import services
from orders.errors import OrderActionRefused, OrderValidationError
from orders.models import OrderEvent
from providers.errors import ProviderBadReply, ProviderUnavailable
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory

from .fault_spec import API_KEY, FAULT_SPEC, fixture, make_order

pytestmark = pytest.mark.django_db
BASE = "https://api.aliseeks.com"
ORDERS = f"{BASE}/v1/orders"
AUTH = {"X-Api-Client-Id": API_KEY}


def _placed(order, ids=("101274465122817",)):
    order.external_ids = list(ids)
    order.external_id = ids[0]
    order.save()
    type(order).objects.filter(pk=order.pk).update(state="placed", raw_status="awaiting_payment")
    order.refresh_from_db()
    return order


# --- Create Order ----------------------------------------------------------------------------
def test_place_posts_the_documented_body_with_the_api_key_header(mocked):
    order = make_order()
    mocked.add(responses.POST, ORDERS, json=fixture("create_order_reply.json"),
               match=[matchers.header_matcher(AUTH),
                      matchers.json_params_matcher(fixture("create_order_request.json")),
                      matchers.query_string_matcher("")])
    services.order_place(order=order)
    assert len(mocked.calls) == 1
    request = mocked.calls[0].request
    assert request.method == "POST" and request.url == ORDERS
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == fixture("create_order_request.json")
    order.refresh_from_db()
    assert order.state == "placed"
    assert order.external_ids == ["101274465122817"]
    assert order.external_id == "101274465122817"


def test_placed_order_shows_it_awaits_the_merchants_payment(mocked):
    order = make_order()
    mocked.add(responses.POST, ORDERS, json=fixture("create_order_reply.json"))
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.raw_status == "awaiting_payment"
    assert "awaiting the merchant's payment" in order.raw_status_label
    placed = order.events.get(kind=OrderEvent.Kind.TRANSITION, to_state="placed")
    assert "Awaiting the merchant's payment" in placed.message


def test_place_stores_every_returned_order_id_as_a_string(mocked):
    order = make_order()
    mocked.add(responses.POST, ORDERS,
               json={"merchantId": "YOUR_MERCANT_ID", "orderIds": [8001, "8002", 8001]})
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.external_ids == ["8001", "8002"]
    assert order.external_id == "8001"


def test_item_sku_properties_and_shipping_service_come_from_variant_and_options(mocked):
    order = make_order(provider_options={"shipping_service": "CAINIAO_STANDARD",
                                         "locale": "de_DE"})
    OrderItemFactory(order=order, product_id="555", quantity=3,
                     variant={"properties": [{"sku": "14:173#blue"}],
                              "shippingService": "YANWEN_JYT"})
    mocked.add(responses.POST, ORDERS, json={"merchantId": "x", "orderIds": [1]})
    services.order_place(order=order)
    body = json.loads(mocked.calls[0].request.body)
    assert body["locale"] == "de_DE"
    assert body["items"][0]["shippingService"] == "CAINIAO_STANDARD"
    assert body["items"][1] == {"productId": 555, "quantity": 3, "shippingService": "YANWEN_JYT",
                                "properties": [{"sku": "14:173#blue"}]}


def test_account_base_url_override_wins_over_the_setting(mocked):
    order = make_order()
    account = order.merchant.account
    account.base_url = "https://aliseeks.proxy.example/"
    account.save()
    mocked.add(responses.POST, "https://aliseeks.proxy.example/v1/orders",
               json={"merchantId": "x", "orderIds": [7]}, match=[matchers.header_matcher(AUTH)])
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placed"


def test_place_422_fails_with_a_reason_naming_the_field(mocked):
    order = make_order()
    mocked.add(responses.POST, ORDERS, json=fixture("error_422.json"), status=422)
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
    assert "productId: may not be null (NotNull)" in order.failure_reason
    assert len(mocked.calls) == 1


def test_place_error_reason_falls_back_to_the_error_headers(mocked):
    order = make_order()
    mocked.add(responses.POST, ORDERS, body="", status=422,
               headers={"x-error-code": "NotNull", "x-error-detailed-message": "quantity missing"})
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
    assert "NotNull: quantity missing" in order.failure_reason


def test_place_429_quota_exhausted_is_a_named_failure_never_retried(mocked):
    from orders import tasks

    order = make_order()
    mocked.add(responses.POST, ORDERS, status=429, json=[
        {"code": "TooManyRequests", "field": "",
         "violation": "Call quota exceeded, upgrade your subscription"}])
    tasks.order_place_task.delay(order.pk)  # the task retries only what is transient
    order.refresh_from_db()
    assert order.state == "failed"
    assert "call quota of this subscription is exhausted — not retried" in order.failure_reason
    assert "upgrade your subscription" in order.failure_reason
    assert len(mocked.calls) == 1  # never sent again
    assert not order.events.filter(message__contains="retrying").exists()


def test_sync_429_quota_exhausted_is_not_retried(mocked):
    from orders import tasks

    order = _placed(make_order())
    _get(mocked, "101274465122817", [{"code": "TooManyRequests", "field": "",
                                       "violation": "upgrade your subscription"}], status=429)
    tasks.order_sync_task.delay(order.pk)
    assert len(mocked.calls) == 1
    assert order.events.filter(message__contains="quota of this subscription is exhausted"
                               ).exists()


def test_place_429_with_retry_after_is_unavailable_and_left_for_a_retry(mocked):
    order = make_order()
    mocked.add(responses.POST, ORDERS, json=[], status=429, headers={"Retry-After": "30"})
    with pytest.raises(ProviderUnavailable) as err:
        services.order_place(order=order)
    assert err.value.retry_after == 30
    order.refresh_from_db()
    assert order.state == "failed"
    assert "retry in 30 s" in order.failure_reason


def test_place_403_is_a_rejection_saying_the_account_has_no_access(mocked):
    order = make_order()
    mocked.add(responses.POST, ORDERS, status=403,
               json=[{"code": "Forbidden", "field": "", "violation": "Ordering not enabled"}])
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
    assert "no access" in order.failure_reason and "Ordering not enabled" in order.failure_reason


@pytest.mark.parametrize("reply", [
    {"body": "<html>gateway</html>", "status": 200},
    {"json": {"merchantId": "x"}, "status": 200},
    {"json": {"merchantId": "x", "orderIds": []}, "status": 200},
    {"json": [101274465122817], "status": 200},
    {"json": {"orderIds": [None]}, "status": 200},
    {"json": fixture("create_order_reply.json"), "status": 201},
])
def test_place_malformed_reply_is_outcome_unknown_not_resent(mocked, reply):
    order = make_order()
    mocked.add(responses.POST, ORDERS, **reply)
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown"
    assert "reconcile" in order.failure_reason.lower()
    with pytest.raises(OrderActionRefused):
        services.order_place(order=order)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("exc", [requests.exceptions.ReadTimeout("read timed out"),
                                 requests.exceptions.ConnectionError("Connection aborted.",
                                                                     ConnectionResetError())])
def test_timeout_or_reset_after_send_is_placement_unknown_and_reconciled_by_operator(
    mocked, operator, exc
):
    order = make_order()
    mocked.add(responses.POST, ORDERS, body=exc)
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown"
    with pytest.raises(OrderActionRefused):
        services.order_place(order=order)
    assert len(mocked.calls) == 1
    services.order_reconcile(order=order, actor=operator, placed=True,
                             external_id="101274465122817")
    order.refresh_from_db()
    assert order.state == "placed" and order.external_ids == ["101274465122817"]


@pytest.mark.parametrize(("field", "value", "key"), [
    # a malformed country ("U1") cannot be stored any more: the model and the database refuse
    # it (orders.validators; tests/api/test_validation.py)
    ("country", "", "country"),
    ("phone_number", "713-73a", "phone_number"),
    ("phone_number", "", "phone_number"),
    ("phone_prefix", "", "phone_prefix"),
    ("contact_name", " ", "contact_name"),
    ("address_line1", "", "address_line1"),
    ("city", "", "city"),
    ("region", "", "region"),
    ("provider_options", {"locale": "xx_XX", "shipping_service": "X"}, "provider_options.locale"),
])
def test_invalid_order_is_refused_naming_the_field_without_any_call(mocked, field, value, key):
    order = make_order(**{field: value})
    with pytest.raises(OrderValidationError) as err:
        services.order_place(order=order)
    assert key in err.value.fields
    assert len(mocked.calls) == 0
    order.refresh_from_db()
    assert order.state == "draft"


def test_item_quantity_and_product_id_are_validated_without_any_call(mocked):
    order = make_order()
    OrderItemFactory(order=order, product_id="not-a-number", quantity=0)
    with pytest.raises(OrderValidationError) as err:
        services.order_place(order=order)
    assert {"items[1].quantity", "items[1].product_id"} <= set(err.value.fields)
    assert len(mocked.calls) == 0


def test_phone_is_sent_as_digits_with_a_plus_prefix(mocked):
    order = make_order(phone_prefix="44", phone_number="(20) 7946-0000")
    mocked.add(responses.POST, ORDERS, json={"merchantId": "x", "orderIds": [1]})
    services.order_place(order=order)
    phone = json.loads(mocked.calls[0].request.body)["mailingAddress"]["phoneNumber"]
    assert phone == {"number": "2079460000", "countryPrefix": "+44"}


def test_expired_merchant_is_refused_before_any_call(mocked):
    order = make_order()
    merchant = order.merchant
    type(merchant).objects.filter(pk=merchant.pk).update(auth_state="expired")
    with pytest.raises(OrderActionRefused) as err:
        services.order_place(order=order)
    assert err.value.code == "merchant_not_authorized"
    assert len(mocked.calls) == 0


def test_unauthorized_merchant_is_refused_before_any_call(mocked):
    template = make_order()
    merchant = MerchantFactory(account=template.merchant.account, external_id="other",
                               authorized=False)
    order = OrderFactory(merchant=merchant)
    OrderItemFactory(order=order, product_id="1")
    with pytest.raises(OrderActionRefused) as err:
        services.order_place(order=order)
    assert "not authorized" in err.value.message
    assert len(mocked.calls) == 0


def test_api_key_never_lands_on_the_timeline(mocked):
    order = make_order()
    mocked.add(responses.POST, ORDERS, status=422,
               json=[{"code": "Bad", "field": "key", "violation": f"bad key {API_KEY}"}])
    services.order_place(order=order)
    order.refresh_from_db()
    assert API_KEY not in order.failure_reason
    assert not any(API_KEY in e.message for e in order.events.all())


def test_fault_spec_describes_the_create_call(db):
    assert FAULT_SPEC["create"] == ("POST", ORDERS)
    order = FAULT_SPEC["make_order"]()
    assert order.state == "draft" and order.merchant.can_order


# --- Get Order / sync ------------------------------------------------------------------------
def _get(mocked, order_id, body, merchant_id="YOUR_MERCANT_ID", status=200):
    mocked.add(responses.GET, ORDERS, json=body, status=status,
               match=[matchers.query_param_matcher({"merchantId": merchant_id,
                                                    "orderId": order_id}),
                      matchers.header_matcher(AUTH)])


def test_sync_reads_each_order_id_and_maps_status_total_and_shipments(mocked):
    order = _placed(make_order())
    _get(mocked, "101274465122817", fixture("get_order_reply.json"))
    services.order_sync(order=order)
    assert [c.request.method for c in mocked.calls] == ["GET"]
    assert mocked.calls[0].request.url == (
        f"{ORDERS}?merchantId=YOUR_MERCANT_ID&orderId=101274465122817")
    order.refresh_from_db()
    assert order.state == "completed"
    assert order.raw_status == "order_completed/shipped"
    assert order.raw_status_label == "Completed · shipped"
    assert order.supplier_cost["total"] == "71.78"
    assert order.supplier_cost["currency"] == "USD"
    assert order.raw_data["stores"][0]["name"] == "BIG TREE TECH Store"
    shipments = list(order.shipments.order_by("tracking_number"))
    assert [(s.tracking_number, s.service, s.state) for s in shipments] == [
        ("DH002886407AE", "CAINIAO_STANDARD", "shipped"),
        ("LP00068298585456", "CAINIAO_STANDARD", "shipped"),
    ]


def test_sync_keeps_the_orders_own_money_and_shows_the_supplier_cost_apart(mocked, operator,
                                                                          client):
    """The reported bug: a EUR order (items 80.18 + shipping 0.00) became USD with total
    104.97 after a sync. The order's own amounts stay; AliExpress's total is the supplier
    cost, in the supplier's currency, labelled apart."""
    order = _placed(make_order(currency="EUR"))
    type(order).objects.filter(pk=order.pk).update(items_total=Decimal("80.18"),
                                                   shipping_total=Decimal("0.00"),
                                                   total=Decimal("80.18"))
    _get(mocked, "101274465122817", {**fixture("get_order_reply.json"),
                                     "total": {"currency": "USD", "value": "104.97"}})
    services.order_sync(order=order)
    order.refresh_from_db()
    assert (order.currency, order.items_total, order.shipping_total, order.total) == (
        "EUR", Decimal("80.18"), Decimal("0.00"), Decimal("80.18"))
    assert order.total == order.items_total + order.shipping_total
    assert (order.supplier_cost["total"], order.supplier_cost["currency"]) == ("104.97", "USD")
    client.force_login(operator)
    page = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "Supplier cost (supplier&#x27;s currency)" in page or "Supplier cost" in page
    assert "104.97 USD" in page


def test_split_order_in_two_currencies_is_never_added_up(mocked):
    order = _placed(make_order(), ids=("11", "22"))
    _get(mocked, "11", {**fixture("get_order_reply.json"), "id": "11"})
    _get(mocked, "22", {**fixture("get_order_reply.json"), "id": "22",
                        "total": {"currency": "EUR", "value": "10"}})
    services.order_sync(order=order)
    order.refresh_from_db()
    assert order.supplier_cost["total"] == "" and order.supplier_cost["orders"] == {
        "11": {"value": "71.78", "currency": "USD"}, "22": {"value": "10", "currency": "EUR"}}


def test_repeated_sync_adds_nothing_twice(mocked):
    order = _placed(make_order())
    _get(mocked, "101274465122817", fixture("get_order_reply.json"))
    services.order_sync(order=order)
    services.order_sync(order=order)
    assert order.shipments.count() == 2
    assert order.items.count() == 1


def test_sync_of_a_split_order_reads_every_id_and_combines(mocked):
    order = _placed(make_order(), ids=("11", "22"))
    first = {**fixture("get_order_reply.json"), "id": "11"}
    second = {**fixture("get_order_reply.json"), "id": "22", "status": "wait_seller_send_goods",
              "shippingStatus": None, "shipping": [], "total": {"currency": "USD", "value": "10"}}
    _get(mocked, "11", first)
    _get(mocked, "22", second)
    services.order_sync(order=order)
    order.refresh_from_db()
    assert order.state == "partially_shipped"
    assert (order.supplier_cost["total"], order.supplier_cost["currency"]) == ("81.78", "USD")
    assert order.raw_status == "wait_seller_send_goods"
    assert order.shipments.count() == 2


def test_sync_of_an_unknown_status_needs_action_with_the_raw_value_shown(mocked, operator,
                                                                       client):
    from tests.factories import orders_needing_action as order_list_needing_action

    order = _placed(make_order())
    _get(mocked, "101274465122817", {**fixture("get_order_reply.json"),
                                     "status": "risk_control", "shippingStatus": "",
                                     "shipping": []})
    services.order_sync(order=order)
    order.refresh_from_db()
    assert order.state == "placed"  # not silently moved on to a normal "in progress"
    assert order.raw_status == "risk_control"
    assert order.raw_status_label == "unknown status (risk_control) — needs action"
    assert list(order_list_needing_action()) == [order]
    client.force_login(operator)
    page = client.get("/admin/orders/order/", {"tab": "needs_action"}).content.decode()
    assert order.reference in page
    detail = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "risk_control" in detail
    # nothing provider-side is offered at an unknown status but reading it again
    assert not order.status_table.order_allows("place", raw_status=order.raw_status)
    assert order.status_table.order_allows("sync", raw_status=order.raw_status)


def test_sync_of_a_known_status_after_an_unknown_one_leaves_needs_action(mocked):
    from tests.factories import orders_needing_action as order_list_needing_action

    order = _placed(make_order())
    type(order).objects.filter(pk=order.pk).update(raw_status="risk_control")
    _get(mocked, "101274465122817", {**fixture("get_order_reply.json"),
                                     "status": "wait_seller_send_goods", "shippingStatus": "",
                                     "shipping": []})
    services.order_sync(order=order)
    order.refresh_from_db()
    assert order.state == "in_progress" and not list(order_list_needing_action())


def test_sync_unknown_status_with_shipped_shipping_status_is_shipped(mocked):
    order = _placed(make_order())
    _get(mocked, "101274465122817", {**fixture("get_order_reply.json"), "status": "weird"})
    services.order_sync(order=order)
    order.refresh_from_db()
    assert order.state == "shipped"
    assert order.raw_status_label == "unknown status (weird) — needs action · shipped"


def test_sync_skips_shipping_entries_without_tracking_number(mocked):
    order = _placed(make_order())
    _get(mocked, "101274465122817", {**fixture("get_order_reply.json"), "shipping": [
        {"trackingNumber": "", "shippingService": "X"}, "garbage",
        {"trackingNumber": "T1", "shippingService": "YANWEN_JYT"}]})
    services.order_sync(order=order)
    assert list(order.shipments.values_list("tracking_number", flat=True)) == ["T1"]


@pytest.mark.parametrize("reply", [
    {"body": "not json"},
    {"json": {"status": "order_completed"}},
    {"json": ["order_completed"]},
])
def test_sync_malformed_reply_keeps_the_order_and_records_why(mocked, reply):
    order = _placed(make_order())
    mocked.add(responses.GET, ORDERS, status=200, **reply)
    with pytest.raises(ProviderBadReply):
        services.order_sync(order=order)
    order.refresh_from_db()
    assert order.state == "placed"
    assert order.events.filter(kind=OrderEvent.Kind.ERROR,
                               message__startswith="Sync failed").exists()


def test_sync_error_reply_names_the_field(mocked):
    order = _placed(make_order())
    _get(mocked, "101274465122817", status=422,
         body=[{"code": "NotFound", "field": "orderId", "violation": "NotFound order not found"}])
    with pytest.raises(Exception) as err:
        services.order_sync(order=order)
    assert "orderId: order not found (NotFound)" in str(err.value)
    order.refresh_from_db()
    assert order.state == "placed"


@pytest.mark.django_db
def test_placed_and_synced_unpaid_orders_show_in_the_awaiting_payment_tab():
    from orders.models import Order
    from orders.selectors import order_tab_counts

    placed = make_order()
    placed.sync_state(target="placed")
    placed.raw_status = "awaiting_payment"  # right after placement
    placed.save()
    synced = make_order()
    synced.sync_state(target="placed")
    synced.raw_status = "place_order_success"  # as read back by a sync, nothing shipped yet
    synced.save()
    paid = make_order()
    paid.sync_state(target="in_progress")
    paid.raw_status = "wait_seller_send_goods"
    paid.save()
    assert order_tab_counts(Order.objects.all())["awaiting_payment"] == 2
