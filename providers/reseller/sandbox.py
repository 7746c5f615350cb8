"""A fake white-label reseller BSS (API v3) under ``/sandbox/reseller/``.

Speaks the wire format ``mapping.py`` reads: OAuth2 password grant at ``oauth/token`` (client
key/secret as HTTP Basic only), bearer tokens, ``X-Api-Version: 3.0`` required, and the 13
order endpoints. Rules as the provider documents them: items are added/deleted and orders
checked out only while Draft; drafts expire (and are deleted) 7 days after their order date,
by a clock tests move (``SandboxClock.advance``); the execution status of a checked-out order
reaches Executed after ``EXECUTION_POLLS`` polls. The user ``free`` gets a Free-edition token:
reads only. State lives in the database (``providers/reseller/models.py``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import secrets
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from .models import SandboxClock, SandboxItem, SandboxOrder, SandboxToken

CLIENTS = {"demo-client": "demo-client-secret"}
USERS = {"demo": ("demo-password", "standard"), "free": ("free-password", "free")}
TOKEN_LIFETIME = 3600
DRAFT_LIFETIME = dt.timedelta(days=7)
EXECUTION_POLLS = 3
CONFIRMED_EXCLUDED = ("Draft", "Reseller Pending Approval", "Cancelled by Reseller")
DEFAULT_CUSTOM_FIELDS = [
    {"Name": "PONumber", "Label": "PO number", "Type": "text", "Value": ""},
    {"Name": "DeliveryNotes", "Label": "Delivery notes", "Type": "text", "Value": ""},
]
DEFAULT_CHARACTERISTICS = [
    {"Name": "DomainName", "Label": "Domain name", "Type": "text", "Value": ""},
    {"Name": "Seats", "Label": "Seats", "Type": "number", "Value": "1"},
]


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"message": message, **extra}, status=status)


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def _purge_expired() -> None:
    SandboxOrder.objects.filter(status="Draft", expiration_date__lte=SandboxClock.now()).delete()


def _order_json(order: SandboxOrder, *, items: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Id": order.pk,
        "AccountId": order.account_id,
        "ExternalReference": order.reference,
        "Status": order.status,
        "OrderDate": _iso(order.order_date),
        "ExpirationDate": _iso(order.expiration_date) if order.status == "Draft" else None,
        "Currency": "EUR",
        "Total": str(sum((i.unit_price or Decimal(0)) * i.quantity for i in order.items.all())),
    }
    if items:
        body["Items"] = [_item_json(i) for i in order.items.all()]
    return body


def _item_json(item: SandboxItem) -> dict[str, Any]:
    return {
        "Id": item.pk,
        "OrderId": item.order_id,
        "ProductId": item.product_id,
        "Sku": item.sku,
        "Description": item.description,
        "Quantity": item.quantity,
        "UnitPrice": str(item.unit_price) if item.unit_price is not None else None,
    }


def _auth(request: HttpRequest) -> SandboxToken | JsonResponse:
    if request.headers.get("X-Api-Version") != "3.0":
        return _error(400, "This organisation needs X-Api-Version: 3.0 for API v3.")
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return _error(401, "Authorization has been denied for this request.")
    token = SandboxToken.objects.filter(token=header.split(" ", 1)[1].strip()).first()
    if token is None or token.expires_at <= SandboxClock.now():
        return _error(401, "Authorization has been denied for this request.")
    _purge_expired()
    return token


def _body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        return None


def _standard_only(token: SandboxToken) -> JsonResponse | None:
    if token.edition != "standard":
        return _error(403, "Your edition (Free) does not allow this action.")
    return None


def _get_order(order_id: int) -> SandboxOrder | None:
    return SandboxOrder.objects.filter(pk=order_id).first()


def _order_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Authenticate, load ``order_id`` (404 when unknown), then call ``view(request, token,
    order)`` — the preamble every order endpoint of the provider shares."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, order_id: int) -> HttpResponse:
        token = _auth(request)
        if isinstance(token, JsonResponse):
            return token
        order = _get_order(order_id)
        if order is None:
            return _error(404, f"Order {order_id} not found.")
        return view(request, token, order)

    return wrapper


def _not_draft(order: SandboxOrder) -> JsonResponse:
    return _error(400, f"Order {order.pk} is not in Draft status (it is {order.status}).")


# --- token ------------------------------------------------------------------------------------
@csrf_exempt
def token_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _error(405, "POST only")
    header = request.headers.get("Authorization", "")
    try:
        scheme, value = header.split(" ", 1)
        client_id, client_secret = base64.b64decode(value).decode().split(":", 1)
    except ValueError:
        return JsonResponse({"error": "invalid_client",
                             "error_description": "Client credentials go in HTTP Basic."},
                            status=401)
    if scheme.lower() != "basic" or CLIENTS.get(client_id) != client_secret:
        return JsonResponse({"error": "invalid_client"}, status=401)
    if "client_secret" in request.POST or "client_id" in request.POST:
        return JsonResponse({"error": "invalid_request",
                             "error_description": "Client credentials only via HTTP Basic."},
                            status=400)
    if request.POST.get("grant_type") != "password":
        return JsonResponse({"error": "unsupported_grant_type"}, status=400)
    user = USERS.get(request.POST.get("username", ""))
    if user is None or user[0] != request.POST.get("password"):
        return JsonResponse({"error": "invalid_grant",
                             "error_description": "The user name or password is incorrect."},
                            status=400)
    token = SandboxToken.objects.create(
        token=secrets.token_urlsafe(24), username=request.POST["username"], edition=user[1],
        expires_at=SandboxClock.now() + dt.timedelta(seconds=TOKEN_LIFETIME),
    )
    return JsonResponse({"access_token": token.token, "token_type": "bearer",
                         "expires_in": TOKEN_LIFETIME})


# --- orders -----------------------------------------------------------------------------------
@csrf_exempt
def orders_view(request: HttpRequest) -> HttpResponse:
    token = _auth(request)
    if isinstance(token, JsonResponse):
        return token
    if request.method == "GET":
        stage = request.GET.get("stage", "Confirmed")
        orders = SandboxOrder.objects.all()
        if stage.lower() == "draft":
            orders = orders.filter(status="Draft")
        elif stage.lower() == "confirmed":
            orders = orders.exclude(status__in=CONFIRMED_EXCLUDED)
        elif stage.lower() != "all":
            return _error(400, f"Unknown stage '{stage}'.")
        try:
            page = max(1, int(request.GET.get("page", 1)))
            size = min(500, max(1, int(request.GET.get("pageSize", 50))))
        except ValueError:
            return _error(400, "page and pageSize must be numbers.")
        total = orders.count()
        rows = orders.prefetch_related("items")[(page - 1) * size: page * size]
        return JsonResponse({"items": [_order_json(o) for o in rows], "page": page,
                             "pageSize": size, "totalCount": total,
                             "totalPages": max(1, -(-total // size))})
    if request.method == "POST":
        refused = _standard_only(token)
        if refused:
            return refused
        body = _body(request)
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        folded = {k.lower(): v for k, v in body.items()}
        account_id = str(folded.get("accountid") or "").strip()
        if not account_id:
            return _error(400, "The request is invalid.",
                          errors={"AccountId": ["The AccountId field is required."]})
        now = SandboxClock.now()
        order = SandboxOrder.objects.create(
            account_id=account_id, reference=str(folded.get("externalreference") or "")[:120],
            order_date=now, expiration_date=now + DRAFT_LIFETIME,
            custom_fields=[dict(f) for f in DEFAULT_CUSTOM_FIELDS],
        )
        return JsonResponse(_order_json(order), status=201)
    return _error(405, "Method not allowed")


@_order_endpoint
def order_view(request: HttpRequest, token: SandboxToken, order: SandboxOrder) -> HttpResponse:
    return JsonResponse(_order_json(order, items=True))


@csrf_exempt
@_order_endpoint
def items_view(request: HttpRequest, token: SandboxToken, order: SandboxOrder) -> HttpResponse:
    if request.method == "GET":
        return JsonResponse([_item_json(i) for i in order.items.all()], safe=False)
    if request.method != "POST":
        return _error(405, "Method not allowed")
    refused = _standard_only(token)
    if refused:
        return refused
    if order.status != "Draft":
        return _not_draft(order)
    body = _body(request)
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.")
    folded = {k.lower(): v for k, v in body.items()}
    errors = {}
    if not str(folded.get("productid") or "").strip():
        errors["ProductId"] = ["The ProductId field is required."]
    try:
        quantity = int(folded.get("quantity") or 0)
    except (TypeError, ValueError):
        quantity = 0
    if quantity < 1:
        errors["Quantity"] = ["Quantity must be at least 1."]
    try:
        price = Decimal(str(folded["unitprice"])) if folded.get("unitprice") is not None else None
    except InvalidOperation:
        errors["UnitPrice"] = ["Not a number."]
        price = None
    if errors:
        return _error(400, "The request is invalid.", errors=errors)
    item = SandboxItem.objects.create(
        order=order, product_id=str(folded["productid"])[:120],
        sku=str(folded.get("sku") or "")[:120],
        description=str(folded.get("description") or "")[:255], quantity=quantity,
        unit_price=price, characteristics=[dict(c) for c in DEFAULT_CHARACTERISTICS],
    )
    return JsonResponse(_item_json(item), status=201)


@csrf_exempt
def item_view(request: HttpRequest, order_id: int, item_id: int) -> HttpResponse:
    token = _auth(request)
    if isinstance(token, JsonResponse):
        return token
    order = _get_order(order_id)
    item = SandboxItem.objects.filter(order_id=order_id, pk=item_id).first() if order else None
    if order is None or item is None:
        return _error(404, f"Item {item_id} of order {order_id} not found.")
    if request.method == "GET":
        return JsonResponse(_item_json(item))
    if request.method != "DELETE":
        return _error(405, "Method not allowed")
    refused = _standard_only(token)
    if refused:
        return refused
    if order.status != "Draft":
        return _not_draft(order)
    item.delete()
    return HttpResponse(status=204)


@csrf_exempt
def checkout_view(request: HttpRequest, order_id: int) -> HttpResponse:
    token = _auth(request)
    if isinstance(token, JsonResponse):
        return token
    if request.method != "POST":
        return _error(405, "POST only")
    refused = _standard_only(token)
    if refused:
        return refused
    order = _get_order(order_id)
    if order is None:
        return _error(404, f"Order {order_id} not found.")
    if order.status != "Draft":
        return _not_draft(order)
    if not order.items.exists():
        return _error(400, "An order without items cannot be executed.")
    order.status = "Submitted"
    order.save(update_fields=["status"])
    return JsonResponse({"Id": order.pk, "Status": order.status})


@_order_endpoint
def execute_status_view(request: HttpRequest, token: SandboxToken, order: SandboxOrder) -> HttpResponse:
    if order.status == "Draft":
        return _error(400, f"Order {order.pk} is not confirmed: no execution status.")
    if order.status == "Submitted":
        order.execution_polls += 1
        if order.execution_polls >= EXECUTION_POLLS:
            order.status = "Executed"
        order.save(update_fields=["execution_polls", "status"])
    status = "InProgress" if order.status == "Submitted" else order.status
    return JsonResponse({"OrderId": order.pk, "Status": status,
                         "Message": "" if status != "InProgress" else
                         f"Executing ({order.execution_polls}/{EXECUTION_POLLS})"})


def _values_put(current: list[dict[str, Any]], body: Any) -> list[dict[str, Any]] | JsonResponse:
    if not isinstance(body, list):
        return _error(400, "The request body must be a list of {Name, Value}.")
    known = {str(f["Name"]).lower(): f for f in current}
    updated = [dict(f) for f in current]
    by_name = {str(f["Name"]).lower(): f for f in updated}
    for row in body:
        folded = {str(k).lower(): v for k, v in row.items()} if isinstance(row, dict) else {}
        name = str(folded.get("name") or "").lower()
        if name not in known:
            return _error(400, f"Unknown field '{folded.get('name')}'.")
        by_name[name]["Value"] = "" if folded.get("value") is None else str(folded["value"])
    return updated


@csrf_exempt
@_order_endpoint
def custom_fields_view(request: HttpRequest, token: SandboxToken, order: SandboxOrder) -> HttpResponse:
    if request.method == "GET":
        return JsonResponse(order.custom_fields, safe=False)
    if request.method != "PUT":
        return _error(405, "Method not allowed")
    refused = _standard_only(token)
    if refused:
        return refused
    updated = _values_put(order.custom_fields, _body(request))
    if isinstance(updated, JsonResponse):
        return updated
    order.custom_fields = updated
    order.save(update_fields=["custom_fields"])
    return JsonResponse(updated, safe=False)


@csrf_exempt
def characteristics_view(request: HttpRequest, order_id: int, item_id: int) -> HttpResponse:
    token = _auth(request)
    if isinstance(token, JsonResponse):
        return token
    refused = _standard_only(token)
    if refused:
        return refused
    item = SandboxItem.objects.filter(order_id=order_id, pk=item_id).first()
    if item is None:
        return _error(404, f"Item {item_id} of order {order_id} not found.")
    if request.method == "GET":
        return JsonResponse(item.characteristics, safe=False)
    if request.method != "PUT":
        return _error(405, "Method not allowed")
    updated = _values_put(item.characteristics, _body(request))
    if isinstance(updated, JsonResponse):
        return updated
    item.characteristics = updated
    item.save(update_fields=["characteristics"])
    return JsonResponse(updated, safe=False)


@csrf_exempt
def clock_view(request: HttpRequest) -> HttpResponse:
    """Demo helper (not part of the provider's API): POST days=N moves the sandbox clock."""
    if request.method == "POST":
        try:
            days = float(request.POST.get("days") or _body(request).get("days"))
        except (TypeError, ValueError, AttributeError):
            return _error(400, "Give days=<number>.")
        SandboxClock.advance(dt.timedelta(days=days))
    return JsonResponse({"now": _iso(SandboxClock.now())})


urlpatterns = [
    path("oauth/token", token_view, name="reseller-sandbox-token"),
    path("api/orders", orders_view, name="reseller-sandbox-orders"),
    path("api/orders/<int:order_id>", order_view, name="reseller-sandbox-order"),
    path("api/orders/<int:order_id>/items", items_view, name="reseller-sandbox-items"),
    path("api/orders/<int:order_id>/items/<int:item_id>", item_view,
         name="reseller-sandbox-item"),
    path("api/orders/<int:order_id>/items/<int:item_id>/characteristics", characteristics_view,
         name="reseller-sandbox-characteristics"),
    path("api/orders/<int:order_id>/checkout", checkout_view, name="reseller-sandbox-checkout"),
    path("api/orders/<int:order_id>/execute/status", execute_status_view,
         name="reseller-sandbox-execute-status"),
    path("api/orders/<int:order_id>/customfields", custom_fields_view,
         name="reseller-sandbox-customfields"),
    path("_clock", clock_view, name="reseller-sandbox-clock"),
]
