"""The admin's provider verbs through the API (issue 14): accept shortfall, provider drafts
with item push/remove, custom fields, item characteristics, carriers, the provider lookup,
acknowledge-all, execution status, sync with its cooldown; and ``--staff`` tokens managing
provider accounts."""

from __future__ import annotations

import importlib
import json
from decimal import Decimal
from io import StringIO

import pytest
import requests
import responses
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from merchants.models import ProviderAccount
from merchants.services import integration_create
from merchants.tokens import api_token_issue
from orders import services
from orders.models import Order, OrderEvent
from tests.admin.conftest import set_state
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL, FakeService
from tests.providers.reseller.test_sandbox import _account, bridge

from .conftest import token_client

pytestmark = pytest.mark.django_db


def _url(order: Order, rest: str) -> str:
    return f"/api/v1/orders/{order.pk}/{rest}"


# --- accept shortfall ---------------------------------------------------------------------------
def test_accept_shortfall_is_a_transition_route(api, merchant):
    order = OrderFactory(merchant=merchant, shipping_total=Decimal("5.00"))
    OrderItemFactory(order=order, quantity=10, confirmed_quantity=4, unit_price=Decimal("2.00"))
    OrderItemFactory(order=order, quantity=3, confirmed_quantity=3, unit_price=Decimal("1.00"))
    services.totals_recalculate(order)
    order = set_state(order, "placed", external_id="E-77")
    listed = {row["name"] for row in api.get(_url(order, "transitions/")).json()}
    assert "accept_shortfall" in listed
    response = api.post(_url(order, "transitions/accept_shortfall/"), {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["order"]["total"] == "16.00"
    assert sorted(i["quantity"] for i in response.json()["order"]["items"]) == [3, 4]
    # nothing short any more: refused with the transitions allowed now
    again = api.post(_url(order, "transitions/accept_shortfall/"), {}, format="json")
    assert again.status_code == 409 and "allowed" in again.json()["error"]
    assert api.post(_url(order, "transitions/accept_shortfall/"), {"x": 1},
                    format="json").status_code == 400


# --- reseller v3: provider draft, items at the provider, custom fields, characteristics -------
@pytest.fixture
def sandbox(mocked):
    bridge(mocked)
    return mocked


@pytest.fixture
def reseller_order(db):
    order = OrderFactory(merchant=MerchantFactory(account=_account()))
    OrderItemFactory(order=order, product_id="P1")
    return order


def test_provider_draft_then_items_pushed_and_removed_there(
        api, reseller_order, sandbox, django_capture_on_commit_callbacks):
    order = reseller_order
    with django_capture_on_commit_callbacks() as worker:
        response = api.post(_url(order, "provider-draft/"), format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "accepted" and len(sandbox.calls) == 0
    for task in worker:
        task()
    body = api.get(_url(order, "")).json()
    assert body["external_id"] and body["items"][0]["external_id"]
    again = api.post(_url(order, "provider-draft/"), format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_allowed"
    calls = len(sandbox.calls)
    with django_capture_on_commit_callbacks() as worker:
        added = api.post(_url(order, "items/"), {"product_id": "P2", "sku": "P2", "quantity": 1},
                         format="json")
    assert added.status_code == 201, added.json()
    assert added.json()["external_id"] == ""  # saved here; the worker pushes it
    assert len(sandbox.calls) == calls and worker
    for task in worker:
        task()
    item_url = _url(order, f"items/{added.json()['id']}/")
    pushed = api.get(item_url).json()
    assert pushed["external_id"]  # now at the provider draft
    calls = len(sandbox.calls)
    with django_capture_on_commit_callbacks() as worker:
        removed = api.delete(item_url)
    assert removed.status_code == 202, removed.content
    assert removed.json()["status"] == "accepted"
    assert removed["Location"] == _url(order, "")
    assert len(sandbox.calls) == calls and worker  # nothing sent inside the request
    assert api.get(item_url).status_code == 200  # still here until the worker deleted it there
    for task in worker:
        task()
    assert api.get(item_url).status_code == 404
    assert order.items.count() == 1


def test_an_item_removal_the_provider_refuses_leaves_the_item_with_the_reason(
        api, mocked, django_capture_on_commit_callbacks):
    import responses as rsps

    from tests.providers.reseller.conftest import BASE, CREDENTIALS, ORDERS, add_token

    account = AccountFactory(provider="reseller", base_url=BASE, credentials=dict(CREDENTIALS),
                             options={"edition": "standard", "account_id": "ACC-1001"})
    order = OrderFactory(merchant=MerchantFactory(account=account, external_id="ACC-1001"),
                         external_id="5001", external_ids=["5001"], raw_status="Draft")
    item = OrderItemFactory(order=order, product_id="P1", external_id="7001")
    add_token(mocked)
    delete = mocked.add(rsps.DELETE, f"{ORDERS}/5001/items/7001", status=400,
                        json={"message": "Order 5001 is not in Draft status (it is Submitted)."})
    with django_capture_on_commit_callbacks() as worker:
        response = api.delete(_url(order, f"items/{item.pk}/"))
    assert response.status_code == 202, response.content
    assert len(mocked.calls) == 0  # the provider is the worker's business
    for task in worker:
        task()
    assert delete.call_count == 1
    detail = api.get(_url(order, "")).json()
    assert [i["id"] for i in detail["items"]] == [item.pk]  # still here
    assert detail["state"] == "draft" and "not in Draft status" in detail["failure_reason"]
    errors = [e["message"] for e in detail["timeline"] if e["kind"] == "error"]
    assert len(errors) == 1 and "not in Draft status" in errors[0]
    assert any(e["message"] == f"Removing item '{item}' queued" for e in detail["timeline"])


def test_provider_draft_refused_for_providers_without_drafts(api, order, mocked):
    response = api.post(_url(order, "provider-draft/"), format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_supported"
    assert len(mocked.calls) == 0


def read_by_the_worker(client, url, mocked, capture):
    """GET ``url``: 202 pending with no provider call in the request; the worker (the
    captured on-commit task) reads; the next GET answers 200 from what it stored."""
    calls = len(mocked.calls)
    with capture() as worker:
        pending = client.get(url)
    assert pending.status_code == 202, pending.json()
    assert pending.json()["status"] == "pending"
    assert int(pending["Retry-After"]) > 0 and pending["Location"] == url
    assert len(mocked.calls) == calls and len(worker) == 1  # nothing sent inside the request
    worker[0]()
    assert len(mocked.calls) > calls  # the worker read it
    calls = len(mocked.calls)
    ready = client.get(url)
    assert ready.status_code == 200, ready.json()
    assert len(mocked.calls) == calls  # served from the stored read
    return ready


def test_custom_fields_read_and_saved_at_the_provider(api, reseller_order, sandbox,
                                                      django_capture_on_commit_callbacks):
    order = services.order_provider_draft_create(order=reseller_order)
    url = _url(order, "custom-fields/")
    fields = read_by_the_worker(api, url, sandbox, django_capture_on_commit_callbacks)
    names = {f["name"] for f in fields.json()}
    assert "PONumber" in names
    calls = len(sandbox.calls)
    with django_capture_on_commit_callbacks() as worker:
        saved = api.put(url, {"values": {"PONumber": "PO-42"}}, format="json")
    assert saved.status_code == 202, saved.json()
    assert saved.json()["status"] == "accepted" and len(sandbox.calls) == calls
    for task in worker:
        task()
    # saving forgot the stored read: the next GET reads afresh and shows the new value
    values = {f["name"]: f["value"]
              for f in read_by_the_worker(api, url, sandbox,
                                          django_capture_on_commit_callbacks).json()}
    assert values["PONumber"] == "PO-42"
    assert order.events.filter(message__contains="Custom fields saved").exists()


def test_refresh_reads_again_and_is_a_strict_boolean(api, reseller_order, sandbox,
                                                     django_capture_on_commit_callbacks):
    order = services.order_provider_draft_create(order=reseller_order)
    url = _url(order, "custom-fields/")
    read_by_the_worker(api, url, sandbox, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks() as worker:
        again = api.get(url + "?refresh=true")
    assert again.status_code == 202 and len(worker) == 1
    assert again["Location"] == url  # asking there again does not re-read each time
    for bad in ("1", "yes", ""):
        refused = api.get(url + f"?refresh={bad}")
        assert refused.status_code == 400 and "refresh" in refused.json()["error"]["fields"]


def test_a_failed_read_answers_its_reason_in_the_error_shape(
        api, merchant, mocked, django_capture_on_commit_callbacks, monkeypatch):
    """The provider fails the worker's read: the next GET answers 502 with the reason in plain
    words (no 500); asking again queues a new read."""
    from providers.errors import ProviderUnavailable

    def fails(self, order=None):
        raise ProviderUnavailable("HTTP 503 from the provider: maintenance")

    monkeypatch.setattr(FakeService, "carrier_choices", fails, raising=False)
    order = OrderFactory(merchant=merchant, state="placed", external_id="991")
    url = _url(order, "carriers/")
    with django_capture_on_commit_callbacks(execute=True):
        assert api.get(url).status_code == 202
    failed = api.get(url)
    assert failed.status_code == 502, failed.json()
    error = failed.json()["error"]
    assert error["code"] == "provider_error" and error["order_id"] == order.pk
    assert error["message"] == ("Fake could not be reached or is busy (HTTP 503 from the "
                                "provider: maintenance); read again in a moment.")
    assert api.get(url).status_code == 202  # shown once, then read again


def test_a_read_the_provider_refuses_is_409(api, reseller_order, sandbox, monkeypatch,
                                            django_capture_on_commit_callbacks):
    from providers.errors import ProviderRejected
    from providers.reseller.service import ResellerService

    def refused(self, order, item):
        raise ProviderRejected("Item not found in order.", http_status=404)

    order = services.order_provider_draft_create(order=reseller_order)
    item = order.items.get()
    monkeypatch.setattr(ResellerService, "item_characteristics_get", refused)
    url = _url(order, f"items/{item.pk}/characteristics/")
    with django_capture_on_commit_callbacks(execute=True):
        assert api.get(url).status_code == 202
    refused = api.get(url)
    assert refused.status_code == 409, refused.json()
    assert refused.json()["error"]["code"] == "provider_rejected"
    assert "refused to give the item characteristics" in refused.json()["error"]["message"]
    assert order.events.filter(kind=OrderEvent.Kind.ERROR,
                               message__startswith="Reading item characteristics failed").exists()


@pytest.mark.parametrize("body, field", [
    ({}, "values"), ({"values": {}}, "values"), ({"values": {"PONumber": 5}}, "values"),
    ({"values": {" ": "x"}}, "values"), ({"values": {"a": "x"}, "extra": 1}, "extra"),
    ({"values": "PO-1"}, "values"),
])
def test_custom_fields_body_is_validated_naming_the_field(api, order, body, field, mocked):
    order = set_state(order, "placed", external_id="991")
    response = api.put(_url(order, "custom-fields/"), body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert len(mocked.calls) == 0


def test_custom_fields_of_an_order_not_at_the_provider_is_409(api, order):
    response = api.get(_url(order, "custom-fields/"))
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_allowed"


def test_item_characteristics_read_and_saved(api, reseller_order, sandbox,
                                            django_capture_on_commit_callbacks):
    order = services.order_provider_draft_create(order=reseller_order)
    item = order.items.get()
    url = _url(order, f"items/{item.pk}/characteristics/")
    read = read_by_the_worker(api, url, sandbox, django_capture_on_commit_callbacks)
    name = read.json()[0]["name"]
    calls = len(sandbox.calls)
    with django_capture_on_commit_callbacks() as worker:
        saved = api.put(url, {"values": {name: "Blue"}}, format="json")
    assert saved.status_code == 202, saved.json()
    assert len(sandbox.calls) == calls
    for task in worker:
        task()
    values = {v["name"]: v["value"]
              for v in read_by_the_worker(api, url, sandbox,
                                          django_capture_on_commit_callbacks).json()}
    assert values[name] == "Blue"
    other = OrderItemFactory(order=OrderFactory(merchant=order.merchant))
    assert api.get(_url(order, f"items/{other.pk}/characteristics/")).status_code == 404


def test_readonly_user_cannot_write_custom_fields(readonly_user, reseller_order, sandbox,
                                                  django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    order = services.order_provider_draft_create(order=reseller_order)
    client = APIClient()
    client.force_login(readonly_user)
    read_by_the_worker(client, _url(order, "custom-fields/"), sandbox,
                       django_capture_on_commit_callbacks)
    response = client.put(_url(order, "custom-fields/"), {"values": {"PONumber": "x"}},
                          format="json")
    assert response.status_code == 403


# --- carriers, lookup, acknowledge all, execution, sync -------------------------------------
def test_carriers_list_or_free_text(api, order, monkeypatch, mocked,
                                    django_capture_on_commit_callbacks):
    # no list at this provider: answered at once, nothing queued
    with django_capture_on_commit_callbacks() as worker:
        free = api.get(_url(order, "carriers/"))
    assert free.status_code == 200 and not worker
    assert free.json() == {"free_text": True, "carriers": []}
    asked: list[str] = []

    def listed(self, order=None):
        asked.append(order.reference)
        return [("dhl", "DHL"), ("ups", "UPS")]

    monkeypatch.setattr(FakeService, "carrier_choices", listed, raising=False)
    with django_capture_on_commit_callbacks() as worker:
        pending = api.get(_url(order, "carriers/"))
    assert pending.status_code == 202 and pending["Retry-After"] == "2"
    assert asked == []  # not in the request
    for task in worker:
        task()
    assert asked == [order.reference]
    body = api.get(_url(order, "carriers/")).json()
    assert body == {"free_text": False, "carriers": [{"value": "dhl", "label": "DHL"},
                                                     {"value": "ups", "label": "UPS"}]}


def test_lookup_settles_a_placement_unknown_order_in_the_background(
    api, order, mocked, django_capture_on_commit_callbacks
):
    refused = api.post(_url(order, "lookup/"), format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_allowed"
    order = set_state(order, "placement_unknown")
    mocked.add(responses.GET, f"{BASE_URL}/orders/by-ref/{order.reference}",
               json={"id": "X-9", "status": "NEW"})
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(_url(order, "lookup/"), format="json")
    assert response.status_code == 202, response.json()
    assert response["Location"] == f"/api/v1/orders/{order.pk}/"
    order.refresh_from_db()
    assert (order.state, order.external_id) == ("placed", "X-9")


def test_acknowledge_all_items_in_one_provider_request(api, merchant, mocked,
                                                      django_capture_on_commit_callbacks):
    order = OrderFactory(merchant=merchant, state="placed", external_id="991")
    for external_id in ("a", "b"):  # the provider said: new, may be acknowledged
        OrderItemFactory(order=order, external_id=external_id, raw_status="0",
                         next_statuses=["6", "1"])
    mocked.add(responses.PUT, f"{BASE_URL}/orders/991", json={})
    with django_capture_on_commit_callbacks() as worker:
        response = api.post(_url(order, "items/acknowledge/"), format="json")
    assert response.status_code == 202, response.json()
    assert len(mocked.calls) == 0
    for task in worker:
        task()
    assert set(order.items.values_list("state", flat=True)) == {"acknowledged"}
    assert len(mocked.calls) == 1 and json.loads(mocked.calls[0].request.body)["status"] == 6
    again = api.post(_url(order, "items/acknowledge/"), format="json")
    assert again.status_code == 409


def test_execution_poll_needs_a_provider_with_executions(api, merchant, mocked):
    order = OrderFactory(merchant=merchant, state="placed", external_id="991")
    response = api.post(_url(order, "execution-poll/"), format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_supported"
    assert len(mocked.calls) == 0


def test_sync_uses_sync_now_with_its_cooldown_and_timeline(api, merchant, settings):
    order = OrderFactory(merchant=merchant, state="placed", external_id="991")
    first = api.post(_url(order, "sync/"), format="json")
    assert first.status_code == 202, first.json()
    assert order.events.filter(kind=OrderEvent.Kind.SYNC, message="Sync queued").exists()
    second = api.post(_url(order, "sync/"), format="json")
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "rate_limited"


# --- staff tokens manage provider accounts ----------------------------------------------------
def _staff_token_from_the_command(name: str) -> str:
    out = StringIO()
    call_command("create_api_token", name, "--staff", stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_a_staff_token_creates_changes_checks_and_syncs_accounts(db, mocked):
    client = token_client(_staff_token_from_the_command("Ops script"))
    created = client.post("/api/v1/accounts/", {
        "provider": "tipser", "name": "Fake EU", "environment": "sandbox",
        "base_url": "http://127.0.0.1:8000/sandbox/tipser", "options": {"locale": "en"},
        "credentials": {"api_key": "t0ps3cret-value"}}, format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    changed = client.patch(f"/api/v1/accounts/{pk}/", {"name": "Fake EU 2"}, format="json")
    assert changed.status_code == 200 and changed.json()["name"] == "Fake EU 2"
    checked = client.post(f"/api/v1/accounts/{pk}/check/", format="json")
    assert checked.status_code == 200 and set(checked.json()) == {
        "ok", "detail", "checked_at", "message", "reason"}
    synced = client.post(f"/api/v1/accounts/{pk}/sync/", format="json")
    assert synced.status_code == 202, synced.json()
    assert client.post(f"/api/v1/accounts/{pk}/sync/", format="json").status_code == 429
    assert ProviderAccount.objects.get(pk=pk).name == "Fake EU 2"


def test_tokens_without_account_rights_are_refused(api, db, django_user_model, merchant):
    """A plain integration token, and a staff token of the Read-only group: may not create,
    change, check or sync accounts (the read-only one may read them)."""
    importlib.import_module("orders.migrations.0002_groups").create_groups(django_apps, None)
    viewer = django_user_model.objects.create_user("ro-script", is_staff=True)
    viewer.groups.add(Group.objects.get(name="Read-only"))
    readonly = token_client(api_token_issue(user=viewer, name="ro-script"))
    pk = merchant.account_id
    for client, reads in ((api, 403), (readonly, 200)):
        assert client.get(f"/api/v1/accounts/{pk}/").status_code == reads
        assert client.post("/api/v1/accounts/", {"provider": "tipser", "name": "X",
                                                 "base_url": "http://127.0.0.1:8000/x"},
                           format="json").status_code == 403
        assert client.patch(f"/api/v1/accounts/{pk}/", {"name": "Y"},
                            format="json").status_code == 403
        assert client.post(f"/api/v1/accounts/{pk}/check/", format="json").status_code == 403
        assert client.post(f"/api/v1/accounts/{pk}/sync/", format="json").status_code == 403
    assert ProviderAccount.objects.get(pk=pk).name != "Y"
    assert ProviderAccount.objects.count() == 1


def test_staff_integrations_made_before_get_the_account_permissions(db):
    integration, _key = integration_create(name="old-ops", staff=True)
    plain, _key = integration_create(name="old-erp")
    integration.user.user_permissions.remove(
        *integration.user.user_permissions.filter(codename__endswith="_provideraccount"))
    migration = importlib.import_module(
        "merchants.migrations.0005_staff_integrations_manage_accounts")
    migration.grant(django_apps, None)
    staff_user = type(integration.user).objects.get(pk=integration.user.pk)
    assert staff_user.has_perm("merchants.add_provideraccount")
    assert staff_user.has_perm("merchants.change_provideraccount")
    plain_user = type(plain.user).objects.get(pk=plain.user.pk)
    assert not plain_user.has_perm("merchants.change_provideraccount")


# --- Brandsdistribution: the reservation ------------------------------------------------------
def test_reservation_read_and_released_through_the_api(db, mocked, django_user_model):
    from rest_framework.test import APIClient

    from tests.providers.brandsdistribution.helpers import LOCKED, RESERVE, fixture, make_order

    account = make_order().merchant.account
    user = django_user_model.objects.create_user("res-op", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_accountreservation"))
    client = APIClient()
    client.force_login(user)
    url = f"/api/v1/accounts/{account.pk}/reservation/"
    mocked.add(responses.GET, LOCKED, body=fixture("reservation.json"))  # 1578 locked 2
    read = client.post(url + "read/", format="json")
    assert read.status_code == 200, read.json()
    assert [(m["stock_id"], m["locked"]) for m in read.json()["models"]] == [("1578", 2)]
    empty = b'{"models": [], "order_id": 0}'
    mocked.add(responses.GET, LOCKED, body=fixture("reservation.json"))
    mocked.add(responses.POST, RESERVE, body=empty)
    mocked.add(responses.GET, LOCKED, body=empty)
    released = client.post(url + "release/", format="json")
    assert released.status_code == 200, released.json()
    assert released.json()["message"] == "Released 2 x 1578."
    assert released.json()["released"] is True
    assert released.json()["reservation"]["models"] == []
    # the provider cannot be reached: a result that says so (nothing released), not a 502
    mocked.reset()
    mocked.add(responses.GET, LOCKED,
               body=requests.exceptions.ConnectionError("name or service not known"))
    failed = client.post(url + "release/", format="json")
    assert failed.status_code == 200, failed.json()
    assert failed.json()["released"] is False
    assert failed.json()["message"].startswith("Nothing released:")
    other = client.post(f"/api/v1/accounts/{AccountFactory().pk}/reservation/read/",
                        format="json")
    assert other.status_code == 409 and other.json()["error"]["code"] == "not_supported"


def test_reservation_needs_the_reservation_permission(staff_api, merchant, mocked):
    url = f"/api/v1/accounts/{merchant.account_id}/reservation/release/"
    assert staff_api.post(url, format="json").status_code == 403  # accounts, not reservations
    assert len(mocked.calls) == 0
