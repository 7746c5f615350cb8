"""Every public method of every registered provider service: each HTTP request it sends took
a slot of its account's rate limiter first, and was recorded (the recorder and the log), with
the credentials redacted.

The methods are found by inspection, not listed by hand: a public method added to a service
later appears here as a new case and fails until it gets a call spec (``PROVIDER_CALLS``,
``BASE_CALLS``) or a place in the small ``NO_HTTP`` allow-list with a reason.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses
from django.core.cache import cache

from merchants.provider_requests import merchant_ref, provider_service
from orders import snapshots
from orders.models import Order, Shipment, ShipmentLine
from orders.provider_requests import item_request, order_request, shipment_request
from providers import ratelimit, registry
from providers.base import ProviderService
from providers.docsamples import sample_bytes, sample_json
from providers.errors import ProviderError, ProviderNotSupported
from providers.http import ProviderSession
from providers.tipser import mapping as tipser_mapping
from providers.tipser.sandbox import MARKETS
from providers.types import CallRecord
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory
from tests.providers.reseller.conftest import CREDENTIALS as RESELLER_CREDENTIALS
from tests.providers.reseller.conftest import fixture as reseller_fixture
from tests.providers.tipser.conftest import wire_order

RATE = 1000.0  # calls/s: high enough never to wait, and not "unlimited" (0 skips the limiter)

# --- public methods that send nothing (a reason each) -------------------------------------------
NO_HTTP: dict[str, str] = {
    "supports": "class method: whether the class overrides an operation",
    "credential": "reads one decrypted credential of the account",
    "option": "reads one option of the account",
    "refusal": "why the account may not run an operation at all (reseller edition), before any call",
    "validate_for_placement": "checks the order's fields before placing",
    "order_state_after_items": "the order state the item states imply (Tipser), computed locally",
    "account_id_for": "reseller: the AccountId from the order's or the account's options",
}


# --- the world each provider's calls run against ------------------------------------------------
@dataclass
class World:
    key: str
    base: str
    secret: str
    account: Any
    order: Any  # Order (factories type as themselves)
    item: Any  # OrderItem
    shipment: Any = None  # Shipment (Tipser only)
    routes: list[tuple[str, str, Any]] = field(default_factory=list)

    def service(self, recorder: Callable[[CallRecord], None]) -> Any:  # the provider's class
        return provider_service(self.account, recorder=recorder)


def _account(provider: str, base: str, credentials: dict[str, str], **options: Any) -> Any:
    return AccountFactory(provider=provider, base_url=base, credentials=credentials,
                          options={"rate_limit": RATE, **options})


def _aliseeks() -> World:
    base = "https://aliseeks.limits.test"
    secret = "ak_limits_secret_4242"
    request = sample_json("aliseeks", "create_order_request.json")
    account = _account("aliseeks", base, {"api_key": secret})
    merchant = MerchantFactory(account=account, external_id=request["merchantId"])
    order = OrderFactory(
        merchant=merchant, contact_name="John Modena", phone_prefix="+1",
        phone_number="7137398000", address_line1="1600 Lamar St", city="Houston",
        region="Texas", country="US", postal_code="77010", currency="USD",
        provider_options={"shipping_service": "YANWEN_JYT"},
        external_id="828752957xxx", external_ids=["828752957xxx"],
    )
    item = OrderItemFactory(order=order, product_id="32690828906", sku="", quantity=1,
                            variant=["14:29#clear", "200000061:1454#6x8mm  70pcs"])
    return World("aliseeks", base, secret, account, order, item, routes=[
        ("GET", r"/v1/orders$", sample_json("aliseeks", "get_order_reply.json")),
        ("POST", r"/v1/orders$", sample_json("aliseeks", "create_order_reply.json")),
        ("POST", r"/v1/merchants$", sample_json("aliseeks", "register_merchant_reply.json")),
    ])


def _brandsdistribution() -> World:
    base = "https://bd.limits.test"
    secret = "bd-limits-secret-0815"
    account = _account("brandsdistribution", base, {"api_key": "bd-key-4711", "password": secret},
                       wire_format="json", reserve_first=True)
    status = sample_json("brandsdistribution", "status_by_key.json")
    reference = str(status["orders"][0]["ext_ref"])
    order = OrderFactory(
        merchant=MerchantFactory(account=account), reference=reference,
        contact_name="ACME srl", phone_prefix="+39", phone_number="0112838474",
        address_line1="Roma 1", city="TORINO", region="TO", postal_code="10100", country="IT",
        provider_options={"carrierId": "20"},
    )
    reserved = sample_json("brandsdistribution", "reservation.json")
    stock_id = str(reserved["models"][0]["stock_id"])
    item = OrderItemFactory(order=order, sku=stock_id, quantity=1)
    state = {"locked": 0}

    def reservation(method: str, body: bytes) -> Any:
        # the lock adds what was asked; the unlock after placement gives it back
        if method == "POST":
            doc = json.loads(body or b"{}")
            text = json.dumps(doc)
            state["locked"] += -1 if "unlock" in text else 1
            return {}
        return {"models": [{"stock_id": int(stock_id), "locked": state["locked"],
                            "available": 5}], "order_id": 0}

    return World("brandsdistribution", base, secret, account, order, item, routes=[
        ("GET", r"/restful/ghost/orders/dropshipping/locked/$", reservation),
        ("POST", r"/restful/ghost/orders/sold/$", reservation),
        ("POST", r"/restful/ghost/orders/0/dropshipping$",
         lambda method, body: {"models": [], "order_id": 0}),
        ("GET", r"/restful/ghost/clientorders/clientkey/", status),
        ("GET", r"/restful/export/carriers$", sample_bytes("brandsdistribution", "carriers.json")),
    ])


def _reseller() -> World:
    base = "https://bss.limits.test"
    account = _account("reseller", base, dict(RESELLER_CREDENTIALS), edition="standard",
                       account_id="ACC-1001")
    order = OrderFactory(merchant=MerchantFactory(account=account, external_id="ACC-1001"),
                         reference="DD-TEST-1", external_id="5001", external_ids=["5001"],
                         raw_status="Draft")
    item = OrderItemFactory(order=order, product_id="MS365-BUS", sku="MS365-BUS", quantity=5,
                            external_id="7001")
    OrderItemFactory(order=order, product_id="AZ-PLAN", sku="AZ-PLAN", quantity=1)
    return World("reseller", base, RESELLER_CREDENTIALS["password"], account, order, item, routes=[
        ("POST", r"/oauth/token$", {"access_token": "tok-limits-123456789", "expires_in": 3600}),
        ("GET", r"/api/orders$", reseller_fixture("order_list")),
        ("POST", r"/api/orders$", reseller_fixture("order_draft")),
        ("GET", r"/api/orders/\d+$", reseller_fixture("order_draft")),
        ("GET", r"/api/orders/\d+/items$", reseller_fixture("items")),
        ("POST", r"/api/orders/\d+/items$", {"Id": 7002}),
        ("GET", r"/api/orders/\d+/items/\d+$", reseller_fixture("item")),
        ("DELETE", r"/api/orders/\d+/items/\d+$", b""),
        ("POST", r"/api/orders/\d+/checkout$", {"Id": 5001, "Status": "Reseller Pending Approval"}),
        ("GET", r"/api/orders/\d+/execute/status$", reseller_fixture("execute_status_executed")),
        ("GET", r"/api/orders/\d+/customfields$", reseller_fixture("customfields")),
        ("PUT", r"/api/orders/\d+/customfields$", b""),
        ("GET", r"/api/orders/\d+/items/\d+/characteristics$",
         reseller_fixture("characteristics")),
        ("PUT", r"/api/orders/\d+/items/\d+/characteristics$", b""),
    ])


def _tipser() -> World:
    base = "https://tipser.limits.test"
    secret = "tipser_limits_apikey_s3cr3t"
    account = _account("tipser", base, {"api_key": secret}, page_size=2)
    merchant = MerchantFactory(account=account, external_id="shop-1")
    wire = wire_order(1, items=2)
    snapshots.upsert_page(account=account, page=[tipser_mapping.parse_order(wire)])
    order = Order.objects.get(external_id=wire["id"])
    assert order.merchant == merchant
    item = order.items.order_by("pk").first()
    assert item is not None
    shipment = Shipment.objects.create(order=order, carrier="DHL", tracking_number="TRK-1")
    ShipmentLine.objects.create(shipment=shipment, item=item, quantity=item.quantity)
    # three pages of two (itemsCount 5): pages 2 and 3 are fetched by worker threads
    page = sample_json("tipser", "order_list.json")
    page["items"] = [wire_order(n) for n in (2, 3)]
    page["itemsCount"] = 5
    return World("tipser", base, secret, account, order, item, shipment, routes=[
        ("GET", r"/v3/merchants/orders$", page),
        ("GET", r"/v3/merchants/orders/[^/]+$", wire),
        ("PUT", r"/v3/merchants/orders/[^/]+$", b""),
        ("POST", r"/v3/merchants/orders/[^/]+/shipping$", b""),
        ("GET", r"/v3/markets$", MARKETS),
    ])


WORLDS: dict[str, Callable[[], World]] = {
    "aliseeks": _aliseeks,
    "brandsdistribution": _brandsdistribution,
    "reseller": _reseller,
    "tipser": _tipser,
}


# --- how to call each method ------------------------------------------------------------------
Call = Callable[[Any, World], Any]  # (the provider's service, its world) -> result


def _drain(result: Any) -> Any:
    return list(result) if inspect.isgenerator(result) else result


# Methods of the base class (a provider that does not override one sends nothing).
BASE_CALLS: dict[str, Call] = {
    "check_account": lambda s, w: s.check_account(merchant=merchant_ref(w.order.merchant)),
    "place_order": lambda s, w: s.place_order(order_request(w.order)),
    "reconcile_placement": lambda s, w: s.reconcile_placement(order_request(w.order)),
    "fetch_order": lambda s, w: s.fetch_order(order_request(w.order)),
    "iter_incoming": lambda s, w: _drain(s.iter_incoming(since=None, cursor={})),
    "cancel_order": lambda s, w: s.cancel_order(order_request(w.order)),
    "push_shipment": lambda s, w: s.push_shipment(w.shipment and shipment_request(w.shipment)),
    "set_item_status": lambda s, w: s.set_item_status(order_request(w.order), [item_request(w.item)], "cancelled"),
    "hold_order": lambda s, w: s.hold_order(order_request(w.order)),
    "release_order": lambda s, w: s.release_order(order_request(w.order)),
    "carrier_choices": lambda s, w: s.carrier_choices(order_request(w.order)),
    "register_merchant": lambda s, w: s.register_merchant(
        redirect_url="https://dropdesk.example.test/back", merchant_id="m-1"),
    "create_draft": lambda s, w: s.create_draft(order_request(w.order)),
    "add_item": lambda s, w: s.add_item(order_request(w.order), item_request(w.item)),
    "remove_item": lambda s, w: s.remove_item(order_request(w.order), item_request(w.item)),
    "poll_execution": lambda s, w: s.poll_execution(order_request(w.order)),
    "custom_fields_get": lambda s, w: s.custom_fields_get(order_request(w.order)),
    "custom_fields_set": lambda s, w: s.custom_fields_set(order_request(w.order), {"PONumber": "PO-1"}),
    "item_characteristics_get": lambda s, w: s.item_characteristics_get(order_request(w.order), item_request(w.item)),
    "item_characteristics_set": lambda s, w: s.item_characteristics_set(
        order_request(w.order), item_request(w.item), {"Seats": "6"}),
    "list_items": lambda s, w: s.list_items(order_request(w.order)),
    "find_draft": lambda s, w: s.find_draft(order_request(w.order)),
}

# Methods only some providers have (by provider key).
PROVIDER_CALLS: dict[tuple[str, str], Call] = {
    ("brandsdistribution", "list_carriers"): lambda s, w: s.list_carriers(),
    ("reseller", "fetch_item"): lambda s, w: s.fetch_item(order_request(w.order), item_request(w.item)),
    ("reseller", "list_orders"): lambda s, w: s.list_orders(stage="All"),
    ("reseller", "iter_pages"): lambda s, w: _drain(s.iter_pages(stage="All")),
    ("tipser", "carrier_names"): lambda s, w: s.carrier_names(refresh=True, order=order_request(w.order)),
}


# --- enumeration ------------------------------------------------------------------------------
def public_methods(cls: type) -> Iterator[tuple[str, type]]:
    """Every public callable a service class has (own or inherited; properties and class
    attributes are not methods), with the class that defines it."""
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        if isinstance(attr, staticmethod | classmethod) or inspect.isfunction(attr):
            owner = next(k for k in cls.__mro__ if name in vars(k))
            yield name, owner


def call_for(key: str, name: str, owner: type) -> tuple[str, Call | None]:
    """("http" | "inherited" | "no_http" | "missing", how to call it)."""
    if name in NO_HTTP:
        return "no_http", None
    if owner is ProviderService:
        return "inherited", BASE_CALLS.get(name)
    spec = PROVIDER_CALLS.get((key, name)) or BASE_CALLS.get(name)
    return ("http", spec) if spec is not None else ("missing", None)


def _cases() -> list[tuple[str, str]]:
    registry.autodiscover()
    return [(key, name) for key, cls in sorted(registry.all_services().items())
            for name, _owner in public_methods(cls)]


CASES = _cases()


# --- the spies --------------------------------------------------------------------------------
class Wire:
    """Acquisitions of the limiter and requests handed to the session, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, kind: str, value: Any) -> None:
        with self.lock:
            self.events.append((kind, value))

    def of(self, kind: str) -> list[Any]:
        return [v for k, v in self.events if k == kind]


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    spy = Wire()
    real_acquire, real_send = ratelimit.acquire, ProviderSession.send

    def acquire(scope: ratelimit.RateScope | None) -> float:
        spy.add("acquire", scope)
        return real_acquire(scope)

    def send(self: ProviderSession, request: Any, **kwargs: Any) -> Any:
        spy.add("send", request.url)
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(ratelimit, "acquire", acquire)
    monkeypatch.setattr(ProviderSession, "send", send)
    cache.clear()
    yield spy
    cache.clear()


def _route(world: World, rsps: responses.RequestsMock) -> None:
    def reply(request: Any) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(request.url).path
        for method, pattern, body in world.routes:
            if method == request.method and re.search(pattern, path):
                if callable(body):
                    body = body(request.method, request.body or b"")
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                return 200, {"Content-Type": "application/json"}, data
        return 404, {"Content-Type": "application/json"}, b'{"message": "no such route"}'

    for method in ("GET", "POST", "PUT", "DELETE"):
        rsps.add_callback(method, re.compile(re.escape(world.base) + r"/.*"), callback=reply)


# --- the tests --------------------------------------------------------------------------------
def test_every_installed_provider_is_enumerated():
    assert {key for key, _ in registry.PROVIDER_CHOICES} <= {key for key, _ in CASES}
    assert set(WORLDS) >= {key for key, _ in CASES}, "a new provider needs a World here"


@pytest.mark.django_db
@pytest.mark.parametrize("key, name", CASES, ids=[f"{k}.{n}" for k, n in CASES])
def test_every_call_of_every_public_method_is_limited_and_recorded(
    key: str, name: str, wire: Wire, mocked: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cls = registry.service_class(key)
    owner = dict(public_methods(cls))[name]
    kind, call = call_for(key, name, owner)
    assert kind != "missing", (
        f"{cls.__name__}.{name} is public but has no call spec: add it to PROVIDER_CALLS "
        "(with the arguments that make it send its requests) or, if it never sends, to NO_HTTP "
        "with the reason")
    if kind == "no_http":
        return  # listed with its reason; test_no_http_methods_send_nothing calls them
    assert call is not None, f"ProviderService.{name} has no entry in BASE_CALLS"

    world = WORLDS[key]()
    _route(world, mocked)
    records: list[CallRecord] = []
    service = world.service(records.append)
    caplog.set_level(logging.INFO, logger="providers.http")

    try:
        _drain(call(service, world))
    except ProviderNotSupported:
        assert kind == "inherited", f"{key}.{name} is its own method but says not supported"
    except ProviderError as exc:  # a mapping refusal after the calls is still fine here
        if kind == "http" and not wire.of("send"):
            raise AssertionError(f"{key}.{name} failed before any request: {exc}") from exc

    sends = wire.of("send")
    if kind == "inherited":
        assert sends == [] and records == [], f"{key}.{name} is not overridden yet sent"
        return
    assert sends, f"{key}.{name}: the call spec made no request (fix the spec or the routes)"
    assert len(mocked.calls) == len(sends), "a request went out beside the provider session"

    # each request took a slot first, of this account's limiter at this account's rate
    balance = 0
    for event, value in wire.events:
        if event == "acquire":
            assert value is not None, f"{key}.{name}: a request without the account's limiter"
            assert value.key == f"account:{world.account.pk}" and value.rate == RATE
            assert value.account_id == world.account.pk
            balance += 1
        else:
            balance -= 1
            assert balance >= 0, f"{key}.{name}: {value} was sent without a limiter slot"
    assert len(wire.of("acquire")) == len(sends)

    # each request recorded: to the recorder (the timeline) and to the log, redacted
    assert len(records) == len(sends)
    assert all(r.url.startswith(world.base) for r in records)
    for record in records:
        assert world.secret not in f"{record.url} {record.message}"
    logged = [r for r in caplog.records if r.name == "providers.http"
              and getattr(r, "provider_account", None) == world.account.pk]
    assert len(logged) == len(sends)
    assert all(world.secret not in r.getMessage() for r in logged)


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(WORLDS))
def test_no_http_methods_send_nothing(key: str, wire: Wire, mocked: responses.RequestsMock):
    cls = registry.service_class(key)
    world = WORLDS[key]()
    service = world.service(lambda record: None)
    calls: dict[str, Call] = {
        "supports": lambda s, w: s.supports("place_order"),
        "credential": lambda s, w: s.credential(s.credential_fields[0].name),
        "option": lambda s, w: s.option("rate_limit"),
        "refusal": lambda s, w: s.refusal("place_order"),
        "validate_for_placement": lambda s, w: s.validate_for_placement(order_request(w.order)),
        "order_state_after_items": lambda s, w: s.order_state_after_items(
            w.order, list(w.order.items.all())),
        "account_id_for": lambda s, w: s.account_id_for(w.order),
    }
    assert set(calls) == set(NO_HTTP)
    names = [n for n, _ in public_methods(cls) if n in NO_HTTP]
    assert names
    for name in names:
        calls[name](service, world)
    assert wire.events == [] and len(mocked.calls) == 0


def test_an_unlisted_public_method_fails_the_enumeration():
    class Extra(registry.service_class("tipser")):  # type: ignore[misc,valid-type]
        def push_invoice(self, order: Order) -> None:  # a verb added later
            self.client.request("POST", "/invoices", operation="push_invoice", idempotent=False)

    names = dict(public_methods(Extra))
    assert names["push_invoice"] is Extra
    assert call_for("tipser", "push_invoice", Extra) == ("missing", None)
    # what it inherits keeps its spec
    assert call_for("tipser", "fetch_order", names["fetch_order"])[0] == "http"


@pytest.mark.django_db
def test_a_call_outside_the_old_operation_list_now_waits_for_its_slot(
    mocked: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
):
    """Reseller custom fields and Aliseeks merchant registration used to run unlimited."""
    waits: list[float] = []

    class Clock:  # time stands still but for the limiter's sleeps
        now = 5000.0

        @classmethod
        def time(cls) -> float:
            return cls.now

        @classmethod
        def sleep(cls, seconds: float) -> None:
            waits.append(round(seconds, 3))
            cls.now += seconds

    monkeypatch.setattr(ratelimit, "time", Clock)
    monkeypatch.setattr(ratelimit, "sleep", Clock.sleep)
    cache.clear()
    world = _reseller()
    world.account.options = {**world.account.options, "rate_limit": 1}
    world.account.save()
    _route(world, mocked)
    service = world.service(lambda record: None)
    service.custom_fields_get(order_request(world.order))  # token + GET: the second waits a window
    assert len(mocked.calls) == 2 and waits == [1.0]

    ali = _aliseeks()
    ali.account.options = {"rate_limit": 1}
    ali.account.save()
    _route(ali, mocked)
    service = ali.service(lambda record: None)
    service.register_merchant(redirect_url="https://dropdesk.example.test/back")
    service.register_merchant(redirect_url="https://dropdesk.example.test/back")
    assert waits == [1.0, 1.0]  # another account's budget: only its own second call waited
    cache.clear()


@pytest.mark.django_db
def test_a_call_refused_by_the_limiter_is_recorded_and_not_sent(
    mocked: responses.RequestsMock, settings: Any, caplog: pytest.LogCaptureFixture
):
    settings.RATE_LIMIT_MAX_WAIT = 0
    cache.clear()
    world = _brandsdistribution()
    world.account.options = {**world.account.options, "rate_limit": 0.001}
    world.account.save()
    _route(world, mocked)
    records: list[CallRecord] = []
    service = world.service(records.append)
    caplog.set_level(logging.INFO, logger="providers.http")
    service.list_carriers()
    with pytest.raises(ProviderError) as refused:
        service.list_carriers()
    assert refused.value.operation == "rate_limit"
    assert len(mocked.calls) == 1
    assert [r.outcome for r in records] == ["ok", "unavailable"]
    assert records[1].http_status is None and "not sent" in records[1].message
    assert [getattr(r, "outcome", None) for r in caplog.records
            if r.name == "providers.http"] == ["ok", "unavailable"]
    cache.clear()


def test_no_provider_sends_http_beside_the_client():
    """Only providers/http.py holds a session; no provider module calls ``requests`` itself."""
    from pathlib import Path

    root = Path(registry.__file__).resolve().parent
    sending = re.compile(r"\brequests\.(get|post|put|patch|delete|head|request|Session)\(|"
                         r"\bsession_for\(|\bProviderSession\(|\burlopen\(|\bhttpx\.")
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "http.py" and sending.search(p.read_text())]
    assert offenders == []
