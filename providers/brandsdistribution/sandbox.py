"""A fake Brandsdistribution "ghost" API under ``/sandbox/brandsdistribution/``.

Speaks JSON or XML (request ``Content-Type``, reply ``Accept``), checks HTTP Basic auth,
keeps a small stock table (so shortfalls and unknown stock ids can be shown), reservations,
orders and their status in the database. Errors the way the docs say: a refused body is
HTTP 429 with the message as plain text.

Orders advance over time (one step per ``STEP_SECONDS`` on every status read) or on demand
(``POST control/advance/<key>``) to *dispatched* with a tracking code. Magic words in the
order's ``notes`` trigger faults: ``sandbox:rate-limit`` (429 + Retry-After),
``sandbox:garbage`` (200 with an unreadable body).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from providers.docsamples import sample_json

from . import statuses
from .models import SandboxLock, SandboxOrder, SandboxStock

USERS = {"demo-bd-json": "demo-bd-password", "demo-bd-xml": "demo-bd-password"}
STOCK = [
    (148148, "Sneaker Ruby, size 42", 25),
    (148367, "Leather bag Onyx", 3),  # little stock: shortfalls
    (1578, "T-shirt Sand, M", 50),
    (1567, "Silk scarf Azure", 0),  # sold out
]
# The Carriers API sample ([{"cost":9.80,"name":"TNT","id":39}]) plus the carrier id 20 the
# doc's order samples use, in the sample's shape.
CARRIERS = [
    *sample_json("brandsdistribution", "carriers.json"),
    {**sample_json("brandsdistribution", "carriers.json")[0], "cost": 7.50, "name": "BRT",
     "id": 20},
]
# Reply shapes from the doc's samples: the create/reservation reply keys and one status entry.
MODELS_REPLY = sample_json("brandsdistribution", "order_reply.json")
STATUS_ENTRY = sample_json("brandsdistribution", "status_by_key.json")["orders"][0]
# PENDING flow after creation: autoConfirm -> to dispatch -> working on -> ready -> dispatched
FLOW = [int(statuses.TO_DISPATCH), int(statuses.WORKING_ON), int(statuses.READY),
        int(statuses.DISPATCHED)]
STEP_SECONDS = 60
DATE_RE = re.compile(
    r"^\d{4}/(0[1-9]|1[0-2])/(0[1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d [+-]\d{4}$"
)
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


class Refused(Exception):
    def __init__(self, message: str, status: int = 429, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message, self.status, self.headers = message, status, headers or {}


# --- plumbing --------------------------------------------------------------------------------
def _wants_xml(request: HttpRequest) -> bool:
    return "xml" in request.headers.get("Accept", "")


def _user(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user if USERS.get(user) == password else None


def _text(message: str, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def _reply(request: HttpRequest, data: Any, xml: ET.Element) -> HttpResponse:
    if _wants_xml(request):
        body = XML_HEAD + ET.tostring(xml, encoding="unicode")
        return HttpResponse(body, content_type="application/xml")
    return HttpResponse(json.dumps(data), content_type="application/json")


def _reserve_xml_to_data(root: ET.Element) -> dict[str, Any]:
    """Rewix "Reserve" in XML: ``<root><operation type="lock"><model stock_id="3"
    quantity="3"/></operation>…</root>`` (type and model values are attributes)."""
    return {"operations": [
        {"type": op.get("type", ""), "models": [dict(m.attrib) for m in op.findall("model")]}
        for op in root.findall("operation")
    ]}


def _xml_to_data(node: ET.Element) -> Any:
    children = list(node)
    if not children:
        return node.text or ""
    if node.tag.endswith("_list") or node.tag in ("operations", "models"):
        return [_xml_to_data(child) for child in children]
    return {child.tag: _xml_to_data(child) for child in children}


def _body(request: HttpRequest, *, reserve: bool = False) -> Any:
    content_type = request.headers.get("Content-Type", "")
    if "xml" in content_type:
        try:
            root = SafeET.fromstring(request.body, forbid_dtd=True)
        except (DefusedXmlException, ET.ParseError) as exc:
            raise Refused(f"Malformed XML request: {exc.__class__.__name__}") from exc
        return _reserve_xml_to_data(root) if reserve else _xml_to_data(root)
    if "json" in content_type:
        try:
            return json.loads(request.body or b"null")
        except ValueError as exc:
            raise Refused("Malformed JSON request") from exc
    raise Refused("Unsupported Content-Type: use application/json or application/xml", 415)


def _endpoint(method: str):  # type: ignore[no-untyped-def]
    def decorate(view):  # type: ignore[no-untyped-def]
        @csrf_exempt
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method != method:
                return _text("Method not allowed", 405)
            user = _user(request)
            if user is None:
                response = _text("Unauthorized", 401)
                response["WWW-Authenticate"] = 'Basic realm="ghost"'
                return response
            ensure_stock()
            try:
                with transaction.atomic():
                    return view(request, user, *args, **kwargs)
            except Refused as exc:
                return _text(exc.message, exc.status, exc.headers)

        return wrapper

    return decorate


def ensure_stock() -> None:
    if not SandboxStock.objects.exists():
        SandboxStock.objects.bulk_create(
            [SandboxStock(stock_id=s, name=n, available=a) for s, n, a in STOCK]
        )


def _int(value: Any, what: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise Refused(f"{what} must be a number (got {value!r})") from exc
    if number < 0:
        raise Refused(f"{what} must not be negative")
    return number


def _stock(stock_id: int) -> SandboxStock:
    stock = SandboxStock.objects.select_for_update().filter(stock_id=stock_id).first()
    if stock is None:
        raise Refused(f"Model with stock_id {stock_id} does not exist")
    return stock


def _lock_row(user: str, stock_id: int) -> SandboxLock:
    return SandboxLock.objects.select_for_update().get_or_create(api_key=user, stock_id=stock_id)[0]


def _models_xml(order_id: int, models: list[dict[str, int]]) -> ET.Element:
    root = ET.Element("root", order_id=str(order_id))
    for model in models:
        ET.SubElement(root, "model", {k: str(v) for k, v in model.items()})
    return root


def _reservation(user: str) -> list[dict[str, int]]:
    stock = dict(SandboxStock.objects.values_list("stock_id", "available"))
    model = MODELS_REPLY["models"][0]  # the documented keys: stock_id, locked, available
    return [
        {**model, "stock_id": lock.stock_id, "locked": lock.locked,
         "available": stock.get(lock.stock_id, 0)}
        for lock in SandboxLock.objects.filter(api_key=user, locked__gt=0)
    ]


def _models_reply(order_id: int, models: list[dict[str, int]]) -> dict[str, Any]:
    return {**MODELS_REPLY, "models": models, "order_id": order_id}


# --- endpoints -------------------------------------------------------------------------------
@_endpoint("POST")
def create_order(request: HttpRequest, user: str) -> HttpResponse:
    body = _body(request)
    orders = body.get("order_list") if isinstance(body, dict) else None
    if not isinstance(orders, list) or not orders:
        raise Refused("order_list is missing or empty")
    created: list[SandboxOrder] = []
    for doc in orders:
        created.append(_create_one(request, user, doc))
    if any("sandbox:garbage" in str(o.document.get("recipient_details", {}).get("notes") or "")
           for o in created):
        return HttpResponse('{"models": [', content_type="application/json")  # created, unreadable
    # As documented: the models *remaining in the reservation* (not what the order took),
    # ``order_id`` 0 in JSON (the doc's JSON sample) and the id in XML (its XML sample).
    remaining = _reservation(user)
    return _reply(request, _models_reply(0, remaining),
                  _models_xml(created[-1].order_id, remaining))


def _create_one(request: HttpRequest, user: str, doc: Any) -> SandboxOrder:
    if not isinstance(doc, dict):
        raise Refused("order must be an object")
    for name in ("key", "date", "recipient_details", "item_list"):
        if not doc.get(name):
            raise Refused(f"Missing field: {name}")
    if not DATE_RE.match(str(doc["date"])):
        raise Refused(f"Invalid date '{doc['date']}': expected yyyy/MM/dd HH:mm:ss Z")
    recipient = doc["recipient_details"]
    address = recipient.get("address") if isinstance(recipient, dict) else None
    if not isinstance(address, dict):
        raise Refused("Missing field: recipient_details.address")
    for name in ("street_name", "zip", "city", "countrycode"):
        if not str(address.get(name) or "").strip():
            raise Refused(f"Missing field: address.{name}")
    if not re.fullmatch(r"[A-Z]{2}", str(address["countrycode"])):
        raise Refused(f"Invalid countrycode '{address['countrycode']}'")
    notes = str(recipient.get("notes") or "")
    if "sandbox:rate-limit" in notes:
        raise Refused("Too many requests: rate limit exceeded, retry later",
                      headers={"Retry-After": "60"})
    carrier_id = str(doc.get("carrierId") or "").strip()
    carrier = next((c for c in CARRIERS if str(c["id"]) == carrier_id), None)
    if carrier_id and carrier is None:
        raise Refused(f"Carrier {carrier_id} is not valid for this order")
    items = doc["item_list"]
    if not isinstance(items, list):
        raise Refused("item_list must be a list")
    wanted: dict[int, int] = {}
    for item in items:
        if not isinstance(item, dict):
            raise Refused("item must be an object")
        sid = _int(item.get("stock_id"), "stock_id")
        wanted[sid] = wanted.get(sid, 0) + _int(item.get("quantity"), "quantity")
    rows = {sid: _stock(sid) for sid in wanted}  # unknown stock_id aborts the order
    taken: dict[str, int] = {}
    for sid, qty in wanted.items():
        stock, lock = rows[sid], _lock_row(user, sid)
        # pushed items are removed from the reservation first; beyond it only what is
        # available is taken, silently (as documented)
        from_lock = min(qty, lock.locked)
        from_stock = min(qty - from_lock, stock.available)
        lock.locked -= from_lock
        stock.available -= from_stock
        lock.save()
        stock.save()
        taken[str(sid)] = from_lock + from_stock
    confirm = str(doc.get("autoConfirm", "true")).lower() != "false"
    order = SandboxOrder.objects.create(
        api_key=user, ext_ref=str(doc["key"]),
        status=FLOW[0] if confirm else int(statuses.BOOKED),
        carrier_id=carrier_id, carrier_name=str((carrier or CARRIERS[1])["name"]),
        wire_format="xml" if "xml" in request.headers.get("Content-Type", "") else "json",
        document=doc, models_taken=taken,
    )
    return order


@_endpoint("POST")
def reserve(request: HttpRequest, user: str) -> HttpResponse:
    body = _body(request, reserve=True)
    ops = body.get("operations") if isinstance(body, dict) else None
    if not isinstance(ops, list) or not ops:
        raise Refused("operations is missing or empty")
    for op in ops:
        kind = str(op.get("type", "")) if isinstance(op, dict) else ""
        if kind not in ("lock", "unlock", "set"):
            raise Refused(f"Unknown operation type '{kind}'")
        models = op.get("models")
        if not isinstance(models, list):
            raise Refused("operation.models must be a list")
        for model in models:
            if not isinstance(model, dict):
                raise Refused("model must be an object")
            sid = _int(model.get("stock_id"), "stock_id")
            qty = _int(model.get("quantity"), "quantity")
            stock, lock = _stock(sid), _lock_row(user, sid)
            if kind == "set":
                qty, kind_ = qty - lock.locked, ("lock" if qty >= lock.locked else "unlock")
                qty = abs(qty)
            else:
                kind_ = kind
            if kind_ == "lock":
                moved = min(qty, stock.available)  # only what is available is locked
                stock.available -= moved
                lock.locked += moved
            else:
                moved = min(qty, lock.locked)
                stock.available += moved
                lock.locked -= moved
            stock.save()
            lock.save()
    models_now = _reservation(user)
    return _reply(request, _models_reply(0, models_now), _models_xml(0, models_now))


@_endpoint("GET")
def reservation(request: HttpRequest, user: str) -> HttpResponse:
    models_now = _reservation(user)
    return _reply(request, _models_reply(0, models_now), _models_xml(0, models_now))


def _advance(order: SandboxOrder, *, steps: int | None = None) -> None:
    if order.status not in FLOW:
        return
    if steps is None:
        elapsed = (timezone.now() - order.created_at).total_seconds()
        target = min(len(FLOW) - 1, int(elapsed // STEP_SECONDS))
    else:
        target = min(len(FLOW) - 1, FLOW.index(order.status) + steps)
    if target <= FLOW.index(order.status):
        return
    order.status = FLOW[target]
    if order.status == int(statuses.DISPATCHED) and not order.tracking_code:
        order.tracking_code = f"{order.carrier_name[:3].upper() or 'TRK'}{order.order_id:08d}"
        order.tracking_url = f"https://tracking.example.test/{order.tracking_code}"
    order.last_update = timezone.now()
    order.save()


def _status_entry(order: SandboxOrder) -> dict[str, Any]:
    dispatched = order.status == int(statuses.DISPATCHED)
    return {
        **STATUS_ENTRY,  # the documented keys, values ours
        "order_id": order.order_id, "ext_ref": order.ext_ref, "status": order.status,
        "tracking_code": order.tracking_code or None, "tracking_url": order.tracking_url or None,
        "carrier_name": order.carrier_name if dispatched else None,
        "last_update": order.last_update.strftime("%Y/%m/%d %H:%M:%S +0000"),
    }


def _status_reply(request: HttpRequest, found: list[SandboxOrder], what: str) -> HttpResponse:
    if not found:
        raise Refused(f"No order found for {what}", 404)
    entries = []
    for order in found:
        _advance(order)
        entries.append(_status_entry(order))
    root = ET.Element("root")  # Rewix "Order status by key" in XML
    container = ET.SubElement(root, "order_list")
    for entry in entries:
        node = ET.SubElement(container, "order")
        for key, value in entry.items():
            ET.SubElement(node, key).text = None if value is None else str(value)
    return _reply(request, {"orders": entries}, root)


@_endpoint("GET")
def status_by_key(request: HttpRequest, user: str, key: str) -> HttpResponse:
    found = list(SandboxOrder.objects.select_for_update().filter(api_key=user, ext_ref=key))
    return _status_reply(request, found, f"key {key}")


@_endpoint("GET")
def status_by_id(request: HttpRequest, user: str, order_id: int) -> HttpResponse:
    found = list(SandboxOrder.objects.select_for_update().filter(api_key=user, pk=order_id - 1000))
    return _status_reply(request, found, f"order {order_id}")


@_endpoint("GET")
def carriers(request: HttpRequest, user: str) -> HttpResponse:
    root = ET.Element("root")
    for carrier in CARRIERS:
        node = ET.SubElement(root, "carrier")
        for key, value in carrier.items():
            ET.SubElement(node, key).text = str(value)
    return _reply(request, CARRIERS, root)


@_endpoint("POST")
def control_advance(request: HttpRequest, user: str, key: str) -> HttpResponse:
    """Demo control: move the order(s) with this key one step on (``?to=dispatched``: all)."""
    found = list(SandboxOrder.objects.select_for_update().filter(api_key=user, ext_ref=key))
    if not found:
        raise Refused(f"No order found for key {key}", 404)
    steps = len(FLOW) if request.GET.get("to") == "dispatched" else 1
    for order in found:
        if order.status == int(statuses.BOOKED):
            order.status = FLOW[0]
            order.save()
            steps -= 1
        if steps > 0:
            _advance(order, steps=steps)
    return _reply(request, {"orders": [_status_entry(o) for o in found]}, ET.Element("root"))


urlpatterns = [
    path("restful/ghost/orders/0/dropshipping", create_order, name="bd-create"),
    path("restful/ghost/orders/sold/", reserve, name="bd-reserve"),
    path("restful/ghost/orders/dropshipping/locked/", reservation, name="bd-locked"),
    path("restful/ghost/clientorders/clientkey/<str:key>", status_by_key, name="bd-status-key"),
    path("restful/ghost/clientorders/serverkey/<int:order_id>", status_by_id, name="bd-status-id"),
    path("restful/export/carriers", carriers, name="bd-carriers"),
    path("control/advance/<str:key>", control_advance, name="bd-control-advance"),
]
