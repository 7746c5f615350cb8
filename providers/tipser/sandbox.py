"""A fake Tipser merchant orders API, mounted at ``/sandbox/tipser/`` when SANDBOX_ENABLED.

Speaks the documented wire format: ``apiKey`` query parameter (403 otherwise), the paged
order list, order detail, ``PUT`` item status changes (only to codes in the item's
``nextStatuses``, which come from our item status table; anything else gets Tipser's
``{"error": {"id": "IncorrectInputData", ...}}`` with 400), ``POST .../shipping`` and
``GET /v3/markets``. ``POST control/orders`` makes new incoming orders on demand.
State lives in the database (``providers.tipser.models``).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import operator
import random
import secrets
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from providers.docsamples import sample_json

from .models import SandboxMerchant, SandboxOrder, SandboxShipping
from .statuses import STATUSES

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 500
MARKETS = [
    {
        "id": "se",
        "name": "Sweden",
        "currency": "SEK",
        "shippingProviders": [{"name": "PostNord"}, {"name": "DHL"}, {"name": "Bring"}],
    },
    {
        "id": "de",
        "name": "Germany",
        "currency": "EUR",
        "shippingProviders": [{"name": "DHL"}, {"name": "DPD"}, {"name": "Hermes"}],
    },
    {
        "id": "us",
        "name": "United States",
        "currency": "USD",
        "shippingProviders": [{"name": "UPS"}, {"name": "USPS"}, {"name": "FedEx"}],
    },
]
CATALOG = [
    ("POMEGRANATE", "8809389031511", Decimal("39.90")),
    ("Linen shirt", "7350071234567", Decimal("59.00")),
    ("Ceramic mug", "7350071234574", Decimal("14.50")),
    ("Wool scarf", "7350071234581", Decimal("45.00")),
    ("Leather wallet", "7350071234598", Decimal("79.00")),
]
CUSTOMERS = [
    ("John", "Doe", "1600 Pennsylvania Ave NW", "DC 20500", "Washington", "US"),
    ("Astrid", "Lindgren", "Drottninggatan 12", "111 51", "Stockholm", "SE"),
    ("Greta", "Weber", "Unter den Linden 5", "10117", "Berlin", "DE"),
]
VAT = Decimal("0.20")


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"id": code, "message": message}}, status=status)


def _bad(message: str) -> JsonResponse:
    return _error(400, "IncorrectInputData", message)


def _merchant(request: HttpRequest) -> SandboxMerchant | None:
    key = request.GET.get("apiKey", "")
    return SandboxMerchant.objects.filter(api_key=key).first() if key else None


def _forbidden() -> JsonResponse:
    return _error(403, "Unauthorized", "A valid apiKey query parameter is required.")


def _money(value: Decimal, currency: str) -> dict[str, Any]:
    value = value.quantize(Decimal("0.01"))
    return {
        "value": float(value),
        "currency": currency,
        "formatted": f"{value:.2f}".replace(".", ",")
        + (" €" if currency == "EUR" else f" {currency}"),
    }


def _order_status(codes: list[int]) -> int:
    """Tipser's order-level status is unpublished; the sandbox uses the item codes: one code
    when all items agree, else the least advanced open one."""
    if codes and all(c == codes[0] for c in codes):
        return codes[0]
    open_codes = [c for c in codes if str(c) in ("0", "1", "6")]
    return min(open_codes) if open_codes else max(codes or [0])


def render_order(order: SandboxOrder) -> dict[str, Any]:
    """The wire document, with each item's ``nextStatuses`` from the item status table."""
    data = json.loads(json.dumps(order.data))
    for item in data.get("items", []):
        status = STATUSES.item_statuses.get(str(item.get("status")))
        item["nextStatuses"] = [int(c) for c in (status.next or ())] if status else []
    return data


# --- generating incoming orders --------------------------------------------------------------
def orders_generate(
    *,
    merchant: SandboxMerchant,
    count: int = 3,
    now: dt.datetime | None = None,
    rng: random.Random | None = None,
    items: int | None = None,
) -> list[SandboxOrder]:
    """New incoming orders (every item New), as a marketplace customer would place them."""
    now = now or timezone.now()
    rng = rng or random.Random()
    base_number = 21660 + SandboxOrder.objects.count()
    created = []
    for n in range(count):
        first, last, street, zip_code, city, country = rng.choice(CUSTOMERS)
        address = {"streetAddress": street, "zipCode": zip_code, "city": city, "country": country}
        # Built on the doc's order-details sample: its keys and nesting, our values.
        sample = sample_json("tipser", "order_detail.json")
        sample_item = sample["items"][0]
        lines = []
        for _ in range(items or rng.randint(1, 3)):
            name, sku, price = rng.choice(CATALOG)
            quantity = rng.randint(1, 2)
            total = price * quantity
            ex_vat = (total / (1 + VAT)).quantize(Decimal("0.01"))
            merchant_inc = (total * Decimal("0.70")).quantize(Decimal("0.01"))
            lines.append({
                **copy.deepcopy(sample_item),
                "id": secrets.token_hex(12),
                "productId": secrets.token_hex(12),
                "sku": sku,
                "productName": name,
                "amount": quantity,
                "quantity": quantity,
                "attributesValue": rng.choice(["", "Size: M", "Colour: blue"]),
                "status": 0,
                "merchantProductId": sku[-12:],
                "totalPriceIncVat": _money(total, "EUR"),
                "totalPriceExVat": _money(ex_vat, "EUR"),
                "vatValue": _money(total - ex_vat, "EUR"),
                "merchantPriceIncVat": _money(merchant_inc, "EUR"),
                "merchantPriceExVat": _money((merchant_inc / (1 + VAT)), "EUR"),
            })
        order_id = secrets.token_hex(12)
        date = now - dt.timedelta(minutes=count - n)
        data = {
            **sample,
            "id": order_id,
            "orderNumber": str(base_number + n),
            "orderDate": date.astimezone(dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "status": 0,
            "customer": {
                **sample["customer"],
                "firstName": first,
                "lastName": last,
                "email": f"{order_id}@mailinator.com",
                "phoneNumber": "+46701234567",
                "homeAddress": address,
                "deliveryAddress": dict(address),
                "useHomeAddressAsDeliveryAddress": False,
            },
            "items": lines,
            "shippingPreferences": {
                **sample["shippingPreferences"],
                "shippingProvider": rng.choice(["DHL", "PostNord", "UPS"]),
                "sendDeliveryNoteToCustomer": True,
            },
            "shippingLines": {
                "priceIncVat": _money(Decimal("0"), "EUR"),
                "priceExVat": _money(Decimal("0"), "EUR"),
                "vatValue": _money(Decimal("0"), "EUR"),
            },
            "activityLogs": [  # the sample's "Placed" entry
                {
                    **sample["activityLogs"][-1],
                    "date": date.isoformat(),
                    "text": {**sample["activityLogs"][-1]["text"], "updateType": "Placed",
                             "success": True, "response": f"id: {base_number + n}"},
                }
            ],
        }
        created.append(
            SandboxOrder(merchant=merchant, order_id=order_id, order_date=date, data=data)
        )
    return SandboxOrder.objects.bulk_create(created)


# --- views -----------------------------------------------------------------------------------
class _BadInput(Exception):
    pass


def _date_param(request: HttpRequest, name: str, *, required: bool) -> dt.date | None:
    value = request.GET.get(name, "")
    if not value:
        if required:
            raise _BadInput(f"'{name}' is required (yyyy-mm-dd).")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _BadInput(f"'{name}' must be a date in the format yyyy-mm-dd.") from None


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    value = request.GET.get(name) or ""
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _BadInput(f"'{name}' must be a whole number.") from None
    if number < 0:
        raise _BadInput(f"'{name}' must not be negative.")
    return number


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


@require_http_methods(["GET"])
def order_list(request: HttpRequest) -> JsonResponse:
    merchant = _merchant(request)
    if merchant is None:
        return _forbidden()
    try:
        start = _date_param(request, "from", required=True)
        end = _date_param(request, "to", required=False)
        size = min(max(1, _int_param(request, "pageSize", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
        index = _int_param(request, "pageIndex", 0)
        try:
            states = {int(s) for s in request.GET.get("states", "").split(",") if s.strip()}
        except ValueError:
            raise _BadInput("'states' must be comma separated numbers.") from None
        if not states:
            raise _BadInput("'states' is required.")
    except _BadInput as exc:
        return _bad(str(exc))
    assert start is not None
    qs = SandboxOrder.objects.filter(merchant=merchant, order_date__gte=_day_start(start))
    if end is not None:
        qs = qs.filter(order_date__lt=_day_start(end + dt.timedelta(days=1)))
    qs = qs.order_by("order_date", "id")
    if not states >= _ALL_CODES:
        # An order matches when any of its items is in one of the states: filtered and paged
        # in the database (``item_statuses``), so the reply costs what the page holds, not
        # every order since ``from``.
        qs = qs.filter(functools.reduce(operator.or_, (
            Q(item_statuses__contains=f",{code},") for code in sorted(states))))
    count = qs.count()
    page = list(qs[index * size : (index + 1) * size])
    return JsonResponse(
        {"itemsCount": count, "pageIndex": index, "items": [render_order(o) for o in page]}
    )


_ALL_CODES = {int(code) for code in STATUSES.item_statuses}


def _find(merchant: SandboxMerchant, order_id: str) -> SandboxOrder | None:
    return SandboxOrder.objects.filter(merchant=merchant, order_id=order_id).first()


def _body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


@csrf_exempt
@require_http_methods(["GET", "PUT"])
def order_detail(request: HttpRequest, order_id: str) -> JsonResponse:
    merchant = _merchant(request)
    if merchant is None:
        return _forbidden()
    if request.method == "GET":
        order = _find(merchant, order_id)
        if order is None:
            return _error(404, "NotFound", f"Order {order_id} not found.")
        return JsonResponse(render_order(order))
    body = _body(request)
    if body is None:
        return _bad("The body must be a JSON object.")
    status, ids = body.get("status"), body.get("orderItemsIds")
    if (
        not isinstance(status, int)
        or isinstance(status, bool)
        or str(status) not in STATUSES.item_statuses
    ):
        return _bad("'status' must be a known item status code.")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return _bad("'orderItemsIds' must be a non-empty list of item ids.")
    with transaction.atomic():
        order = (
            SandboxOrder.objects.select_for_update()
            .filter(merchant=merchant, order_id=order_id)
            .first()
        )
        if order is None:
            return _error(404, "NotFound", f"Order {order_id} not found.")
        items = {i["id"]: i for i in order.data.get("items", [])}
        for item_id in ids:
            item = items.get(item_id)
            if item is None:
                return _bad(f"Order item {item_id} does not belong to order {order_id}.")
            allowed = STATUSES.item_statuses[str(item["status"])].next or ()
            if str(status) not in allowed:
                return _bad(
                    f"Status {status} is not allowed for order item {item_id} "
                    f"(nextStatuses: {[int(c) for c in allowed]})."
                )
        for item_id in ids:
            items[item_id]["status"] = status
        data = order.data
        data["status"] = _order_status([int(i["status"]) for i in data["items"]])
        data.setdefault("activityLogs", []).insert(
            0,
            {
                "messageType": 2,
                "date": timezone.now().isoformat(),
                "text": {
                    "changedProducts": [
                        {
                            "name": items[i].get("productName", ""),
                            "productVariantId": items[i].get("productId", ""),
                            "productAttributes": [],
                        }
                        for i in ids
                    ],
                    "newState": STATUSES.item_statuses[str(status)].label,
                    "trackingLink": "",
                    "comment": str(body.get("comment") or ""),
                },
            },
        )
        order.save(update_fields=["data", "item_statuses", "updated_at"])
    return JsonResponse(render_order(order))


@csrf_exempt
@require_http_methods(["POST"])
def order_shipping(request: HttpRequest, order_id: str) -> JsonResponse:
    merchant = _merchant(request)
    if merchant is None:
        return _forbidden()
    order = _find(merchant, order_id)
    if order is None:
        return _error(404, "NotFound", f"Order {order_id} not found.")
    body = _body(request)
    if body is None:
        return _bad("The body must be a JSON object.")
    carrier, tracking = body.get("shippingProvider"), body.get("trackingNumber")
    ids = body.get("orderItemsIds")
    if carrier is not None and not isinstance(carrier, str):
        return _bad("'shippingProvider' must be a string or null.")
    if not isinstance(tracking, str) or not tracking.strip():
        return _bad("'trackingNumber' is required.")
    known = {i["id"] for i in order.data.get("items", [])}
    if not isinstance(ids, list) or not ids or any(i not in known for i in ids):
        return _bad("'orderItemsIds' must list items of this order.")
    if not isinstance(body.get("sendDeliveryNoteToCustomer", False), bool):
        return _bad("'sendDeliveryNoteToCustomer' must be a boolean.")
    SandboxShipping.objects.create(order=order, body=body)
    return JsonResponse({}, status=200)


@require_http_methods(["GET"])
def markets(request: HttpRequest) -> JsonResponse:
    if _merchant(request) is None:
        return _forbidden()
    return JsonResponse(MARKETS, safe=False)


CONTROL_PAGE = """<!doctype html><title>Tipser sandbox</title>
<h1>Tipser sandbox: new incoming orders</h1>
<form method="post" action="orders">
<label>Merchant apiKey <input name="apiKey" type="password" required></label>
<label>How many <input name="count" type="number" value="3" min="1" max="200"></label>
<button>Create orders</button></form>
<p>The account's periodic sync (or "sync" in the admin) brings them into dropdesk.</p>"""


@require_http_methods(["GET"])
def control_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(CONTROL_PAGE)


@csrf_exempt
@require_http_methods(["POST"])
def control_orders(request: HttpRequest) -> JsonResponse:
    """Sandbox control: ``POST control/orders?apiKey=…&count=3`` (or the same as form fields,
    from ``control/``) makes new incoming orders; an unknown key gets a new sandbox merchant."""
    params = request.POST if request.POST else request.GET
    key = params.get("apiKey", "")
    if not key:
        return _forbidden()
    try:
        count = int(params.get("count") or 3)
    except ValueError:
        return _bad("'count' must be a whole number.")
    merchant, _ = SandboxMerchant.objects.get_or_create(api_key=key, defaults={"name": "sandbox"})
    orders = orders_generate(merchant=merchant, count=min(max(1, count), 200))
    return JsonResponse({"created": [o.order_id for o in orders]}, status=201)


urlpatterns = [
    path("v3/merchants/orders", order_list, name="tipser-sandbox-orders"),
    path("v3/merchants/orders/<str:order_id>", order_detail, name="tipser-sandbox-order"),
    path(
        "v3/merchants/orders/<str:order_id>/shipping",
        order_shipping,
        name="tipser-sandbox-shipping",
    ),
    path("v3/markets", markets, name="tipser-sandbox-markets"),
    path("control/", control_page, name="tipser-sandbox-control"),
    path("control/orders", control_orders, name="tipser-sandbox-control-orders"),
]
