"""Contract tests on the documents' own samples (``providers/<key>/fixtures/``).

1. Each mapping reads the doc's sample replies the way the doc describes them.
2. Each sandbox answers in the doc's shapes: the same keys, nesting and value types as the
   sample it is built on (so the sandbox cannot drift into our own reading).
"""

from __future__ import annotations

import base64
import json
import random
from decimal import Decimal
from typing import Any

import pytest

from providers.aliseeks import mapping as ali
from providers.brandsdistribution import mapping as bd
from providers.docsamples import sample_bytes, sample_json
from providers.tipser import mapping as tip

pytestmark = pytest.mark.django_db


def shape(value: Any) -> Any:
    """Keys, nesting and value types (lists: the shape of their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if value is None:
        return None
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) \
        else type(value).__name__


def same_keys(ours: Any, doc: Any) -> None:
    """Every key of the doc's sample is in our reply, with the same kind of value."""
    if isinstance(doc, dict):
        assert isinstance(ours, dict), (ours, doc)
        assert set(doc) <= set(ours), f"missing {set(doc) - set(ours)}"
        for key, value in doc.items():
            if value is not None and ours[key] is not None:
                same_keys(ours[key], value)
    elif isinstance(doc, list):
        assert isinstance(ours, list), (ours, doc)
        if doc and ours:
            same_keys(ours[0], doc[0])
    elif doc is not None and ours is not None:
        assert shape(ours) == shape(doc), (ours, doc)


# --- 1. mappings fed the doc samples ----------------------------------------------------------
def test_aliseeks_doc_replies_read_as_documented():
    assert ali.order_ids_from_create(sample_json("aliseeks", "create_order_reply.json")) == [
        "101274465122817"]  # a number in the reply, kept as a string
    body = sample_json("aliseeks", "get_order_reply.json")
    snap = ali.snapshot_from({"828752957xxx": body})
    assert (snap.raw_status, snap.state) == ("order_completed/shipped", "completed")
    assert snap.currency == "" and snap.total is None  # never the order's own money
    assert snap.raw["supplier_cost"] == {"total": "71.78", "currency": "USD", "orders": {
        "828752957xxx": {"value": "71.78", "currency": "USD"}}}
    assert [s.tracking_number for s in snap.shipments] == ["DH002886407AE", "LP00068298585456"]


def test_brandsdistribution_doc_replies_read_as_documented():
    reply = bd.parse_models_reply(sample_bytes("brandsdistribution", "order_reply.json"), "json",
                                  what="t")
    assert reply["order_id"] is None  # the sample's 0: no id
    xml = bd.parse_models_reply(sample_bytes("brandsdistribution", "order_reply.xml"), "xml",
                                what="t")
    assert xml["order_id"] == 1000
    # "models remaining in your reservation": read as what remains, never as what was taken
    taken = bd.taken_from_reservation({"1578": {"locked": 2, "available": 0}},
                                      reply["models"], {"1578": 1})
    assert taken == {"1578": 1}
    [status] = bd.parse_status_reply(sample_bytes("brandsdistribution", "status_by_key.json"),
                                     "json", what="t")
    assert (status["order_id"], status["ext_ref"], status["status"]) == ("130", "2357", "5")


def test_tipser_doc_replies_read_as_documented():
    snap = tip.parse_order(sample_json("tipser", "order_detail.json"))
    [item] = snap.items
    assert (item.raw_status, item.next_statuses) == ("2", ["4"])
    assert item.total_price == Decimal("39.9")
    snaps, total = tip.parse_order_page(sample_json("tipser", "order_list.json"))
    assert [s.external_id for s in snaps] == ["5be5e8c4ac564b000165003f"] and total == 1
    new = tip.parse_order(sample_json("tipser", "order_new_next_statuses.json"))
    assert new.items[0].next_statuses == ["1", "2", "3", "6"]


# --- 2. sandboxes answer in the doc shapes ---------------------------------------------------
def test_aliseeks_sandbox_replies_have_the_doc_shapes(client):
    from providers.aliseeks.models import SandboxMerchant

    SandboxMerchant.objects.create(merchant_id="YOUR_MERCANT_ID", authorized=True)
    headers = {"X-Api-Client-Id": "k"}
    created = client.post("/sandbox/aliseeks/v1/orders",
                          data=json.dumps(sample_json("aliseeks", "create_order_request.json")),
                          content_type="application/json", headers=headers).json()
    same_keys(created, sample_json("aliseeks", "create_order_reply.json"))
    order_id = created["orderIds"][0]
    from providers.aliseeks.models import SandboxOrder
    from providers.aliseeks.sandbox import order_reply

    reply = order_reply(SandboxOrder.objects.get(order_id=str(order_id)))
    reply["shipping"] = reply["shipping"] or sample_json("aliseeks",
                                                         "get_order_reply.json")["shipping"]
    same_keys(reply, sample_json("aliseeks", "get_order_reply.json"))


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_brandsdistribution_sandbox_replies_have_the_doc_shapes(client, fmt):
    auth = "Basic " + base64.b64encode(b"demo-bd-json:demo-bd-password").decode()
    ctype = bd.CONTENT_TYPES[fmt]
    name = "order_request.json" if fmt == "json" else "order_request.xml"
    reply = client.post("/sandbox/brandsdistribution/restful/ghost/orders/0/dropshipping",
                        data=sample_bytes("brandsdistribution", name), content_type=ctype,
                        HTTP_ACCEPT=ctype, HTTP_AUTHORIZATION=auth)
    assert reply.status_code == 200, reply.content
    if fmt == "json":
        same_keys(reply.json(), sample_json("brandsdistribution", "order_reply.json"))
        key = "2357"
    else:
        assert reply.content.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                                        b"<root order_id=")
        key = "2345"
    status = client.get(f"/sandbox/brandsdistribution/restful/ghost/clientorders/clientkey/{key}",
                        HTTP_ACCEPT="application/json", HTTP_AUTHORIZATION=auth).json()
    same_keys(status, sample_json("brandsdistribution", "status_by_key.json"))
    carriers = client.get("/sandbox/brandsdistribution/restful/export/carriers",
                          HTTP_ACCEPT="application/json", HTTP_AUTHORIZATION=auth).json()
    assert carriers[0] == sample_json("brandsdistribution", "carriers.json")[0]
    same_keys(carriers, sample_json("brandsdistribution", "carriers.json"))


def test_tipser_sandbox_orders_have_the_doc_shape(client):
    from providers.tipser.models import SandboxMerchant
    from providers.tipser.sandbox import orders_generate, render_order

    merchant = SandboxMerchant.objects.create(api_key="k", name="shop")
    [order] = orders_generate(merchant=merchant, count=1, rng=random.Random(3), items=1)
    doc = sample_json("tipser", "order_detail.json")
    doc["activityLogs"] = doc["activityLogs"][-1:]  # a new order has the "Placed" log only
    same_keys(render_order(order), doc)
