"""Placement through ``orders.services.order_place`` with the provider mocked at the wire."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from responses import matchers

from orders import services
from orders.errors import OrderActionRefused, OrderValidationError
from orders.models import OrderEvent
from providers.errors import ProviderUnavailable

from .helpers import (
    API_KEY,
    AUTH_HEADER,
    CREATE,
    LOCKED,
    PASSWORD,
    RESERVE,
    fixture,
    make_order,
    status_url,
)
from .test_mapping import BOMB

pytestmark = pytest.mark.django_db

JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json",
                "Authorization": AUTH_HEADER}
XML_HEADERS = {"Content-Type": "application/xml", "Accept": "application/xml",
               "Authorization": AUTH_HEADER}


def _ok_json(order_id=4711, models=(("148148", 10, 3), ("148367", 15, 0))):
    return {"models": [{"stock_id": int(s), "locked": lk, "available": av}
                       for s, lk, av in models], "order_id": order_id}


def _calls(mocked, method, url):
    return [c for c in mocked.calls if c.request.method == method and c.request.url == url]


def _assert_no_secret_in_timeline(order):
    for message in order.events.values_list("message", flat=True):
        assert API_KEY not in message and PASSWORD not in message


def test_json_placement_sends_documented_headers_and_body_and_stores_order_id(mocked):
    order = make_order()
    mocked.add(responses.POST, CREATE, json=_ok_json(),
               match=[matchers.header_matcher(JSON_HEADERS)])
    services.order_place(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id, order.raw_status) == ("placed", "4711", "5")
    sent = json.loads(mocked.calls[0].request.body)["order_list"][0]
    assert sent["key"] == order.reference == "2345"
    assert sent["date"] == "2017/01/31 23:59:59 +0000"
    assert sent["item_list"] == [{"stock_id": "148148", "quantity": "10"},
                                 {"stock_id": "148367", "quantity": "15"}]
    assert sent["autoConfirm"] == "true" and sent["carrierId"] == "20"
    assert [i.confirmed_quantity for i in order.items.all()] == [10, 15]
    assert not order.has_open_shortfall
    call = order.events.get(kind=OrderEvent.Kind.PROVIDER_CALL)
    assert (call.operation, call.http_status, call.outcome) == ("place_order", 200, "ok")
    _assert_no_secret_in_timeline(order)


def test_xml_placement_sends_the_xml_document_and_reads_the_xml_reply(mocked):
    order = make_order(wire_format="xml")
    mocked.add(responses.POST, CREATE, body=fixture("order_reply.xml"),
               content_type="application/xml", match=[matchers.header_matcher(XML_HEADERS)])
    services.order_place(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id) == ("placed", "1000")
    body = mocked.calls[0].request.body
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                           b"<root><order_list><order><key>2345</key>"
                           b"<date>2017/01/31 23:59:59 +0000</date><carrierId>20</carrierId>")
    assert b"<item><stock_id>148367</stock_id><quantity>15</quantity></item>" in body
    items = list(order.items.all())
    # the documented reply lists 148148 only (locked 10 of 10); 148367 is not reported
    assert (items[0].confirmed_quantity, items[1].confirmed_quantity) == (10, None)


def test_auto_confirm_false_is_sent_when_the_operator_chose_it(mocked):
    order = make_order(provider_options={"autoConfirm": False})
    mocked.add(responses.POST, CREATE, json=_ok_json())
    services.order_place(order=order)
    sent = json.loads(mocked.calls[0].request.body)["order_list"][0]
    assert sent["autoConfirm"] == "false" and "carrierId" not in sent


def test_reply_shortfall_is_visible_and_the_operator_can_accept_it(mocked, operator):
    order = make_order()
    mocked.add(responses.POST, CREATE, json=_ok_json(models=(("148148", 4, 0), ("148367", 15, 2))))
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placed"
    short = order.items.get(sku="148148")
    assert (short.quantity, short.confirmed_quantity, short.shortfall) == (10, 4, 6)
    assert order.has_open_shortfall
    assert order.events.filter(message__contains="Shortfall").exists()
    assert "accept_shortfall" in services.order_transitions_available(order=order, user=operator)

    services.order_run_transition(order=order, name="accept_shortfall", actor=operator)
    order.refresh_from_db()
    assert order.state == "placed" and not order.has_open_shortfall
    assert order.raw_data["shortfall"]["by"] == "operator"
    with pytest.raises(OrderActionRefused):
        services.order_shortfall_accept(order=order, actor=operator)


def test_error_429_with_message_fails_the_order_with_that_message(mocked):
    order = make_order()
    mocked.add(responses.POST, CREATE, status=429, content_type="application/json",
               json={"message": "Stock id 148367 does not exist"})
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
    assert order.failure_reason == "Rejected by provider: Stock id 148367 does not exist"


def test_unknown_stock_id_order_can_be_corrected_and_placed_again(mocked, operator):
    order = make_order()
    mocked.add(responses.POST, CREATE, status=429, body="stock_id 148367 not found",
               content_type="text/plain")
    services.order_place(order=order, actor=operator)
    order.refresh_from_db()
    assert order.state == "failed" and "stock_id 148367 not found" in order.failure_reason

    services.order_run_transition(order=order, name="reopen", actor=operator)
    bad = order.items.get(sku="148367")
    services.order_item_remove(item=bad, actor=operator)
    services.order_item_add(order=order, actor=operator, sku="148368", quantity=15)
    mocked.replace(responses.POST, CREATE, json=_ok_json(models=(("148148", 10, 0),
                                                                 ("148368", 15, 0))))
    services.order_place(order=order, actor=operator)
    order.refresh_from_db()
    assert (order.state, order.failure_reason) == ("placed", "")
    sent = json.loads(mocked.calls[-1].request.body)["order_list"][0]
    assert [i["stock_id"] for i in sent["item_list"]] == ["148148", "148368"]


@pytest.mark.parametrize(("headers", "body", "retry_after"), [
    ({"Retry-After": "120"}, "Slow down", 120),
    ({}, "Rate limit exceeded, retry in 15 minutes", 900),
])
def test_429_that_is_a_real_rate_limit_is_unavailable_with_retry_after(mocked, headers, body,
                                                                       retry_after):
    order = make_order()
    mocked.add(responses.POST, CREATE, status=429, body=body, headers=headers)
    with pytest.raises(ProviderUnavailable) as err:
        services.order_place(order=order)
    assert err.value.retry_after == retry_after
    order.refresh_from_db()
    assert order.state == "failed" and "rate limited" in order.failure_reason


def test_412_plain_text_is_a_rejection_with_that_text(mocked):
    order = make_order()
    mocked.add(responses.POST, CREATE, status=412, body="Insufficient ecredit",
               content_type="text/plain")
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed" and order.failure_reason.endswith("Insufficient ecredit")


def test_401_names_the_credentials_without_leaking_them(mocked):
    order = make_order()
    mocked.add(responses.POST, CREATE, status=401, body="Unauthorized")
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed" and "API key/password" in order.failure_reason
    _assert_no_secret_in_timeline(order)


@pytest.mark.parametrize(("fmt", "body"), [
    ("json", b'{"models": [{"stock_id": 148148'),
    ("xml", b"<root order_id='5'><model stock_id='148148'"),
    ("json", b"<html>gateway</html>"),
])
def test_malformed_success_reply_is_placement_unknown_never_resent(mocked, fmt, body):
    order = make_order(wire_format=fmt)
    mocked.add(responses.POST, CREATE, body=body)
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown"
    assert "Outcome unknown" in order.failure_reason
    with pytest.raises(OrderActionRefused):
        services.order_place(order=order)
    assert len(_calls(mocked, "POST", CREATE)) == 1


def test_xml_bomb_reply_is_refused_with_a_readable_reason(mocked):
    order = make_order(wire_format="xml")
    mocked.add(responses.POST, CREATE, body=BOMB, content_type="application/xml")
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown"
    assert "XML bomb" in order.failure_reason and "lol" not in order.failure_reason


def test_reply_without_order_id_is_unknown_and_settled_by_the_clientkey_lookup(mocked):
    order = make_order(reference="2357")
    mocked.add(responses.POST, CREATE, body=fixture("order_reply.json"))  # doc sample: id 0
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown" and "no order id" in order.failure_reason
    mocked.add(responses.GET, status_url("2357"), body=fixture("status_by_key.json"),
               match=[matchers.header_matcher({"Authorization": AUTH_HEADER,
                                               "Accept": "application/json"})])
    services.order_reconcile_from_provider(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id, order.raw_status) == ("placed", "130", "5")


def test_timeout_on_create_is_unknown_and_lookup_not_found_returns_to_draft(mocked):
    order = make_order()
    mocked.add(responses.POST, CREATE, body=requests.exceptions.ReadTimeout("slow"))
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown"
    mocked.add(responses.GET, status_url(order.reference), status=404, body="Order not found")
    services.order_reconcile_from_provider(order=order)
    order.refresh_from_db()
    assert order.state == "draft"


def test_reconcile_with_empty_order_list_means_not_placed(mocked):
    order = make_order()
    mocked.add(responses.POST, CREATE, body=requests.exceptions.ReadTimeout("slow"))
    services.order_place(order=order)
    mocked.add(responses.GET, status_url(order.reference), json={"orders": []})
    services.order_reconcile_from_provider(order=order)
    order.refresh_from_db()
    assert order.state == "draft"


def test_non_numeric_stock_id_is_refused_before_any_call(mocked):
    order = make_order(items=(("SKU-RED-M", 1),))
    with pytest.raises(OrderValidationError) as err:
        services.order_place(order=order)
    assert "items[0].sku" in err.value.fields
    assert len(mocked.calls) == 0


def test_missing_address_fields_are_named(mocked):
    order = make_order(city="", country="", provider_options={"carrierId": "TNT"})
    with pytest.raises(OrderValidationError) as err:
        services.order_place(order=order)
    assert {"city", "country", "provider_options.carrierId"} <= set(err.value.fields)
    assert len(mocked.calls) == 0


# --- reserve first -------------------------------------------------------------------------
def _reservation(mocked, *states):
    """Successive GET .../locked/ replies (one per call)."""
    for models in states:
        mocked.add(responses.GET, LOCKED, json={
            "models": [{"stock_id": int(s), "locked": q, "available": a} for s, q, a in models],
            "order_id": 0,
        })


def _ops(mocked):
    return [json.loads(c.request.body)["operations"][0] for c in _calls(mocked, "POST", RESERVE)]


def test_reserve_first_locks_reads_back_then_sends(mocked):
    order = make_order(reserve_first=True)
    _reservation(mocked, [("999", 1, 0)], [("999", 1, 0), ("148148", 10, 3), ("148367", 15, 0)])
    mocked.add(responses.POST, RESERVE, json={}, match=[matchers.header_matcher(JSON_HEADERS)])
    mocked.add(responses.POST, CREATE, json=_ok_json())
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placed"
    assert [(c.request.method, c.request.url) for c in mocked.calls] == [
        ("GET", LOCKED), ("POST", RESERVE), ("GET", LOCKED), ("POST", CREATE)]
    assert _ops(mocked) == [{"type": "lock", "models": [{"stock_id": 148148, "quantity": 10},
                                                        {"stock_id": 148367, "quantity": 15}]}]
    assert order.raw_data["placement"]["reserved"] == {"148148": 10, "148367": 15}


def test_reserve_first_in_xml_sends_an_xml_lock(mocked):
    order = make_order(wire_format="xml", reserve_first=True, items=(("148148", 2),))
    empty = b'<?xml version="1.0"?><root order_id="0"></root>'
    held = b'<root order_id="0"><model stock_id="148148" locked="2" available="0"/></root>'
    mocked.add(responses.GET, LOCKED, body=empty)
    mocked.add(responses.GET, LOCKED, body=held)
    mocked.add(responses.POST, RESERVE, body=b"", match=[matchers.header_matcher(XML_HEADERS)])
    mocked.add(responses.POST, CREATE, body=fixture("order_reply.xml"))
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placed"
    assert _calls(mocked, "POST", RESERVE)[0].request.body == (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><root><operations><operation>'
        b"<type>lock</type><models><model><stock_id>148148</stock_id><quantity>2</quantity>"
        b"</model></models></operation></operations></root>")


def test_reservation_shortfall_stops_before_sending_and_releases_the_locks(mocked, operator):
    order = make_order(reserve_first=True)
    _reservation(mocked, [], [("148148", 10, 0), ("148367", 4, 0)],
                 [("148148", 10, 0), ("148367", 4, 0)])
    mocked.add(responses.POST, RESERVE, json={})
    services.order_place(order=order, actor=operator)
    order.refresh_from_db()
    assert order.state == "failed"
    assert "stock 148367: requested 15, locked 4" in order.failure_reason
    assert "Released the locked quantities" in order.failure_reason
    assert not _calls(mocked, "POST", CREATE)
    assert _ops(mocked)[1] == {"type": "unlock", "models": [{"stock_id": 148148, "quantity": 10},
                                                            {"stock_id": 148367, "quantity": 4}]}
    short = order.items.get(sku="148367")
    assert (short.quantity, short.confirmed_quantity) == (15, 4)
    assert order.has_open_shortfall
    available = services.order_transitions_available(order=order, user=operator)
    assert {"accept_shortfall", "cancel"} <= set(available)

    services.order_shortfall_accept(order=order, actor=operator)
    order.refresh_from_db()
    assert order.state == "draft" and order.failure_reason == ""
    short.refresh_from_db()
    assert (short.quantity, short.confirmed_quantity) == (4, None)
    assert not order.has_open_shortfall


def test_reservation_shortfall_can_be_cancelled_instead(mocked, operator):
    order = make_order(reserve_first=True, items=(("148148", 3),))
    _reservation(mocked, [], [("148148", 1, 0)], [("148148", 1, 0)])
    mocked.add(responses.POST, RESERVE, json={})
    services.order_place(order=order, actor=operator)
    services.order_run_transition(order=order, name="cancel", actor=operator,
                                  payload={"reason": "customer does not want a partial order"})
    order.refresh_from_db()
    assert order.state == "cancelled"


def test_nothing_held_cannot_be_accepted(mocked, operator):
    order = make_order(reserve_first=True, items=(("148148", 3),))
    _reservation(mocked, [], [], [])
    mocked.add(responses.POST, RESERVE, json={})
    services.order_place(order=order, actor=operator)
    with pytest.raises(OrderActionRefused, match="cancel it instead"):
        services.order_shortfall_accept(order=order, actor=operator)


def test_unknown_stock_id_at_lock_fails_with_the_message_and_sends_nothing(mocked):
    order = make_order(reserve_first=True)
    _reservation(mocked, [], [])
    mocked.add(responses.POST, RESERVE, status=429, body="Model 148367 not found")
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
    assert "Reservation refused: Model 148367 not found" in order.failure_reason
    assert not _calls(mocked, "POST", CREATE)


def test_create_refused_after_reservation_releases_the_locks(mocked):
    order = make_order(reserve_first=True, items=(("148148", 2),))
    _reservation(mocked, [], [("148148", 2, 0)], [("148148", 2, 0)])
    mocked.add(responses.POST, RESERVE, json={})
    mocked.add(responses.POST, CREATE, status=429, body="Invalid country code")
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
    assert "Invalid country code" in order.failure_reason
    assert [op["type"] for op in _ops(mocked)] == ["lock", "unlock"]


def test_timeout_on_create_after_reservation_keeps_the_locks(mocked):
    order = make_order(reserve_first=True, items=(("148148", 2),))
    _reservation(mocked, [], [("148148", 2, 0)])
    mocked.add(responses.POST, RESERVE, json={})
    mocked.add(responses.POST, CREATE, body=requests.exceptions.ReadTimeout("slow"))
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown"
    assert [op["type"] for op in _ops(mocked)] == ["lock"]  # the order may be using them


def test_unavailable_create_after_reservation_releases_the_locks_for_the_retry(mocked):
    order = make_order(reserve_first=True, items=(("148148", 2),))
    _reservation(mocked, [], [("148148", 2, 0)], [("148148", 2, 0)])
    mocked.add(responses.POST, RESERVE, json={})
    mocked.add(responses.POST, CREATE, status=503, body="maintenance")
    with pytest.raises(ProviderUnavailable):
        services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
    assert [op["type"] for op in _ops(mocked)] == ["lock", "unlock"]


def test_check_account_proves_the_credentials(mocked):
    from merchants.services import account_check

    order = make_order()
    mocked.add(responses.GET, LOCKED, body=fixture("reservation.json"),
               match=[matchers.header_matcher({"Authorization": AUTH_HEADER})])
    note = account_check(account=order.merchant.account)
    assert "Credentials accepted (JSON)" in note and "1 model(s)" in note
