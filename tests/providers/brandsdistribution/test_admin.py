from __future__ import annotations

import json

import pytest
import responses
from django.urls import reverse

from orders import services
from providers.brandsdistribution.reservations import reservation_view

from .helpers import CARRIERS, LOCKED, RESERVE, fixture, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def op_client(client, operator):
    operator.is_superuser = True
    operator.save()
    client.force_login(operator)
    return client


def _form_data(order, **extra):
    data = {
        "merchant": order.merchant_id, "reference": order.reference,
        "contact_name": order.contact_name, "contact_email": "", "phone_prefix": "+39",
        "phone_number": order.phone_number, "address_line1": order.address_line1,
        "address_line2": "", "city": order.city, "region": order.region,
        "postal_code": order.postal_code, "country": order.country, "currency": "EUR",
        "shipping_total": "0", "provider_options": json.dumps(order.provider_options),
    }
    for prefix in ("items", "shipments", "events"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(extra)
    return data


def test_draft_order_offers_the_cached_carrier_list_and_saves_the_choice(
        mocked, op_client, django_capture_on_commit_callbacks):
    order = make_order(provider_options={})
    mocked.add(responses.GET, CARRIERS, body=fixture("carriers.json"))
    url = reverse("admin:orders_order_change", args=[order.pk])
    with django_capture_on_commit_callbacks() as worker:
        waiting = op_client.get(url)
    assert b"The carrier list is being read from the provider; reload to pick" in waiting.content
    assert not any(c.request.url.startswith(CARRIERS) for c in mocked.calls)
    for task in worker:  # the worker reads the list into the account's cache
        task()
    assert sum(c.request.url.startswith(CARRIERS) for c in mocked.calls) == 1
    page = op_client.get(url)
    assert page.status_code == 200
    assert b"TNT (id 39" in page.content
    assert sum(c.request.url.startswith(CARRIERS) for c in mocked.calls) == 1  # cache hit
    response = op_client.post(url, _form_data(order, bd_carrier="39", bd_auto_confirm=""))
    assert response.status_code == 302, response.content[:3000]
    order.refresh_from_db()
    assert order.provider_options == {"carrierId": "39", "autoConfirm": False}


def test_carrier_list_unreadable_gives_a_free_id_field(mocked, op_client,
                                                     django_capture_on_commit_callbacks):
    order = make_order(provider_options={})
    mocked.add(responses.GET, CARRIERS, status=503, body="maintenance")
    url = reverse("admin:orders_order_change", args=[order.pk])
    with django_capture_on_commit_callbacks(execute=True):
        op_client.get(url)
    page = op_client.get(url)
    assert page.status_code == 200
    assert b"The carrier list could not be read (" in page.content
    assert b"enter a carrier id" in page.content
    response = op_client.post(url, _form_data(order, bd_carrier="77", bd_auto_confirm="on"))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.provider_options == {"carrierId": "77", "autoConfirm": True}


def test_shortfall_order_shows_accept_and_cancel_buttons(mocked, op_client, operator):
    order = make_order(reserve_first=True, items=(("148367", 5),))
    for models in ([], [{"stock_id": 148367, "locked": 3, "available": 0}],
                   [{"stock_id": 148367, "locked": 3, "available": 0}]):
        mocked.add(responses.GET, LOCKED, json={"models": models, "order_id": 0})
    mocked.add(responses.POST, RESERVE, json={})
    services.order_place(order=order, actor=operator)
    page = op_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert page.status_code == 200
    assert b'id="dd-accept-shortfall"' in page.content and b"Accept shortfall" in page.content
    assert b'id="dd-shortfall-cancel"' in page.content and b"Cancel order" in page.content
    assert b"requested 5, locked 3" in page.content


def test_refresh_action_brings_tracking_and_settles_unknown_placements(mocked, op_client, django_capture_on_commit_callbacks):
    import requests

    from .helpers import CREATE, status_url

    shipped = make_order()
    mocked.add(responses.POST, CREATE, json={"models": [], "order_id": 130})
    services.order_place(order=shipped)
    unknown = make_order(reference="2346")
    mocked.replace(responses.POST, CREATE, body=requests.exceptions.ReadTimeout("slow"))
    services.order_place(order=unknown)
    mocked.add(responses.GET, status_url("2345"), json={"orders": [{
        "order_id": 130, "ext_ref": "2345", "status": 3, "tracking_code": "TNT1",
        "tracking_url": None, "carrier_name": "TNT"}]})
    mocked.add(responses.GET, status_url("2346"), json={"orders": [{
        "order_id": 131, "ext_ref": "2346", "status": 5}]})
    with django_capture_on_commit_callbacks(execute=True):
        response = op_client.post(reverse("admin:orders_order_changelist"), {
            "action": "sync_selected", "_selected_action": [shipped.pk, unknown.pk]})
    assert response.status_code == 302
    shipped.refresh_from_db()
    unknown.refresh_from_db()
    assert shipped.state == "shipped" and shipped.shipments.get().tracking_number == "TNT1"
    assert (unknown.state, unknown.external_id) == ("placed", "131")


# --- leftover reservations per account ------------------------------------------------------
RES_URL = reverse("admin:brandsdistribution_accountreservation_changelist")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_leftover_reservation_is_shown_per_account_and_released_on_post(mocked, op_client, fmt):
    order = make_order(wire_format=fmt)
    account = order.merchant.account
    if fmt == "json":
        held = fixture("reservation.json")  # doc sample: 1578 locked 2
        empty = b'{"models": [], "order_id": 0}'
    else:
        held = b'<root order_id="0"><model stock_id="1578" locked="2" available="0"/></root>'
        empty = b'<root order_id="0"/>'
    mocked.add(responses.GET, LOCKED, body=held)
    response = op_client.post(RES_URL, {"action": "read_reservation",
                                        "_selected_action": [account.pk]}, follow=True)
    page = response.content.decode()
    assert "1 model(s) locked" in page
    assert "1578: 2 (since " in page
    since = reservation_view(account.pk)["models"][0]["since"]
    # kept in the cache (core.account_cache), never written onto the account
    assert "reservation" not in (account.__class__.objects.get(pk=account.pk).state or {})

    mocked.add(responses.GET, LOCKED, body=held)
    mocked.add(responses.POST, RESERVE, body=empty)  # the reply lists the reservation left
    response = op_client.post(RES_URL, {"action": "release_reservation",
                                        "_selected_action": [account.pk]}, follow=True)
    assert "Released 2 x 1578." in response.content.decode()
    sent = next(c.request.body for c in mocked.calls if c.request.method == "POST")
    if fmt == "json":
        assert json.loads(sent) == {"operations": [{"type": "unlock", "models": [
            {"stock_id": 1578, "quantity": 2}]}]}
    else:
        assert sent.endswith(b'<root><operation type="unlock"><model stock_id="1578" '
                             b'quantity="2" /></operation></root>')
    assert "nothing known to be locked" in op_client.get(RES_URL).content.decode()
    assert since  # first seen is kept while the model stays locked
    assert [c.request.method for c in mocked.calls] == ["GET", "GET", "POST"]


def test_release_needs_change_permission_and_a_post(mocked, client, readonly_user):
    order = make_order()
    client.force_login(readonly_user)
    response = client.post(RES_URL, {"action": "release_reservation",
                                     "_selected_action": [order.merchant.account.pk]})
    assert response.status_code in (302, 403, 200)
    assert not mocked.calls  # nothing unlocked
