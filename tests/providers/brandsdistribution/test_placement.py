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
from orders.services.shortfall import order_shortfall_accept
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


def _status(mocked, reference="2345", order_id=4711, status=5, *, xml=False):
    """The status-by-key reply (the authority for the provider's order id)."""
    if xml:
        mocked.add(responses.GET, status_url(reference), content_type="application/xml",
                   body=(f"<root><order_list><order><ext_ref>{reference}</ext_ref>"
                         f"<last_update>2018/05/25 12:20:37 +0200</last_update>"
                         f"<order_id>{order_id}</order_id><status>{status}</status>"
                         "<tracking_url></tracking_url></order></order_list></root>").encode())
    else:
        mocked.add(responses.GET, status_url(reference), json={"orders": [
            {"order_id": order_id, "ext_ref": reference, "status": status, "tracking_code": None,
             "tracking_url": None, "carrier_name": None,
             "last_update": "2021/02/03 14:36:55 +0000", "substatus": None}]})


def _calls(mocked, method, url):
    return [c for c in mocked.calls if c.request.method == method and c.request.url == url]


def _assert_no_secret_in_timeline(order):
    for message in order.events.values_list("message", flat=True):
        assert API_KEY not in message and PASSWORD not in message


def test_json_placement_sends_documented_headers_and_body_and_stores_order_id(mocked):
    order = make_order()
    mocked.add(responses.POST, CREATE, json=_ok_json(models=(("148148", 10, 3),)),
               match=[matchers.header_matcher(JSON_HEADERS)])
    _status(mocked)
    services.order_place(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id, order.raw_status) == ("placed", "4711", "5")
    sent = json.loads(mocked.calls[0].request.body)["order_list"][0]
    assert sent["key"] == order.reference == "2345"
    assert sent["date"] == "2017/01/31 23:59:59 +0000"
    assert sent["item_list"] == [{"stock_id": "148148", "quantity": "10"},
                                 {"stock_id": "148367", "quantity": "15"}]
    assert sent["autoConfirm"] == "true" and sent["carrierId"] == "20"
    # sent without a reservation: the reply's models are what *remains reserved*. 148148 is
    # still listed (10 left reserved, 3 available): the order was not cut, confirmed in full;
    # 148367 is not listed: nothing proves what it got — unconfirmed, never shown short
    assert [i.confirmed_quantity for i in order.items.all()] == [10, None]
    assert not order.has_open_shortfall
    assert order.events.filter(message__contains="quantities are not confirmed").exists()
    calls = order.events.filter(kind=OrderEvent.Kind.PROVIDER_CALL)
    assert sorted((c.operation, c.http_status, c.outcome) for c in calls) == [
        ("order_status", 200, "ok"), ("place_order", 200, "ok")]
    _assert_no_secret_in_timeline(order)


def test_xml_placement_sends_the_xml_document_and_reads_the_xml_reply(mocked):
    order = make_order(wire_format="xml")
    mocked.add(responses.POST, CREATE, body=fixture("order_reply.xml"),
               content_type="application/xml", match=[matchers.header_matcher(XML_HEADERS)])
    _status(mocked, order_id=1000, status=5, xml=True)
    services.order_place(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id, order.raw_status) == ("placed", "1000", "5")
    assert mocked.calls[1].request.headers["Accept"] == "application/xml"
    body = mocked.calls[0].request.body
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                           b"<root><order_list><order><key>2345</key>"
                           b"<date>2017/01/31 23:59:59 +0000</date><carrierId>20</carrierId>")
    assert b"<item><stock_id>148367</stock_id><quantity>15</quantity></item>" in body
    items = list(order.items.all())
    # the documented reply lists what remains reserved (148148: 10 locked, 5 available): not
    # what the order took, but proof it was not cut; 148367 is not listed: unconfirmed
    assert (items[0].confirmed_quantity, items[1].confirmed_quantity) == (10, None)
    assert not order.has_open_shortfall


def test_the_doc_json_reply_with_order_id_0_never_stores_0_the_status_by_key_gives_the_id(
        mocked):
    order = make_order(reference="2357", items=(("1578", 1),))
    mocked.add(responses.POST, CREATE, body=fixture("order_reply.json"))  # doc sample: id 0
    mocked.add(responses.GET, status_url("2357"), body=fixture("status_by_key.json"))
    services.order_place(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id, order.raw_status) == ("placed", "130", "5")
    assert order.external_ids == ["130"]
    assert order.raw_data["placement"]["reply_order_id"] is None


def test_status_by_key_is_the_authority_for_the_status_after_placement(mocked):
    order = make_order()
    mocked.add(responses.POST, CREATE, json=_ok_json(order_id=0))  # no id: read by key
    _status(mocked, order_id=4711, status=1)  # money waiting
    services.order_place(order=order)
    order.refresh_from_db()
    assert (order.state, order.raw_status, order.raw_status_label) == (
        "placed", "1", "Money waiting")


def test_status_by_key_unreadable_after_placement_keeps_the_reply_id(mocked):
    order = make_order()
    mocked.add(responses.POST, CREATE, json=_ok_json())
    mocked.add(responses.GET, status_url("2345"), status=503, body="busy")
    services.order_place(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id, order.raw_status) == ("placed", "4711", "5")
    assert order.events.filter(message__contains="Status by key not read").exists()


def test_status_by_key_unreadable_after_a_reply_without_id_is_unknown(mocked):
    order = make_order()
    mocked.add(responses.POST, CREATE, json=_ok_json(order_id=0))
    mocked.add(responses.GET, status_url("2345"), status=503, body="busy")
    services.order_place(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id) == ("placement_unknown", "")
    assert "Status by key not read" in order.failure_reason or "no order id" in (
        order.failure_reason)


def test_auto_confirm_false_is_sent_when_the_operator_chose_it(mocked):
    order = make_order(provider_options={"autoConfirm": False})
    mocked.add(responses.POST, CREATE, json=_ok_json())
    services.order_place(order=order)
    sent = json.loads(mocked.calls[0].request.body)["order_list"][0]
    assert sent["autoConfirm"] == "false" and "carrierId" not in sent


def test_reply_models_never_invent_a_shortfall(mocked, operator):
    """The reply lists what remains in the reservation; a model locked 4 (a leftover of
    something else) or absent (0 remaining) is not "requested 10, got 4/0"."""
    order = make_order()
    mocked.add(responses.POST, CREATE, json=_ok_json(models=(("148148", 4, 0),)))
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placed"
    # 4 still reserved after taking 10: the order was served from the reservation in full
    assert [i.confirmed_quantity for i in order.items.all()] == [10, None]
    assert not order.has_open_shortfall
    assert not order.events.filter(message__contains="Shortfall").exists()
    assert "accept_shortfall" not in services.order_transitions_available(order=order,
                                                                          user=operator)


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
    _status(mocked, reference=order.reference)
    services.order_place(order=order, actor=operator)
    order.refresh_from_db()
    assert (order.state, order.failure_reason) == ("placed", "")
    sent = json.loads(_calls(mocked, "POST", CREATE)[-1].request.body)["order_list"][0]
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


def _xml_ops(mocked):
    from providers.brandsdistribution.mapping import parse_xml

    ops = []
    for call in _calls(mocked, "POST", RESERVE):
        for op in parse_xml(call.request.body, what="t").iter("operation"):
            ops.append({"type": op.get("type"), "models": [
                {"stock_id": int(m.get("stock_id")), "quantity": int(m.get("quantity"))}
                for m in op.iter("model")]})
    return ops


def _reserved(mocked, *models):
    """A reserve (lock/unlock) reply: the reservation after the operation (Rewix "Reserve")."""
    mocked.add(responses.POST, RESERVE, json={
        "models": [{"stock_id": int(s), "locked": q, "available": a} for s, q, a in models],
        "order_id": 0})


def test_reserve_first_locks_then_sends_and_confirms_what_left_the_reservation(mocked):
    order = make_order(reserve_first=True)
    # a leftover of an earlier aborted create (999) stays reserved throughout
    _reservation(mocked, [("999", 1, 0)])
    mocked.add(responses.POST, RESERVE, match=[matchers.header_matcher(JSON_HEADERS)], json={
        "models": [{"stock_id": 999, "locked": 1, "available": 0},
                   {"stock_id": 148148, "locked": 10, "available": 3},
                   {"stock_id": 148367, "locked": 15, "available": 0}], "order_id": 0})
    # the documented reply: the models *remaining* in the reservation, and order_id 0
    mocked.add(responses.POST, CREATE, json=_ok_json(order_id=0, models=(("999", 1, 0),)))
    _status(mocked, order_id=130, status=5)
    services.order_place(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id) == ("placed", "130")
    # the lock's reply is the read-back; the status by key only because the reply has id 0
    assert [(c.request.method, c.request.url) for c in mocked.calls] == [
        ("GET", LOCKED), ("POST", RESERVE), ("POST", CREATE), ("GET", status_url("2345"))]
    assert _ops(mocked) == [{"type": "lock", "models": [{"stock_id": 148148, "quantity": 10},
                                                        {"stock_id": 148367, "quantity": 15}]}]
    assert order.raw_data["placement"]["reserved"] == {"148148": 10, "148367": 15}
    assert order.raw_data["placement"]["taken_from_reservation"] == {"148148": 10, "148367": 15}
    assert [i.confirmed_quantity for i in order.items.all()] == [10, 15]
    assert not order.has_open_shortfall


def test_steady_state_is_three_calls_per_order_the_reservation_is_read_once_per_batch(mocked):
    """lock + create + status by key per order: the lock's reply lists the reservation, and
    the reservation the last reply left is the next order's baseline (read once a batch)."""
    first = make_order(reserve_first=True, items=(("148148", 2),))
    account = first.merchant.account
    second = make_order(reserve_first=True, items=(("148148", 3),), reference="2346")
    second.merchant.account = account
    second.merchant.save()
    _reservation(mocked, [])
    _reserved(mocked, ("148148", 2, 8))
    mocked.add(responses.POST, CREATE, json=_ok_json(order_id=4711, models=()))
    _status(mocked, reference="2345", order_id=4711)
    services.order_place(order=first)
    mocked.replace(responses.POST, RESERVE, json={"models": [
        {"stock_id": 148148, "locked": 3, "available": 5}], "order_id": 0})
    mocked.replace(responses.POST, CREATE, json=_ok_json(order_id=4712, models=()))
    _status(mocked, reference="2346", order_id=4712)
    calls_before = len(mocked.calls)
    services.order_place(order=second)
    assert [(c.request.method, c.request.url) for c in mocked.calls[calls_before:]] == [
        ("POST", RESERVE), ("POST", CREATE), ("GET", status_url("2346"))]
    assert len(mocked.calls) == 7  # one reservation read for the batch
    for order, qty in ((first, 2), (second, 3)):
        order.refresh_from_db()
        assert order.state == "placed" and order.items.get().confirmed_quantity == qty


def test_a_leftover_of_the_same_model_is_not_read_as_a_shortfall(mocked):
    """Old reading: 'locked 3' after the order = 'got 3 of 10'. What the order took is what
    left the reservation: 13 before sending, 3 remaining -> 10, in full."""
    order = make_order(reserve_first=True, items=(("148148", 10),))
    _reservation(mocked, [("148148", 3, 20)])
    _reserved(mocked, ("148148", 13, 10))
    mocked.add(responses.POST, CREATE, json=_ok_json(models=(("148148", 3, 10),)))
    _status(mocked)
    services.order_place(order=order)
    order.refresh_from_db()
    item = order.items.get()
    assert (order.state, item.confirmed_quantity, item.shortfall) == ("placed", 10, 0)
    assert not order.has_open_shortfall
    assert [op["type"] for op in _ops(mocked)] == ["lock"]  # the leftover is not ours


def test_an_emptied_reservation_is_not_requested_n_got_0(mocked):
    order = make_order(reserve_first=True, items=(("148148", 2),))
    _reservation(mocked, [])
    _reserved(mocked, ("148148", 2, 0))
    mocked.add(responses.POST, CREATE, json={"models": [], "order_id": 4711})
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.items.get().confirmed_quantity == 2
    assert not order.events.filter(message__contains="got 0").exists()


def test_what_the_order_did_not_take_is_unconfirmed_and_our_rest_is_released(mocked):
    """The order took 1 of the 2 we held (the rest may have come from free stock — the
    provider does not say): nothing is invented, and our 1 still reserved is unlocked."""
    order = make_order(reserve_first=True, items=(("148148", 2),))
    _reservation(mocked, [], [("148148", 2, 0)])
    mocked.add(responses.POST, RESERVE, json={})
    mocked.add(responses.POST, CREATE, json=_ok_json(models=(("148148", 1, 0),)))
    _status(mocked)
    services.order_place(order=order)
    order.refresh_from_db()
    item = order.items.get()
    assert (order.state, item.confirmed_quantity) == ("placed", None)
    assert not order.has_open_shortfall
    assert _ops(mocked)[-1] == {"type": "unlock", "models": [{"stock_id": 148148,
                                                              "quantity": 1}]}
    placed = order.events.get(message__startswith="Placed")
    assert "stock 148148: 1 of 2 seen leaving the reservation" in placed.message
    assert "Released the locked quantities" in placed.message


def test_reserve_first_in_xml_speaks_the_documented_xml_for_every_call(mocked):
    order = make_order(wire_format="xml", reserve_first=True, items=(("148148", 2),))
    empty = b'<?xml version="1.0"?><root order_id="0"></root>'
    held = b'<root order_id="0"><model stock_id="148148" locked="2" available="0"/></root>'
    mocked.add(responses.GET, LOCKED, body=empty, match=[matchers.header_matcher(
        {"Accept": "application/xml", "Authorization": AUTH_HEADER})])
    mocked.add(responses.POST, RESERVE, body=held, match=[matchers.header_matcher(XML_HEADERS)])
    # the order emptied the reservation: the reply lists no model
    mocked.add(responses.POST, CREATE, body=b'<root order_id="1000"></root>')
    _status(mocked, order_id=1000, status=2, xml=True)
    services.order_place(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id, order.raw_status) == ("in_progress", "1000", "2")
    assert [c.request.method for c in mocked.calls] == ["GET", "POST", "POST", "GET"]
    assert order.items.get().confirmed_quantity == 2
    # Rewix "Reserve" in XML: type and model values are attributes, no <operations>/<type>
    assert _calls(mocked, "POST", RESERVE)[0].request.body == (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><root>'
        b'<operation type="lock"><model stock_id="148148" quantity="2" /></operation></root>')


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

    order_shortfall_accept(order=order, actor=operator)
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


def test_accepting_when_nothing_was_held_cancels_the_order(mocked, operator):
    order = make_order(reserve_first=True, items=(("148148", 3),))
    _reservation(mocked, [], [], [])
    mocked.add(responses.POST, RESERVE, json={})
    services.order_place(order=order, actor=operator)
    order_shortfall_accept(order=order, actor=operator)
    order.refresh_from_db()
    assert order.state == "cancelled"
    assert "nothing available" in order.events.order_by("-id").first().message


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


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_timeout_on_create_releases_what_is_still_ours_and_stays_unknown(mocked, fmt):
    """The create timed out and was not acted on: our 2 are still reserved above the
    baseline (1 leftover of something else): released, the leftover kept; never re-sent."""
    order = make_order(wire_format=fmt, reserve_first=True, items=(("148148", 2),))
    before, ours = [("148148", 1, 5)], [("148148", 3, 3)]
    for models in (before, ours):  # baseline, then the read after the timeout
        mocked.add(responses.GET, LOCKED, body=_models_body(fmt, models))
    mocked.add(responses.POST, RESERVE, body=_models_body(fmt, ours))
    mocked.add(responses.POST, CREATE, body=requests.exceptions.ReadTimeout("slow"))
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown"
    assert "Released the locked quantities" in order.failure_reason
    ops = _ops(mocked) if fmt == "json" else _xml_ops(mocked)
    assert ops == [{"type": "lock", "models": [{"stock_id": 148148, "quantity": 2}]},
                   {"type": "unlock", "models": [{"stock_id": 148148, "quantity": 2}]}]
    assert len(_calls(mocked, "POST", CREATE)) == 1


def test_timeout_on_create_that_was_acted_on_releases_nothing(mocked):
    """The create timed out but the provider created the order: it took our 2 out of the
    reservation, so nothing stands above the baseline and nothing is unlocked."""
    order = make_order(reserve_first=True, items=(("148148", 2),))
    _reservation(mocked, [("148148", 1, 5)], [("148148", 1, 3)])
    _reserved(mocked, ("148148", 3, 3))
    mocked.add(responses.POST, CREATE, body=requests.exceptions.ReadTimeout("slow"))
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown"
    assert [op["type"] for op in _ops(mocked)] == ["lock"]


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


def _models_body(fmt, models):
    if fmt == "xml":
        return _xml_models(*models)
    return json.dumps({"models": [{"stock_id": int(s), "locked": q, "available": a}
                                  for s, q, a in models], "order_id": 0}).encode()


def _xml_models(*models):
    return ("<root order_id=\"0\">" + "".join(
        f'<model stock_id="{s}" locked="{q}" available="{a}"/>' for s, q, a in models)
        + "</root>").encode()


def test_xml_reservation_shortfall_is_found_before_sending_and_unlocked_in_xml(mocked):
    order = make_order(wire_format="xml", reserve_first=True)
    mocked.add(responses.GET, LOCKED, body=_xml_models(), content_type="application/xml")
    mocked.add(responses.POST, RESERVE, content_type="application/xml",
               body=_xml_models(("148148", 10, 0), ("148367", 4, 0)))
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed"
    assert "stock 148367: requested 15, locked 4" in order.failure_reason
    assert not _calls(mocked, "POST", CREATE)
    assert _xml_ops(mocked) == [
        {"type": "lock", "models": [{"stock_id": 148148, "quantity": 10},
                                    {"stock_id": 148367, "quantity": 15}]},
        {"type": "unlock", "models": [{"stock_id": 148148, "quantity": 10},
                                      {"stock_id": 148367, "quantity": 4}]}]
    assert order.items.get(sku="148367").confirmed_quantity == 4


def test_xml_create_refused_after_reservation_unlocks_in_xml(mocked):
    order = make_order(wire_format="xml", reserve_first=True, items=(("148148", 2),))
    for models in ([], [("148148", 2, 0)], [("148148", 2, 0)]):
        mocked.add(responses.GET, LOCKED, body=_xml_models(*models))
    mocked.add(responses.POST, RESERVE, body=b"")
    mocked.add(responses.POST, CREATE, status=429, body="Invalid country code")
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed" and "Invalid country code" in order.failure_reason
    assert [op["type"] for op in _xml_ops(mocked)] == ["lock", "unlock"]


def test_reply_with_order_id_0_and_no_order_by_key_is_unknown_then_settled_by_lookup(mocked):
    order = make_order(reference="2357", items=(("1578", 1),))
    mocked.add(responses.POST, CREATE, body=fixture("order_reply.json"))  # doc sample: id 0
    mocked.add(responses.GET, status_url("2357"), status=404, body="Order not found")
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "placement_unknown" and order.external_id == ""
    assert "no order id" in order.failure_reason and "status by key found no order" in (
        order.failure_reason)
    mocked.replace(responses.GET, status_url("2357"), body=fixture("status_by_key.json"))
    services.order_reconcile_from_provider(order=order)
    order.refresh_from_db()
    assert (order.state, order.external_id, order.raw_status) == ("placed", "130", "5")
    assert len(_calls(mocked, "POST", CREATE)) == 1  # never re-sent


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_aborted_create_that_added_to_the_reservation_leaves_nothing_of_ours(mocked, fmt):
    """Doc: an aborted create "may have added" quantities to the reservation. After the refusal
    the reservation is read and everything above the baseline on the order's models — our lock
    and what the abort added — is unlocked; the leftover that was there before stays."""
    order = make_order(wire_format=fmt, reserve_first=True, items=(("148148", 2),))
    mocked.add(responses.GET, LOCKED, body=_models_body(fmt, [("148148", 1, 9)]))  # baseline
    mocked.add(responses.POST, RESERVE, body=_models_body(fmt, [("148148", 3, 7)]))  # lock
    mocked.add(responses.POST, CREATE, status=429, body="stock_id 999 does not exist")
    mocked.add(responses.GET, LOCKED, body=_models_body(fmt, [("148148", 4, 6)]))  # abort +1
    services.order_place(order=order)
    order.refresh_from_db()
    assert order.state == "failed" and "stock_id 999 does not exist" in order.failure_reason
    ops = _ops(mocked) if fmt == "json" else _xml_ops(mocked)
    assert ops[-1] == {"type": "unlock", "models": [{"stock_id": 148148, "quantity": 3}]}
    assert "Released the locked quantities" in order.failure_reason
