"""A fake Aliseeks server for the demo and tests, mounted at /sandbox/aliseeks/.

Speaks the documented wire format (``POST /v1/orders``, ``GET /v1/orders``,
``POST /v1/merchants``), checks the ``X-Api-Client-Id`` header, and keeps its state in the
database (``SandboxMerchant``, ``SandboxOrder``) so the web server and the worker agree.

* ``authorize/<token>/`` is the provider's one-time authorization page: *Allow* sends the
  merchant back to the ``redirectUrl`` we registered; *Cancel* sends them back with
  ``?error=access_denied``.
* Orders move on by themselves, one step every ``ALISEEKS_SANDBOX_STEP_SECONDS`` (default
  120 s), or at once with the *Advance* button on ``/sandbox/aliseeks/``:
  ``place_order_success`` → ``wait_seller_send_goods`` → ``wait_buyer_accept_goods`` +
  ``shipped`` (first tracking number) → ``order_completed`` (a second tracking number when the
  order has several items).
* API key ``…not-whitelisted…`` is refused merchant registration (403), like an account
  Aliseeks has not whitelisted.
"""

from __future__ import annotations

import json
import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.csrf import csrf_exempt

from providers.docsamples import sample_json

from .models import SandboxMerchant, SandboxOrder

STEPS = (
    ("place_order_success", None),
    ("wait_seller_send_goods", None),
    ("wait_buyer_accept_goods", "shipped"),
    ("order_completed", "shipped"),
)
SERVICES = ("CAINIAO_STANDARD", "YANWEN_JYT")


def step_seconds() -> int:
    return int(getattr(settings, "ALISEEKS_SANDBOX_STEP_SECONDS", 120))


# --- helpers ---------------------------------------------------------------------------------
def _errors(status: int, *entries: tuple[str, str, str]) -> JsonResponse:
    body = [{"code": c, "field": f, "violation": v} for c, f, v in entries]
    response = JsonResponse(body, status=status, safe=False)
    if entries:
        response["x-error-code"] = entries[0][0]
        response["x-error-detailed-message"] = entries[0][2]
    return response


def _api_key(request: HttpRequest) -> str:
    return request.headers.get("X-Api-Client-Id", "").strip()


def _unknown_merchant(merchant_id: str) -> JsonResponse:
    return _errors(422, ("NotFound", "merchantId", f"Merchant {merchant_id!r} is not registered"))


def _unauthorized(request: HttpRequest) -> JsonResponse | None:
    if not _api_key(request):
        return _errors(403, ("Forbidden", "", "Missing or unknown X-Api-Client-Id"))
    return None


def _body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        return None


def _price(product_id: int) -> Decimal:
    return Decimal(5 + product_id % 40) + Decimal("0.99")


def order_step(order: SandboxOrder) -> int:
    elapsed = (timezone.now() - order.created_at).total_seconds()
    return min(len(STEPS) - 1, order.manual_steps + int(elapsed // max(1, step_seconds())))


def order_reply(order: SandboxOrder) -> dict[str, Any]:
    step = order_step(order)
    status, shipping_status = STEPS[step]
    service = (order.items[0].get("shippingService") if order.items else "") or SERVICES[0]
    shipping = []
    if step >= 2:
        shipping.append({"trackingNumber": f"LP{order.order_id[-12:]:0>12}CN",
                         "shippingService": service})
    if step >= 3 and len(order.items) > 1:
        shipping.append({"trackingNumber": f"YT{order.order_id[-10:]:0>10}",
                         "shippingService": SERVICES[1]})
    store_id = 700000 + int(order.order_id) % 2
    # Built on the doc's Get Order sample: its keys and nesting, our values.
    reply = sample_json("aliseeks", "get_order_reply.json")
    shipping_entry, item_entry = reply["shipping"][0], reply["items"][0]
    reply.update({
        "id": order.order_id,
        "created": order.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "total": {**reply["total"], "currency": "USD", "value": str(order.total)},
        "status": status,
        "shippingStatus": shipping_status,
        "store": {**reply["store"], "id": str(store_id), "name": f"Sandbox Store {store_id}",
                  "url": f"https://www.aliexpress.com/store/{store_id}"},
        "shipping": [{**shipping_entry, **entry} for entry in shipping],
        "items": [
            {**item_entry, "productId": i["productId"], "quantity": i["quantity"],
             "name": f"Sandbox product {i['productId']}",
             "price": {**item_entry["price"], "currency": "USD",
                       "value": str(_price(int(i["productId"])))}}
            for i in order.items
        ],
    })
    return reply


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _validate_create(body: Any) -> list[tuple[str, str, str]]:
    if not isinstance(body, dict):
        return [("NotNull", "body", "NotNull may not be null")]
    errors = []
    address = _dict(body.get("mailingAddress"))
    phone = _dict(address.get("phoneNumber"))
    postal = _dict(address.get("address"))
    for field, value in (
        ("mailingAddress.contactName", address.get("contactName")),
        ("mailingAddress.phoneNumber.number", phone.get("number")),
        ("mailingAddress.phoneNumber.countryPrefix", phone.get("countryPrefix")),
        ("mailingAddress.address.line1", postal.get("line1")),
        ("mailingAddress.address.city", postal.get("city")),
        ("mailingAddress.address.state", postal.get("state")),
        ("mailingAddress.address.country", postal.get("country")),
    ):
        if not value:
            errors.append(("NotNull", field, "NotNull may not be null"))
    items = body.get("items")
    if not isinstance(items, list) or not items:
        errors.append(("NotEmpty", "items", "NotEmpty may not be empty"))
        return errors
    for index, item in enumerate(items):
        item = item if isinstance(item, dict) else {}
        if not isinstance(item.get("productId"), int) or isinstance(item.get("productId"), bool):
            errors.append(("NotNull", f"items[{index}].productId", "NotNull may not be null"))
        if not isinstance(item.get("quantity"), int) or item.get("quantity", 0) < 1:
            errors.append(("Min", f"items[{index}].quantity",
                           "Min must be greater than or equal to 1"))
        if not item.get("shippingService"):
            errors.append(("NotNull", f"items[{index}].shippingService", "NotNull may not be null"))
    return errors


# --- the API ---------------------------------------------------------------------------------
@csrf_exempt
def orders(request: HttpRequest) -> HttpResponse:
    denied = _unauthorized(request)
    if denied:
        return denied
    if request.method == "GET":
        return _get_order(request)
    if request.method == "POST":
        return _create_order(request)
    return _errors(405, ("MethodNotAllowed", "", f"{request.method} not allowed"))


def _merchant_problem(merchant_id: str) -> JsonResponse | None:
    merchant = SandboxMerchant.objects.filter(merchant_id=merchant_id).first()
    if merchant is None:
        return _unknown_merchant(merchant_id)
    if not merchant.authorized:
        return _errors(422, ("NotAuthorized", "merchantId",
                             "Merchant has not authorized Aliseeks (or must re-authorize)"))
    return None


def _create_order(request: HttpRequest) -> HttpResponse:
    body = _body(request)
    errors = _validate_create(body)
    if errors:
        return _errors(422, *errors)
    merchant_id = str(body.get("merchantId") or "")
    problem = _merchant_problem(merchant_id)
    if problem:
        return problem
    # AliExpress splits an order per store: the sandbox's two stores are odd/even product ids
    stores: dict[int, list[dict[str, Any]]] = {}
    for item in body["items"]:
        stores.setdefault(item["productId"] % 2, []).append(item)
    ids = []
    with transaction.atomic():
        for items in stores.values():
            order_id = str(10**14 + secrets.randbelow(9 * 10**14))
            total = sum((_price(i["productId"]) * i["quantity"] for i in items), Decimal("0"))
            SandboxOrder.objects.create(order_id=order_id, merchant_id=merchant_id,
                                        request=body, items=items, total=total)
            ids.append(int(order_id))
    reply = sample_json("aliseeks", "create_order_reply.json")  # the doc's reply shape
    return JsonResponse({**reply, "merchantId": merchant_id, "orderIds": ids})


def _get_order(request: HttpRequest) -> HttpResponse:
    merchant_id = request.GET.get("merchantId", "")
    order_id = request.GET.get("orderId", "")
    if not merchant_id:
        return _errors(422, ("NotNull", "merchantId", "NotNull may not be null"))
    problem = _merchant_problem(merchant_id)  # unknown or not (or no longer) authorized
    if problem is not None:
        return problem
    order = SandboxOrder.objects.filter(order_id=order_id, merchant_id=merchant_id).first()
    if order is None:
        return _errors(404, ("NotFound", "orderId", f"Order {order_id!r} not found"))
    return JsonResponse(order_reply(order))


@csrf_exempt
def merchants(request: HttpRequest) -> HttpResponse:
    denied = _unauthorized(request)
    if denied:
        return denied
    if request.method != "POST":
        return _errors(405, ("MethodNotAllowed", "", f"{request.method} not allowed"))
    if "not-whitelisted" in _api_key(request):
        return _errors(403, ("NotWhitelisted", "", "This account is not whitelisted to "
                             "register merchants through the API"))
    body = _body(request)
    body = body if isinstance(body, dict) else {}
    redirect_url = str(body.get("redirectUrl") or "")
    if urlsplit(redirect_url).scheme not in ("http", "https"):
        return _errors(422, ("NotNull", "redirectUrl", "NotNull may not be null"))
    existing = str(body.get("merchantId") or "")
    with transaction.atomic():
        if existing:
            merchant = (SandboxMerchant.objects.select_for_update()
                        .filter(merchant_id=existing).first())
            if merchant is None:
                return _unknown_merchant(existing)
        else:
            new_id = secrets.token_urlsafe(9).replace("-", "x").replace("_", "z")
            merchant = SandboxMerchant(merchant_id=new_id)
        merchant.redirect_url = redirect_url
        merchant.authorize_token = secrets.token_urlsafe(24)
        merchant.authorize_used = False
        merchant.save()
    url = request.build_absolute_uri(reverse("aliseeks_sandbox:authorize",
                                             args=[merchant.authorize_token]))
    reply = sample_json("aliseeks", "register_merchant_reply.json")
    return JsonResponse({**reply, "merchantId": merchant.merchant_id, "redirectUrl": url})


# --- the provider's authorization page -------------------------------------------------------
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;background:#fff7f0;margin:0}}
main{{max-width:32rem;margin:4rem auto;background:#fff;border:2px solid #ff6a00;border-radius:12px;
padding:2rem}} h1{{color:#ff6a00;font-size:1.4rem}} button{{font-size:1rem;padding:.6rem 1.2rem;
border-radius:8px;border:0;margin-right:.5rem;cursor:pointer}}
.allow{{background:#ff6a00;color:#fff}}
table{{border-collapse:collapse}} td,th{{border:1px solid #ddd;padding:.3rem .5rem;font-size:.9rem}}
</style></head><body><main>{body}</main></body></html>"""


def _page(title: str, body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(PAGE.format(title=title, body=body), status=status)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(p for p in (parts.query, urlencode(params)) if p)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


@csrf_exempt
def authorize(request: HttpRequest, token: str) -> HttpResponse:
    with transaction.atomic():
        merchant = (SandboxMerchant.objects.select_for_update()
                    .filter(authorize_token=token).exclude(authorize_token="").first())
        if merchant is None or merchant.authorize_used:
            return _page("Link not valid", "<h1>Aliseeks sandbox</h1><p>This authorization link "
                         "is not valid or was already used.</p>", status=410)
        if request.method != "POST":
            return _page("Authorize", format_html(
                "<h1>Aliseeks sandbox — authorize</h1><p>Allow <b>Aliseeks</b> to place orders on "
                "your AliExpress account (merchant <code>{}</code>)?</p>"
                "<form method='post'><button class='allow' name='decision' value='allow'>Allow"
                "</button><button name='decision' value='cancel'>Cancel</button></form>",
                merchant.merchant_id))
        merchant.authorize_used = True
        allowed = request.POST.get("decision") == "allow"
        if allowed:
            merchant.authorized = True
        merchant.save()
    target = merchant.redirect_url if allowed else _with_query(merchant.redirect_url,
                                                               {"error": "access_denied"})
    return HttpResponseRedirect(target)


# --- control page ----------------------------------------------------------------------------
@csrf_exempt
def index(request: HttpRequest) -> HttpResponse:
    rows = format_html_join(
        "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><form method='post' action='{}'>"
        "<button>Advance</button></form></td></tr>",
        ((o.order_id, o.merchant_id, STEPS[order_step(o)][0], len(order_reply(o)["shipping"]),
          reverse("aliseeks_sandbox:advance", args=[o.order_id]))
         for o in SandboxOrder.objects.all()[:200]),
    )
    merchants_rows = format_html_join(
        "", "<li><code>{}</code> — {}</li>",
        ((m.merchant_id, "authorized" if m.authorized else "not authorized")
         for m in SandboxMerchant.objects.order_by("merchant_id")),
    )
    return _page("Aliseeks sandbox", format_html(
        "<h1>Aliseeks sandbox</h1><p>Orders move one step every {} s, or now with "
        "<i>Advance</i>.</p><h2>Merchants</h2><ul>{}</ul><h2>Orders</h2><table><tr><th>Order"
        "</th><th>Merchant</th><th>Status</th><th>Tracking numbers</th><th></th></tr>{}</table>",
        step_seconds(), merchants_rows, rows))


@csrf_exempt
def advance(request: HttpRequest, order_id: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405)
    order = get_object_or_404(SandboxOrder, order_id=order_id)
    if order_step(order) < len(STEPS) - 1:
        SandboxOrder.objects.filter(pk=order.pk).update(manual_steps=order.manual_steps + 1)
    return HttpResponseRedirect(reverse("aliseeks_sandbox:index"))


app_name = "aliseeks_sandbox"
urlpatterns = [
    path("", index, name="index"),
    path("v1/orders", orders, name="orders"),
    path("v1/merchants", merchants, name="merchants"),
    path("authorize/<str:token>/", authorize, name="authorize"),
    path("control/orders/<str:order_id>/advance/", advance, name="advance"),
]
