"""API parity, generated (issue 14): every operator verb of the admin has an API route with the
same permission rule.

The verbs come from the admin at runtime — every registered ModelAdmin's actions (as a
superuser is offered them), its extra URLs (object tools, per-object views; the generic
``…/transition/<name>/`` URL stands for the transitions below) and the state-machine
transitions its change page offers (``custom["admin"]`` not false). Each is either mapped to a
route in ``config.api_parity.API_ROUTES`` or listed, with its reason, in ``ADMIN_ONLY`` /
``ADMIN_ONLY_APPS``. A new admin action, view or transition without a route fails here.

For each mapped verb: the route exists (URLconf and OpenAPI schema) with a state-changing
method; the admin asks for the declared permission (actions: ``has_<p>_permission``;
transitions: their ``permission``; views: POSTed by a user lacking it → 403, with it → not
403); and so does the API (lacking it → 403, with it → not 403). "Lacking" is a staff user
with every other permission, so the declared permission is the one that decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver
from django_fsm import FSMFieldMixin
from drf_spectacular.generators import SchemaGenerator
from rest_framework.permissions import SAFE_METHODS
from rest_framework.schemas.generators import EndpointEnumerator
from rest_framework.test import APIClient

from config.api_parity import ADMIN_ONLY, ADMIN_ONLY_APPS, API_ROUTES, Route
from merchants.services import integration_create
from orders.models import Order, OrderItem
from pipeline.models import SalesRouting, SupplierOffer
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory
from webhooks.models import WebhookDelivery, WebhookEvent, WebhookSubscription

GENERIC_TRANSITION_URL = "<str:transition_name>"


# --- the verbs, from the admin -----------------------------------------------------------------
def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _superuser_request() -> Any:
    from django.contrib.auth import get_user_model

    request = RequestFactory().get("/")
    request.user = get_user_model()(username="parity", is_superuser=True, is_staff=True,
                                    is_active=True)
    return request


def _admin_transitions(model: type, model_admin: admin.ModelAdmin) -> dict[str, set[Any]]:
    """Transition name → the permissions it declares (one per source), for the FSM fields
    the admin shows buttons for."""
    out: dict[str, set[Any]] = {}
    for name in getattr(model_admin, "fsm_fields", None) or []:
        field = model._meta.get_field(name)
        assert isinstance(field, FSMFieldMixin)
        for t in field.get_all_transitions(model):
            if t.custom.get("admin", True):
                out.setdefault(t.name, set()).add(t.permission)
    return out


def admin_verbs() -> dict[str, dict[str, Any]]:
    """Every operator verb of the admin: key → what it is (for the permission checks)."""
    request = _superuser_request()
    verbs: dict[str, dict[str, Any]] = {}
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        for name, (func, _n, _d) in model_admin.get_actions(request).items():
            verbs[f"{label} action {name}"] = {"admin": model_admin, "func": func}
        plain = {p.name for _r, p in _walk(admin.ModelAdmin(model, admin.site).get_urls())}
        for route, pattern in _walk(model_admin.get_urls()):
            if pattern.name in plain or GENERIC_TRANSITION_URL in route:
                continue  # add/change/delete/history pages; the transition URL: below
            verbs[f"{label} url {pattern.name}"] = {"admin": model_admin, "route": route}
        for name, permissions in _admin_transitions(model, model_admin).items():
            verbs[f"{label} transition {name}"] = {"admin": model_admin,
                                                   "permissions": permissions}
    return verbs


def _excluded(key: str) -> bool:
    return key in ADMIN_ONLY or key.split(".", 1)[0] in ADMIN_ONLY_APPS


def test_every_admin_verb_has_an_api_route_or_a_reason():
    verbs = admin_verbs()
    missing = sorted(k for k in verbs if k not in API_ROUTES and not _excluded(k))
    assert missing == [], ("admin verbs without an API route (add one to "
                           f"config/api_parity.API_ROUTES, or a reason to ADMIN_ONLY): {missing}")
    stale = sorted(k for k in [*API_ROUTES, *ADMIN_ONLY] if k not in verbs)
    assert stale == [], f"entries for verbs the admin no longer has: {stale}"
    assert not set(API_ROUTES) & set(ADMIN_ONLY)
    # the derivation sees what it must (a weak walk would pass the check above trivially)
    for key in ("orders.Order transition accept_shortfall", "orders.Order action place_selected",
                "orders.Order url orders_order_custom_fields",
                "merchants.ProviderAccount action sync_now", "orders.OrderItem transition hold"):
        assert key in verbs, key
    assert len(API_ROUTES) >= 45


def test_a_new_admin_action_without_a_route_fails(monkeypatch):
    from orders.admin import OrderAdmin

    @admin.action(description="Frobnicate", permissions=["run_transitions"])
    def frobnicate_selected(modeladmin: Any, request: Any, queryset: Any) -> None:
        pass

    monkeypatch.setattr(OrderAdmin, "actions", [*OrderAdmin.actions, frobnicate_selected])
    verbs = admin_verbs()
    assert "orders.Order action frobnicate_selected" in verbs
    with pytest.raises(AssertionError, match="frobnicate_selected"):
        test_every_admin_verb_has_an_api_route_or_a_reason()


def test_order_transitions_offered_by_the_admin_are_the_api_transitions():
    """The transition catalogue (services.order_run_transition via the API's transition
    routes) covers every button the admin's order page can show."""
    from orders.api.serializers import TRANSITION_PAYLOADS

    offered = {k.rsplit(" ", 1)[1] for k in admin_verbs()
               if k.startswith("orders.Order transition ")}
    assert offered == set(TRANSITION_PAYLOADS)


# --- the routes exist and change state ---------------------------------------------------------
def test_every_route_exists_with_a_state_changing_method():
    endpoints = {(path, method) for path, method, _cb in EndpointEnumerator().get_api_endpoints()}
    schema = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for key, route in API_ROUTES.items():
        assert route.method not in SAFE_METHODS, key
        assert (route.path, route.method) in endpoints, f"{key}: no {route.method} {route.path}"
        documented = route.path.replace("{pk}", "{id}")
        assert route.method.lower() in schema.get(documented, {}), f"{key}: not in the schema"


# --- the same permission, admin and API --------------------------------------------------------
def _perm(code: str) -> Permission:
    app, codename = code.split(".", 1)
    return Permission.objects.get(content_type__app_label=app, codename=codename)


def _user_with(django_user_model: Any, code: str, n: int) -> Any:
    """Staff, every view permission and ``code``."""
    user = django_user_model.objects.create_user(f"with-{n}", password="pw", is_staff=True)
    user.user_permissions.set([*Permission.objects.filter(codename__startswith="view_"),
                               _perm(code)])
    return django_user_model.objects.get(pk=user.pk)  # fresh: no permission cache


def _user_without(django_user_model: Any, code: str, n: int) -> Any:
    """Staff with every permission but ``code``."""
    user = django_user_model.objects.create_user(f"without-{n}", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.exclude(pk=_perm(code).pk))
    return django_user_model.objects.get(pk=user.pk)


@pytest.fixture
def world(db, mocked) -> dict[str, Any]:
    from tests.fake_provider import FakeService  # noqa: F401  (registered for the factories)

    merchant = MerchantFactory()
    order = OrderFactory(merchant=merchant)
    item = OrderItemFactory(order=order)
    integration, _key = integration_create(name="hooks", merchants=[merchant])
    subscription = WebhookSubscription.objects.create(integration=integration,
                                                      url="https://hooks.example.com/x")
    event = WebhookEvent.objects.create(type="webhook.test", merchant=merchant)
    WebhookDelivery.objects.create(event=event, subscription=subscription)
    offer = SupplierOffer.objects.create(sales_sku="S-1", supplier=merchant, expected_cost=1)
    SalesRouting.objects.create(order=order, status="held")
    return {"merchant": merchant, "order": order, "item": item, "account": merchant.account,
            "subscription": subscription, "event": event, "offer": offer}


def _api_url(route: Route, world: dict[str, Any]) -> str:
    path = route.path
    if path.startswith(("/api/v1/orders/", "/api/v1/pipeline/orders/")):
        obj: Any = world["order"]
    elif path.startswith("/api/v1/accounts/"):
        obj = world["account"]
    elif path.startswith("/api/v1/merchants/"):
        obj = world["merchant"]
    elif path.startswith("/api/v1/webhooks/subscriptions/"):
        obj = world["subscription"]
    elif path.startswith("/api/v1/webhooks/events/"):
        obj = world["event"]
    elif path.startswith("/api/v1/supplier-offers/"):
        obj = world["offer"]
    else:
        raise AssertionError(f"teach this test which object {path} acts on")
    return path.replace("{pk}", str(obj.pk)).replace("{item_pk}", str(world["item"].pk))


def _rolled_back(send: Any) -> Any:
    with transaction.atomic():
        response = send()
        transaction.set_rollback(True)
    return response


def test_api_routes_require_the_admin_permission(world, django_user_model):
    checked = 0
    seen: set[tuple[str, str, str, str]] = set()
    for n, (key, route) in enumerate(sorted(API_ROUTES.items())):
        probe = (route.method, route.path, route.permission, json.dumps(route.body))
        if probe in seen:
            continue
        seen.add(probe)
        url = _api_url(route, world)
        for user, refused in ((_user_without(django_user_model, route.permission, n), True),
                              (_user_with(django_user_model, route.permission, n), False)):
            client = APIClient()
            client.force_login(user)
            response = _rolled_back(lambda client=client, url=url, route=route: client.generic(
                route.method, url, data=json.dumps(route.body), content_type="application/json"))
            if refused:
                assert response.status_code == 403, (
                    f"{key}: {route.method} {url} answered {response.status_code} to a user "
                    f"without {route.permission}")
            else:
                assert response.status_code != 403, (
                    f"{key}: {route.method} {url} refused a user with {route.permission}: "
                    f"{response.content[:300]!r}")
        checked += 1
    assert checked >= 25


def test_admin_actions_and_transitions_require_the_declared_permission(db, django_user_model):
    request = RequestFactory().get("/")
    checked = 0
    for n, (key, verb) in enumerate(sorted(admin_verbs().items())):
        route = API_ROUTES.get(key)
        if route is None:
            continue
        if "func" in verb:
            declared = getattr(verb["func"], "allowed_permissions", ())
            assert declared, f"{key}: the admin action declares no permission"
            for allowed, user in ((True, _user_with(django_user_model, route.permission, n)),
                                  (False, _user_without(django_user_model, route.permission, n))):
                request.user = user
                for p in declared:
                    assert getattr(verb["admin"], f"has_{p}_permission")(request) is allowed, (
                        f"{key}: the admin's '{p}' is not {route.permission}")
            checked += 1
        elif "permissions" in verb:
            assert verb["permissions"] == {route.permission}, (
                f"{key}: the transition asks for {verb['permissions']}, the API for "
                f"{route.permission}")
            checked += 1
    assert checked >= 30


def _admin_url(route: str, world: dict[str, Any], model: type) -> str:
    obj = {Order: world["order"]}.get(model) or model._base_manager.order_by("pk").first()
    assert obj is not None, f"no {model._meta.label} for {route}"

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("object_id", "pk", "id"):
            return str(obj.pk)
        if name == "item_pk":
            return str(OrderItem.objects.filter(order=obj).order_by("pk").first().pk)
        raise AssertionError(f"teach this test to fill <{name}> in {route}")

    return "/admin/" + f"{model._meta.app_label}/{model._meta.model_name}/" + re.sub(
        r"<(?:\w+:)?(\w+)>", fill, route)


def test_admin_views_require_the_declared_permission(world, django_user_model):
    checked = 0
    for n, (key, verb) in enumerate(sorted(admin_verbs().items())):
        route = API_ROUTES.get(key)
        if route is None or "route" not in verb:
            continue
        url = _admin_url(verb["route"], world, verb["admin"].model)
        for user, refused in ((_user_without(django_user_model, route.permission, n), True),
                              (_user_with(django_user_model, route.permission, n), False)):
            client = Client()
            client.force_login(user)
            response = _rolled_back(lambda client=client, url=url: client.post(url, {}))
            assert (response.status_code == 403) is refused, (
                f"{key}: POST {url} by a user {'without' if refused else 'with'} "
                f"{route.permission} answered {response.status_code}")
        checked += 1
    assert checked >= 10
