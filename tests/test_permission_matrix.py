"""Every non-safe admin action, admin view and API route declares its permission (issue 21).

Nothing here is a hand-written list of what to check: the admin actions come from the admin
registry (every registered ModelAdmin), the admin URLs from each admin's ``get_urls`` (custom
views included, transition names from the models' state machines), the API routes × methods
from the URL resolver (DRF's ``EndpointEnumerator``, the same walk the OpenAPI generator
does). A new action, view or route is checked the day it is added; one that lets the
Read-only group (or a token scoped to another merchant) change anything fails here.

"Nothing changed" is measured, not assumed: a fingerprint of every row of every model (minus
sessions and the last-login / last-used stamps) before and after, plus the provider calls seen
at the wire (``responses``: none is registered, any call is recorded).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver
from django.utils import timezone
from django_fsm import FSMFieldMixin
from rest_framework.permissions import SAFE_METHODS
from rest_framework.schemas.generators import EndpointEnumerator
from rest_framework.test import APIClient

from merchants.models import AuthorizationRequest, Merchant, MerchantEvent, ProviderAccount
from merchants.services import integration_create
from orders.models import Order, OrderEvent, OrderItem, Shipment
from pipeline.models import RoutingPolicy, SalesRouting, SupplierOffer, TrackingPush
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory
from webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription

pytestmark = pytest.mark.django_db
groups_migration = importlib.import_module("orders.migrations.0002_groups")

IGNORED_APPS = {"sessions", "contenttypes"}
IGNORED_FIELDS = {"last_login", "last_used_at"}  # stamps of who logged in / used a token
# The admin site's own pages (log in and out, change one's own password, lookups): about
# the user's session, not the data; they are still checked for "GET changes nothing".
SITE_URL_NAMES = {"index", "login", "logout", "password_change", "password_change_done",
                  "autocomplete", "jsi18n", "view_on_site", "app_list", None}
# One generous body for every admin POST: the fields our forms ask for, so that a view that
# would act on a valid form gets one (a bare POST proving nothing would make the test weak).
ADMIN_PROBE = {"text": "probe note", "tracking_number": "PROBE-1", "carrier": "Other",
               "carrier_name": "Other", "placed": "yes", "external_id": "PROBE",
               "reason": "probe", "post": "yes", "confirm": "yes", "name": "probe",
               "quantity": "1", "_save": "Save"}
API_PROBE_ITEMS = [{"sku": "PROBE", "quantity": 1}]


# --- the world: two merchants, objects of each kind ------------------------------------------
def _poll_execution(self: Any, order: Any) -> Any:
    """The fake provider gains an execution poll (a real call at the wire) for this test, so
    the execution-poll page is reached for a placed order as with the reseller."""
    self.client.request("GET", f"/orders/{order.external_id}/execution",
                        operation="execution_status", idempotent=True)
    raise AssertionError("the fake provider has no execution to report")


@pytest.fixture
def world(db, django_user_model, monkeypatch) -> dict[str, Any]:
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    from providers.brandsdistribution import models as bd
    from tests.fake_provider import FakeService

    monkeypatch.setattr(FakeService, "poll_execution", _poll_execution, raising=False)
    groups_migration.create_groups(django_apps, None)
    mine = MerchantFactory(name="Mine")
    other = MerchantFactory(name="Other")
    draft = OrderFactory(merchant=other)
    item = OrderItemFactory(order=draft)
    placed = OrderFactory(merchant=other, state="placed", external_id="X-1", raw_status="NEW")
    OrderItemFactory(order=placed)
    shipment = placed.shipments.create(tracking_number="TRK-1")
    OrderEvent.objects.create(order=draft, kind="note", message="hello")
    MerchantEvent.objects.create(merchant=other, kind="created", message="created")
    AuthorizationRequest.objects.create(merchant=other, token_hash="0" * 64,
                                        expires_at=timezone.now() + dt.timedelta(days=1))
    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(name="probe", task="merchants.tasks.noop", interval=every)
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    CrontabSchedule.objects.create(minute="5")
    SolarSchedule.objects.create(event="sunrise", latitude=48.85, longitude=2.35)
    bd.SandboxStock.objects.create(stock_id=1, name="Bag", available=3)
    bd.SandboxLock.objects.create(api_key="k", stock_id=1, locked=1)
    bd.SandboxOrder.objects.create(api_key="k", ext_ref="R1")
    _integration, scoped_key = integration_create(name="scoped-to-mine", merchants=[mine])
    # webhooks and the order pipeline: objects of the other merchant
    theirs, _ = integration_create(name="other-integration", merchants=[other])
    subscription = WebhookSubscription.objects.create(integration=theirs, url="https://hooks.example.com/x")
    event = WebhookEvent.objects.create(type="webhook.test", merchant=other)
    WebhookDelivery.objects.create(event=event, subscription=subscription)
    SupplierOffer.objects.create(sales_sku="S-1", supplier=other, expected_cost=1)
    RoutingPolicy.objects.create(account=other.account)
    SalesRouting.objects.create(order=placed, status="held")
    TrackingPush.objects.create(supplier_shipment=shipment, sales_order=placed)
    readonly = django_user_model.objects.create_user("ro", password="pw", is_staff=True)
    readonly.groups.add(Group.objects.get(name="Read-only"))
    root = django_user_model.objects.create_superuser("root", password="pw")
    return {"mine": mine, "other": other, "draft": draft, "item": item, "placed": placed,
            "shipment": shipment, "scoped_key": scoped_key, "readonly": readonly,
            "root": root}


def fingerprint() -> dict[str, list[str]]:
    out = {}
    for model in django_apps.get_models():
        opts = model._meta
        if opts.app_label in IGNORED_APPS or opts.proxy:
            continue
        fields = [f.attname for f in opts.concrete_fields if f.name not in IGNORED_FIELDS]
        out[opts.label] = sorted(map(repr, model._base_manager.values_list(*fields)))
    return out


class Probe:
    """Runs one request and says what it changed (rows, provider calls)."""

    def __init__(self, mocked: Any, capture: Any) -> None:
        self.mocked, self.capture = mocked, capture
        self.state: dict[str, list[str]] | None = None  # the fingerprint now, when known

    def run(self, send: Any, *, rollback: bool = False) -> tuple[Any, list[str], int]:
        before = self.state if self.state is not None else fingerprint()
        calls = len(self.mocked.calls)
        with transaction.atomic():
            with self.capture(execute=True):  # on_commit work (tasks, after-form calls) too
                response = send()
            after = fingerprint()
            changed = [label for label in sorted(set(before) | set(after))
                       if before.get(label) != after.get(label)]
            if rollback:
                transaction.set_rollback(True)
        self.state = before if rollback else after
        return response, changed, len(self.mocked.calls) - calls


@pytest.fixture
def probe(mocked, django_capture_on_commit_callbacks) -> Probe:
    return Probe(mocked, django_capture_on_commit_callbacks)


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- admin: actions --------------------------------------------------------------------------
def _admin_actions() -> Iterator[tuple[admin.ModelAdmin, str, Any]]:
    for model_admin in admin.site._registry.values():
        for func, name, _description in model_admin._get_base_actions():
            yield model_admin, name, func


def test_every_admin_action_declares_its_permission():
    undeclared = [f"{type(ma).__name__}.{name}" for ma, name, func in _admin_actions()
                  if not getattr(func, "allowed_permissions", None)]
    assert undeclared == [], f"admin actions without permissions=[...]: {undeclared}"
    # each declared permission is one the admin can check
    for model_admin, name, func in _admin_actions():
        for perm in func.allowed_permissions:
            assert callable(getattr(model_admin, f"has_{perm}_permission", None)), (
                f"{type(model_admin).__name__}.{name}: no has_{perm}_permission()")


def test_readonly_group_cannot_run_any_admin_action(world, probe):
    client = _login(world["readonly"])
    request = RequestFactory().get("/")
    request.user = world["readonly"]
    checked = 0
    for model_admin, name, func in _admin_actions():
        opts = model_admin.model._meta
        pks = list(model_admin.model._base_manager.values_list("pk", flat=True))
        reads = set(getattr(func, "allowed_permissions", ())) == {"view"}  # e.g. a CSV export
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        body = {k: v for k, v in ADMIN_PROBE.items() if k != "_save"}  # _save: no action
        response, changed, calls = probe.run(
            lambda url=url, name=name, pks=pks, body=body: client.post(
                url, {**body, "action": name, "_selected_action": pks, "index": 0}))
        where = f"{opts.label} action {name}"
        assert changed == [] and calls == 0, f"{where}: changed {changed}, {calls} calls"
        assert reads or response.status_code == 403 or name not in model_admin.get_actions(request), (
            f"{where} is offered to the Read-only group")
        checked += 1
    assert checked >= 20


# --- admin: URLs -----------------------------------------------------------------------------
def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _transition_names(model: type) -> list[str]:
    names: set[str] = set()
    for field in model._meta.fields:
        if isinstance(field, FSMFieldMixin):
            names |= {t.name for t in field.get_all_transitions(model)}
    return sorted(names)


def _admin_urls() -> Iterator[tuple[str | None, str]]:
    """(url name, concrete URL) for every admin URL; parameters filled from the database
    (an object of the admin's model, an item of that order, every transition name)."""
    owner = {}
    for model, model_admin in admin.site._registry.items():
        for route, pattern in _walk(model_admin.get_urls()):
            owner[(route, pattern.name)] = model
    for route, pattern in _walk(admin.site.get_urls()):
        if pattern.name in SITE_URL_NAMES:
            if "<" not in route and "(?P" not in route:
                yield pattern.name, "/admin/" + route
            continue
        model = next((m for (r, n), m in owner.items()
                      if n == pattern.name and route.endswith(r)), None)
        assert model is not None, f"admin URL {route} ({pattern.name}) has no ModelAdmin"
        yield from _filled(pattern.name, route, model)


def _filled(name: str | None, route: str, model: Any) -> Iterator[tuple[str | None, str]]:
    if "<" not in route:
        yield name, "/admin/" + route
        return
    objs = list(model._base_manager.order_by("pk")[:2])  # e.g. a draft and a placed order
    assert objs, f"the world has no {model._meta.label} for {route}: add one"
    for obj in objs:
        values: dict[str, list[str]] = {}
        for param in re.findall(r"<(?:\w+:)?(\w+)>", route):
            if param in ("object_id", "pk", "id"):
                values[param] = [str(obj.pk)]
            elif param == "item_pk":
                values[param] = [str(OrderItem.objects.filter(order=obj).first().pk)]
            elif param == "transition_name":
                values[param] = _transition_names(model)
            else:
                raise AssertionError(f"admin URL {route}: teach this test to fill <{param}>")
        combos: list[dict[str, str]] = [{}]
        for param, options in values.items():
            combos = [{**c, param: v} for c in combos for v in options]
        for combo in combos:
            url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m, c=combo: c[m.group(1)], route)
            yield name, "/admin/" + url


def test_readonly_group_is_refused_every_state_changing_admin_url(world, probe):
    """POSTed by the Read-only group, no admin URL changes anything or calls a provider; and
    each either refuses (403/405, or a redirect back with a message) or is a read view: the
    same POST by a superuser changes nothing either (history, CSV export, status graphs)."""
    readonly, root = _login(world["readonly"]), _login(world["root"])
    checked = refused = 0
    for name, url in _admin_urls():
        if name in SITE_URL_NAMES:
            continue
        response, changed, calls = probe.run(lambda url=url: readonly.post(url, ADMIN_PROBE))
        assert changed == [] and calls == 0, (
            f"Read-only POST {url} changed {changed} / made {calls} provider call(s)")
        checked += 1
        if response.status_code in (302, 403, 405):  # forbidden, or sent back with a
            refused += 1                               # message (nothing changed: above)
            continue
        _r, root_changed, root_calls = probe.run(lambda url=url: root.post(url, ADMIN_PROBE),
                                                 rollback=True)
        assert root_changed == [] and root_calls == 0, (
            f"{url} changes {root_changed} ({root_calls} provider calls) for a superuser but "
            f"answered the Read-only group {response.status_code}, not 403: declare and check "
            "its permission")
    assert checked >= 60 and refused >= 40, (checked, refused)


def test_no_admin_url_changes_anything_on_get(world, probe):
    """State changes only on POST: a superuser's GET of every admin URL (custom views, each
    transition) renders a page, a confirmation form or a 405 — and changes nothing."""
    root = _login(world["root"])
    checked = 0
    for _name, url in _admin_urls():
        response, changed, calls = probe.run(lambda url=url: root.get(url), rollback=True)
        assert response.status_code < 500, url
        assert changed == [] and calls == 0, (
            f"GET {url} changed {changed} / made {calls} provider call(s)")
        checked += 1
    assert checked >= 100


# --- API -------------------------------------------------------------------------------------
def _api_routes() -> Iterator[tuple[str, str, Any]]:
    for path, method, callback in EndpointEnumerator().get_api_endpoints():
        if path.startswith("/api/v1/") and method not in SAFE_METHODS:
            yield path, method, callback


def _api_url(path: str, callback: Any, merchant: Merchant) -> str:
    """The route with its ids pointing at objects of ``merchant``."""
    model = callback.cls.queryset.model
    names = {f.name for f in model._meta.get_fields()}
    obj = merchant if model is Merchant else None
    lookups = ("merchant", "order__merchant", "merchants", "supplier", "integration__merchants")
    for lookup in lookups:  # how objects name a merchant
        if obj is None and lookup.split("__")[0] in names:
            obj = model._base_manager.filter(**{lookup: merchant}).order_by("pk").first()

    def fill(match: re.Match[str]) -> str:
        param = match.group(1)
        if param == "pk":
            assert obj is not None, f"{path}: no {model._meta.label} of {merchant}"
            return str(obj.pk)
        if param == "item_pk":
            return str(OrderItem.objects.filter(order=obj).order_by("pk").first().pk)
        if param == "name":
            return "cancel"
        raise AssertionError(f"API route {path}: teach this test to fill {{{param}}}")

    return re.sub(r"\{(\w+)\}", fill, path)


def _api_probe(world: dict[str, Any]) -> dict[str, Any]:
    other = world["other"]
    return {"merchant": other.pk, "account": other.account_id, "name": "probe",
            "items": API_PROBE_ITEMS, "text": "probe", "tracking_number": "PROBE-1",
            "carrier": "Other", "mode": "link", "provider": "fake",
            "item_ids": [world["item"].pk], "status": "cancelled"}


def test_every_non_safe_api_route_is_found():
    routes = {(method, path) for path, method, _cb in _api_routes()}
    assert ("POST", "/api/v1/orders/") in routes
    assert ("POST", "/api/v1/merchants/{pk}/authorize/") in routes
    assert ("DELETE", "/api/v1/orders/{pk}/items/{item_pk}/") in routes
    assert len(routes) >= 20


def test_readonly_group_is_refused_every_non_safe_api_route(world, probe):
    client = APIClient()
    client.force_login(world["readonly"])
    body = _api_probe(world)
    for path, method, callback in _api_routes():
        url = _api_url(path, callback, world["other"])
        response, changed, calls = probe.run(
            lambda url=url, method=method: client.generic(
                method, url, data=json.dumps(body),
                content_type="application/json"))
        assert response.status_code == 403, (method, url, response.status_code)
        assert changed == [] and calls == 0, (method, url, changed, calls)


def test_token_scoped_to_another_merchant_is_refused_every_non_safe_api_route(world, probe):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world['scoped_key']}")
    client.get("/api/v1/orders/")  # the token's first use stamps last_used_at
    body = _api_probe(world)
    for path, method, callback in _api_routes():
        url = _api_url(path, callback, world["other"])
        on_object = "{" in path
        response, changed, calls = probe.run(
            lambda url=url, method=method: client.generic(
                method, url, data=json.dumps(body),
                content_type="application/json"))
        allowed = (403, 404) if on_object else (400, 403, 404)
        assert response.status_code in allowed, (method, url, response.status_code)
        assert changed == [] and calls == 0, (method, url, changed, calls)
    assert Order.objects.filter(merchant=world["other"]).count() == 2
    assert Shipment.objects.count() == 1 and ProviderAccount.objects.count() == 2
