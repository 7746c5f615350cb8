from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from orders.provider_requests import order_request
from providers.brandsdistribution import mapping
from providers.errors import ProviderBadReply

from .helpers import fixture, make_order

pytestmark = pytest.mark.django_db

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<root order_id="1">&lol3;</root>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE root [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><root order_id="1">&xxe;</root>"""


def _doc_sample_xml_without_empty_optionals() -> bytes:
    text = fixture("order_request.xml").decode()
    text = text.replace("<careof />\n", "").replace("<notes></notes>\n", "")
    return re.sub(r">\s*\n<", "><", text.strip()).replace('?><root', '?><root').encode()


def test_xml_order_body_matches_the_documented_sample_byte_for_byte():
    order = make_order(wire_format="xml")
    body = mapping.order_body(mapping.order_document(order_request(order), list(order_request(order).items)), "xml")
    # The sample's empty <careof/> and <notes> are optional and left out when empty.
    assert body == _doc_sample_xml_without_empty_optionals()
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><root>')


def test_json_order_body_matches_the_documented_sample():
    order = make_order(
        reference="2357", ordered_at=dt.datetime(2021, 2, 2, 23, 59, 59, tzinfo=dt.UTC),
        items=(("1578", 1),),
    )
    body = mapping.order_body(mapping.order_document(order_request(order), list(order_request(order).items)), "json")
    expected = json.loads(fixture("order_request.json"))
    assert json.loads(body) == expected
    sent = json.loads(body)["order_list"][0]
    assert list(sent) == list(expected["order_list"][0])  # same element order
    assert b'"date": "2021/02/02 23:59:59 +0000"' in body


def test_json_and_xml_carry_the_same_document():
    order = make_order(provider_options={"careof": "c/o Bob", "notes": "ring twice",
                                         "autoConfirm": False})
    doc = mapping.order_document(order_request(order), list(order_request(order).items))
    xml = mapping.parse_xml(mapping.order_body(doc, "xml"), what="t")
    entry = xml.find("order_list/order")
    assert entry is not None
    assert [child.tag for child in entry] == list(doc)
    assert entry.findtext("recipient_details/careof") == "c/o Bob"
    assert entry.findtext("autoConfirm") == "false"
    assert json.loads(mapping.order_body(doc, "json"))["order_list"][0] == doc


def test_date_is_sent_in_utc_with_a_numeric_zone():
    cet = dt.timezone(dt.timedelta(hours=1))
    assert mapping.format_date(dt.datetime(2017, 2, 1, 0, 59, 59, tzinfo=cet)) == \
        "2017/01/31 23:59:59 +0000"


@pytest.mark.parametrize(("line", "expected"), [
    ("Via Roma 1", ("Via Roma", "1")),
    ("10 Downing Street", ("Downing Street", "10")),
    ("Hauptstraße 5a", ("Hauptstraße", "5a")),
    ("Rue sans numéro", ("Rue sans numéro", "")),
])
def test_street_and_house_number_are_split(line, expected):
    assert mapping.split_street(line) == expected


def test_documented_xml_reply_is_read():
    reply = mapping.parse_models_reply(fixture("order_reply.xml"), "xml", what="t")
    assert reply["order_id"] == 1000
    assert reply["models"] == {"148148": {"locked": 10, "available": 5}}


def test_documented_json_reply_is_read():
    reply = mapping.parse_models_reply(fixture("order_reply.json"), "json", what="t")
    assert reply["order_id"] is None  # the sample's 0 is "no id", never stored as one
    assert reply["models"]["1578"] == {"locked": 1, "available": 0}


@pytest.mark.parametrize("body", [BOMB, EXTERNAL])
def test_xml_with_entities_is_refused_without_expansion(body):
    with pytest.raises(ProviderBadReply) as err:
        mapping.parse_models_reply(body, "xml", what="place_order")
    assert err.value.code == "xml_forbidden"
    assert "XML bomb" in str(err.value)


@pytest.mark.parametrize(("body", "fmt"), [
    (b"<root order_id='1'><model", "xml"), (b"{\"models\": [", "json"), (b"", "json"),
    (b"[1, 2]", "json"), (b'{"models": "x", "order_id": 1}', "json"),
    (b'{"models": [{"stock_id": "abc"}], "order_id": 1}', "json"),
    (b"<other/>", "xml"),
])
def test_malformed_replies_are_bad_replies(body, fmt):
    with pytest.raises(ProviderBadReply):
        mapping.parse_models_reply(body, fmt, what="place_order")


def test_what_an_order_took_is_what_left_the_reservation():
    order = make_order(items=(("148148", 10), ("148367", 15)))
    items = list(order_request(order).items)
    before = {"148148": {"locked": 13, "available": 0}, "148367": {"locked": 15, "available": 0}}
    # the documented reply: what *remains* (148148: a leftover of 3; 148367: unlisted = 0)
    remaining = mapping.parse_models_reply(
        b'{"models":[{"stock_id":148148,"locked":3,"available":0}],"order_id":0}', "json",
        what="t")["models"]
    taken = mapping.taken_from_reservation(before, remaining, {"148148": 10, "148367": 15})
    assert taken == {"148148": 10, "148367": 15}
    assert mapping.confirmed_quantities(items, taken) == {items[0].pk: 10, items[1].pk: 15}
    # a take that cannot be proven in full is left unconfirmed, never a shortfall
    assert mapping.confirmed_quantities(items, {"148148": 7, "148367": 15}) == {items[1].pk: 15}


def test_the_doc_reply_samples_fed_to_the_arithmetic_show_no_shortfall():
    """The doc's XML sample after an order that took 10 of 20 reserved: 10 remain."""
    order = make_order(items=(("148148", 10),))
    items = list(order_request(order).items)
    remaining = mapping.parse_models_reply(fixture("order_reply.xml"), "xml", what="t")["models"]
    taken = mapping.taken_from_reservation({"148148": {"locked": 20, "available": 5}},
                                           remaining, {"148148": 10})
    assert mapping.confirmed_quantities(items, taken) == {items[0].pk: 10}


def test_reserve_body_in_both_documented_encodings():
    doc = mapping.reserve_document("lock", {"3": 3})
    assert json.loads(mapping.reserve_body(doc, "json")) == {
        "operations": [{"type": "lock", "models": [{"stock_id": 3, "quantity": 3}]}]}
    assert mapping.reserve_body(doc, "xml").endswith(
        b'<root><operation type="lock"><model stock_id="3" quantity="3" /></operation></root>')


def test_documented_xml_status_by_key_is_read():
    body = (b"<root><order_list><order><ext_ref>56</ext_ref><last_update>2018/05/25 12:20:37"
            b" +0200</last_update><order_id>123456</order_id><parsedDate>2018/05/25 12:20:37"
            b" +0200</parsedDate><status>3002</status><tracking_url>https://t.example/x"
            b"</tracking_url></order></order_list></root>")
    [entry] = mapping.parse_status_reply(body, "xml", what="t")
    assert (entry["order_id"], entry["ext_ref"], entry["status"]) == ("123456", "56", "3002")


@pytest.mark.parametrize(("body", "ctype", "expected"), [
    (b'{"message": "stock_id 999 not found"}', "application/json", "stock_id 999 not found"),
    (b"<error><message>bad zip</message></error>", "application/xml", "bad zip"),
    (b"Order rejected: credit too low", "text/plain", "Order rejected: credit too low"),
    (BOMB, "application/xml", "unreadable XML error reply"),
])
def test_error_text_reads_each_body_kind(body, ctype, expected):
    assert mapping.error_text(body, ctype) == expected


def test_status_and_carrier_replies_are_read():
    orders = mapping.parse_status_reply(fixture("status_by_key.json"), "json", what="t")
    assert orders[0]["order_id"] == "130" and orders[0]["status"] == "5"
    carriers = mapping.parse_carriers(fixture("carriers.json"), "json", what="t")
    assert carriers == [{"id": "39", "name": "TNT", "cost": "9.8"}]
