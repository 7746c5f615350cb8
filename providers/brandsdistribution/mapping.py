"""Brandsdistribution wire <-> domain: the order document (JSON and XML), replies, errors.

One document is built as plain data (``order_document``) and serialised to either encoding,
so JSON and XML carry the same fields in the same order. Replies are untrusted: XML is parsed
with defusedxml (no DTDs, no entity expansion, so an "XML bomb" is refused), and every shape
surprise becomes ``ProviderBadReply`` with a readable message.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from providers.errors import ProviderBadReply

if TYPE_CHECKING:
    from providers.types import ItemRequest, OrderRequest

JSON = "json"
XML = "xml"
CONTENT_TYPES = {JSON: "application/json", XML: "application/xml"}
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
DATE_FORMAT = "%Y/%m/%d %H:%M:%S %z"  # "2017/01/31 23:59:59 +0000"

# Per-order choices kept in Order.provider_options (all optional).
RECIPIENT_OPTIONS = ("careof", "cfpiva", "customer_key", "notes")
ADDRESS_OPTIONS = ("street_type", "street_name", "address_number")
ORDER_OPTIONS = ("autoConfirm", "carrierId", *RECIPIENT_OPTIONS, *ADDRESS_OPTIONS)

_LEADING_NUMBER = re.compile(r"^\s*(\d+[A-Za-z]?(?:[/-]\d+[A-Za-z]?)?)[\s,]+(.+)$")
_TRAILING_NUMBER = re.compile(r"^(.+?)[\s,]+(\d+[A-Za-z]?(?:[/-]\d+[A-Za-z]?)?)\s*$")


# --- request ---------------------------------------------------------------------------------
def format_date(value: dt.datetime) -> str:
    """``yyyy/MM/dd HH:mm:ss Z`` with a numeric zone; we always send UTC (``+0000``)."""
    return value.astimezone(dt.UTC).strftime(DATE_FORMAT)


def split_street(line: str) -> tuple[str, str]:
    """'10 Downing Street' / 'Via Roma 1' -> (street name, house number); no number: ''."""
    line = " ".join(line.split())
    match = _TRAILING_NUMBER.match(line)
    if match:
        return match.group(1).rstrip(","), match.group(2)
    match = _LEADING_NUMBER.match(line)
    if match:
        return match.group(2), match.group(1)
    return line, ""


def auto_confirm(options: Mapping[str, Any]) -> bool:
    value = options.get("autoConfirm", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off")
    return bool(value)


def stock_id(item: ItemRequest) -> str:
    """The provider's model id (size/colour variation) is kept in the item's SKU."""
    return (item.sku or "").strip()


def order_document(order: OrderRequest, items: list[ItemRequest]) -> dict[str, Any]:
    """The order as the provider documents it; every value a string (as in the docs)."""
    opts = order.provider_options or {}
    street_name, number = split_street(order.address_line1)
    if order.address_line2.strip():
        street_name = f"{street_name}, {order.address_line2.strip()}"
    doc: dict[str, Any] = {
        "key": order.reference,
        "date": format_date(order.ordered_at or order.created_at or dt.datetime.now(dt.UTC)),
    }
    if str(opts.get("carrierId", "") or "").strip():
        doc["carrierId"] = str(opts["carrierId"]).strip()
    recipient: dict[str, Any] = {"recipient": order.contact_name}
    for name in RECIPIENT_OPTIONS:  # optional: sent only when given (as in the JSON sample)
        if str(opts.get(name, "") or "").strip():
            recipient[name] = str(opts[name]).strip()
    address: dict[str, str] = {}
    if str(opts.get("street_type", "") or "").strip():
        address["street_type"] = str(opts["street_type"]).strip()
    address["street_name"] = str(opts.get("street_name") or street_name).strip()
    address["address_number"] = str(opts.get("address_number") or number).strip()
    address.update(
        zip=order.postal_code,
        city=order.city,
        province=order.region,
        countrycode=order.country.upper(),
    )
    recipient["address"] = address
    recipient["phone"] = {"prefix": order.phone_prefix, "number": order.phone_number}
    doc["recipient_details"] = recipient
    doc["item_list"] = [{"stock_id": stock_id(i), "quantity": str(i.quantity)} for i in items]
    doc["autoConfirm"] = "true" if auto_confirm(opts) else "false"
    return doc


def reserve_document(operation: str, quantities: Mapping[str, int]) -> dict[str, Any]:
    return {
        "operations": [
            {
                "type": operation,
                "models": [{"stock_id": int(s), "quantity": int(q)} for s, q in quantities.items()],
            }
        ]
    }


def _xml_append(parent: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, dict):
        node = ET.SubElement(parent, name)
        for key, sub in value.items():
            _xml_append(node, key, sub)
    else:
        ET.SubElement(parent, name).text = None if value in (None, "") else str(value)


def to_xml(doc: Mapping[str, Any], *, list_name: str, entry_name: str) -> bytes:
    """``<root><order_list><order>…`` (lists become ``<x_list><x>`` as in the docs)."""
    root = ET.Element("root")
    container = ET.SubElement(root, list_name)
    entry = ET.SubElement(container, entry_name)
    for key, value in doc.items():
        if isinstance(value, list) and key.endswith("_list"):
            node = ET.SubElement(entry, key)
            for element in value:
                _xml_append(node, key[: -len("_list")], element)
        else:
            _xml_append(entry, key, value)
    return (XML_DECLARATION + ET.tostring(root, encoding="unicode")).encode("utf-8")


def order_body(doc: Mapping[str, Any], wire_format: str) -> bytes:
    if wire_format == XML:
        return to_xml(doc, list_name="order_list", entry_name="order")
    return json.dumps({"order_list": [doc]}, ensure_ascii=False).encode("utf-8")


def reserve_body(doc: Mapping[str, Any], wire_format: str) -> bytes:
    """JSON: ``{"operations":[{"type":"lock","models":[{"stock_id":3,"quantity":3}]}]}``.

    XML has its own documented shape (Rewix "Reserve"): the type and the model values are
    attributes, operations sit directly under the root —
    ``<root><operation type="lock"><model stock_id="3" quantity="3"/></operation></root>``.
    """
    if wire_format == XML:
        root = ET.Element("root")
        for op in doc["operations"]:
            node = ET.SubElement(root, "operation", type=str(op["type"]))
            for model in op["models"]:
                ET.SubElement(node, "model", stock_id=str(model["stock_id"]),
                              quantity=str(model["quantity"]))
        return (XML_DECLARATION + ET.tostring(root, encoding="unicode")).encode("utf-8")
    return json.dumps(doc).encode("utf-8")


# --- replies ---------------------------------------------------------------------------------
def parse_xml(content: bytes, *, what: str) -> ET.Element:
    try:
        return SafeET.fromstring(content, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException as exc:
        raise ProviderBadReply(
            f"{what}: reply refused: XML with a DTD or entity declarations "
            f"({exc.__class__.__name__}); such replies are never expanded (XML bomb protection)",
            code="xml_forbidden",
        ) from exc
    except ET.ParseError as exc:
        raise ProviderBadReply(f"{what}: the reply is not well-formed XML ({exc})",
                               code="bad_xml") from exc


def parse_json(content: bytes, *, what: str) -> Any:
    try:
        return json.loads(content.decode("utf-8-sig") if content else "")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProviderBadReply(f"{what}: the reply is not valid JSON ({exc.__class__.__name__})",
                               code="bad_json") from exc


def _int(value: Any, *, what: str, field: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise ProviderBadReply(f"{what}: '{field}' is not a whole number ({value!r})") from exc
    if number < 0:
        raise ProviderBadReply(f"{what}: '{field}' is negative ({number})")
    return number


def _models(raw: Any, *, what: str) -> dict[str, dict[str, int]]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ProviderBadReply(f"{what}: 'models' is not a list")
    models: dict[str, dict[str, int]] = {}
    for entry in raw:
        if not isinstance(entry, dict) or "stock_id" not in entry:
            raise ProviderBadReply(f"{what}: a model without stock_id")
        sid = str(_int(entry["stock_id"], what=what, field="stock_id"))
        models[sid] = {
            "locked": _int(entry.get("locked", 0), what=what, field="locked"),
            "available": _int(entry.get("available", 0), what=what, field="available"),
        }
    return models


def parse_models_reply(content: bytes, wire_format: str, *, what: str) -> dict[str, Any]:
    """Order-create and reservation-status replies: ``{"order_id": int|None, "models": {...}}``.

    JSON: ``{"models":[{"stock_id":1578,"locked":1,"available":0}],"order_id":0}``;
    XML: ``<root order_id="1000"><model stock_id="148148" locked="10" available="5"/></root>``.
    """
    if wire_format == XML:
        root = parse_xml(content, what=what)
        if root.tag != "root":
            raise ProviderBadReply(f"{what}: unexpected XML root <{root.tag}>")
        raw_models: Any = [dict(m.attrib) for m in root.iter("model")]
        order_id = root.attrib.get("order_id")
        raw: dict[str, Any] = {"order_id": order_id, "models": raw_models}
    else:
        raw = parse_json(content, what=what)
        if not isinstance(raw, dict):
            raise ProviderBadReply(f"{what}: the reply is not a JSON object")
        raw_models = raw.get("models")
        order_id = raw.get("order_id")
    oid = None if order_id in (None, "") else _int(order_id, what=what, field="order_id")
    # The doc's JSON sample answers ``"order_id": 0``: a 0 is "no id", never stored as one
    # (the status by key is the authority for the provider's order id).
    return {"order_id": oid or None, "models": _models(raw_models, what=what), "raw": raw}


def parse_reserve_reply(content: bytes, wire_format: str, *,
                        what: str) -> dict[str, dict[str, int]] | None:
    """The reserve reply's reservation (same shape as the reservation status), or None when
    the reply lists nothing at all (an empty body; JSON without ``models``; XML whose root is
    not ``<root>``) — the caller then reads the reservation instead."""
    if not content.strip():
        return None
    if wire_format == XML:
        root = parse_xml(content, what=what)
        if root.tag != "root":
            return None
    else:
        body = parse_json(content, what=what)
        if not isinstance(body, dict) or "models" not in body:
            return None
    models: dict[str, dict[str, int]] = parse_models_reply(content, wire_format,
                                                           what=what)["models"]
    return models


def locked(models: Mapping[str, Mapping[str, int]], sid: str) -> int:
    return int(models.get(sid, {}).get("locked", 0))


def taken_from_reservation(
    before: Mapping[str, Mapping[str, int]], remaining: Mapping[str, Mapping[str, int]],
    wanted: Mapping[str, int],
) -> dict[str, int]:
    """Stock id -> quantity an order took out of the reservation.

    The create reply lists "the models **remaining** in your reservation" (an unlisted model
    has nothing left reserved), and an order takes its quantities from the reservation first.
    So what the order took is what was reserved right before sending minus what remains,
    capped at what it asked for — never the ``locked`` figure itself (that may be a leftover
    of an earlier aborted create, and is 0 when the order emptied the reservation).
    """
    return {sid: max(0, min(qty, locked(before, sid) - locked(remaining, sid)))
            for sid, qty in wanted.items()}


def confirmed_quantities(items: list[ItemRequest], taken: Mapping[str, int]) -> dict[int, int]:
    """Item pk -> confirmed quantity, for the stock ids whose whole quantity is proven taken.

    Only a full quantity is ever confirmed from the reservation arithmetic; a stock id whose
    take cannot be proven in full is left unconfirmed (``None``), never shown short: the
    documents give no figure that would prove a shortfall after sending.
    """
    wanted: dict[str, int] = {}
    for item in items:
        wanted[stock_id(item)] = wanted.get(stock_id(item), 0) + item.quantity
    return {item.pk: item.quantity for item in items
            if taken.get(stock_id(item), 0) >= wanted[stock_id(item)]}


def confirmed_from_remaining(
    items: list[ItemRequest], remaining: Mapping[str, Mapping[str, int]]
) -> dict[int, int]:
    """Item pk -> confirmed quantity for an order sent without a reservation of its own.

    The create takes the order's quantities out of the reservation first and beyond it only
    what is available ("only the available quantity will be added and no error or message
    will be returned"). So a model the reply still lists — something of it left reserved
    (``locked`` > 0) or still available (``available`` > 0) — was not cut: its quantity is
    confirmed in full. A model the reply does not list proves nothing (unconfirmed, never
    a shortfall)."""
    proven = {sid for sid, m in remaining.items()
              if int(m.get("locked", 0)) > 0 or int(m.get("available", 0)) > 0}
    return {item.pk: item.quantity for item in items if stock_id(item) in proven}


def held_quantities(items: list[ItemRequest], held: Mapping[str, int]) -> dict[int, int]:
    """Item pk -> quantity held for it (a reservation shortfall, before sending): a stock id's
    held quantity is split across its items in order."""
    remaining = dict(held)
    result: dict[int, int] = {}
    for item in items:
        sid = stock_id(item)
        if sid not in remaining:
            continue
        took = min(item.quantity, remaining[sid])
        remaining[sid] -= took
        result[item.pk] = took
    return result


def _xml_orders(root: ET.Element) -> list[dict[str, Any]]:
    """``<root><order_list><order><ext_ref>56</ext_ref>…<status>3002</status></order>…``."""
    orders = []
    for node in root.iter("order"):
        entry: dict[str, Any] = dict(node.attrib)
        for child in node:
            entry[child.tag] = child.text
        orders.append(entry)
    return orders


def parse_status_reply(content: bytes, wire_format: str, *, what: str) -> list[dict[str, Any]]:
    """``{"orders":[{"order_id":130,"ext_ref":"2357","status":5,"tracking_code":..}]}``."""
    if wire_format == XML:
        root = parse_xml(content, what=what)
        orders = _xml_orders(root)
    else:
        body = parse_json(content, what=what)
        if isinstance(body, list):
            orders = body
        elif isinstance(body, dict):
            orders = body.get("orders") or []
        else:
            raise ProviderBadReply(f"{what}: the reply is not a JSON object")
    if not isinstance(orders, list) or not all(isinstance(o, dict) for o in orders):
        raise ProviderBadReply(f"{what}: 'orders' is not a list of objects")
    clean = []
    for entry in orders:
        if entry.get("order_id") in (None, ""):
            raise ProviderBadReply(f"{what}: an order without order_id")
        clean.append({
            **entry,
            "order_id": str(_int(entry["order_id"], what=what, field="order_id")),
            "status": "" if entry.get("status") in (None, "") else str(entry["status"]).strip(),
        })
    return clean


def parse_carriers(content: bytes, wire_format: str, *, what: str) -> list[dict[str, Any]]:
    """``[{"cost":9.80,"name":"TNT","id":39}]`` -> ``[{"id": "39", "name": "TNT", ...}]``."""
    if wire_format == XML:
        root = parse_xml(content, what=what)
        raw = []
        for node in root.iter("carrier"):
            entry: dict[str, Any] = dict(node.attrib)
            entry.update({child.tag: child.text for child in node})
            raw.append(entry)
    else:
        raw = parse_json(content, what=what)
        if isinstance(raw, dict):
            raw = raw.get("carriers", [])
    if not isinstance(raw, list):
        raise ProviderBadReply(f"{what}: the carrier list is not a list")
    carriers = []
    for entry in raw:
        if not isinstance(entry, dict) or entry.get("id") in (None, ""):
            raise ProviderBadReply(f"{what}: a carrier without id")
        carriers.append({"id": str(entry["id"]), "name": str(entry.get("name") or entry["id"]),
                         "cost": "" if entry.get("cost") is None else str(entry["cost"])})
    return carriers


def error_text(content: bytes, content_type: str) -> str:
    """A readable message from an error body: JSON ``message``/``error``, XML text, or text."""
    text = content.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    if "json" in content_type or text[:1] in "{[":
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict):
            for key in ("message", "error", "msg", "description", "detail"):
                value = body.get(key)
                if isinstance(value, dict):
                    value = value.get("message")
                if value:
                    return str(value)
        elif isinstance(body, str):
            return body
    if "xml" in content_type or text.startswith("<"):
        try:
            root = SafeET.fromstring(content, forbid_dtd=True)
        except (DefusedXmlException, ET.ParseError):
            return "unreadable XML error reply"
        found = root.find(".//message")
        if found is not None and found.text:
            return found.text.strip()
        joined = " ".join(t.strip() for t in root.itertext() if t.strip())
        if joined:
            return joined
    return " ".join(text.split())
