from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import OutputWrapper
from rest_framework.test import APIClient

from merchants.models import Integration
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


def _run(*args):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", *args, stdout=OutputWrapper(out), stderr=OutputWrapper(err))
    return out.getvalue().strip(), err.getvalue()


def test_create_api_token_prints_a_working_token_once(order, other_order):
    key, note = _run("Storefront", "--merchant", str(order.merchant_id))
    assert "created (Merchant" in note and key not in note
    integration = Integration.objects.get(name="Storefront")
    assert list(integration.merchants.all()) == [order.merchant]
    assert token_client(key).get("/api/v1/orders/").status_code == 200
    client = token_client(key)
    results = client.get("/api/v1/orders/").json()["results"]
    assert [o["id"] for o in results] == [order.pk]
    assert client.get(f"/api/v1/orders/{other_order.pk}/").status_code == 404


def test_create_api_token_refuses_unknown_merchant_and_duplicate_name(db):
    with pytest.raises(CommandError, match="No merchant with id 999"):
        _run("X", "--merchant", "999")
    _run("Dup")
    with pytest.raises(CommandError):
        _run("Dup")


def test_unscoped_token_can_create_merchants_scoped_cannot(merchant):
    key, _ = _run("ERP")
    user = Integration.objects.get(name="ERP").user
    assert user.has_perm("merchants.add_merchant") and not user.is_staff
    assert token_client(key).get("/api/v1/accounts/").status_code == 403
    staff_key, _ = _run("Ops", "--staff")
    assert Integration.objects.get(name="Ops").user.is_staff
    assert token_client(staff_key).get("/api/v1/accounts/").status_code == 200


def test_disabled_integration_token_is_refused(api, integration):
    Integration.objects.filter(pk=integration.pk).update(is_active=False)
    response = api.get("/api/v1/orders/")
    assert response.status_code == 401
    assert "disabled" in response.json()["error"]["message"]


def test_throttling_per_token_answers_429(api, scoped_api, order, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    for _ in range(3):
        assert api.get("/api/v1/orders/").status_code == 200
    response = api.get("/api/v1/orders/")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    assert scoped_api.get("/api/v1/orders/").status_code == 200  # another token, own budget


def test_admin_adds_an_integration_and_shows_the_token_once(admin_client, merchant):
    response = admin_client.post("/admin/merchants/integration/add/", {
        "name": "Zapier", "merchants": [merchant.pk], "is_active": "on",
    }, follow=True)
    assert response.status_code == 200
    integration = Integration.objects.get(name="Zapier")
    html = response.content.decode()
    key = html.split("stored only as a hash): ", 1)[1].split("<", 1)[0].strip()
    assert token_client(key).get("/api/v1/orders/").status_code == 200
    assert list(integration.merchants.all()) == [merchant]
    page = admin_client.get(f"/admin/merchants/integration/{integration.pk}/change/")
    assert key not in page.content.decode()


def test_admin_rotates_a_token(admin_client, integration):
    old = integration.key
    response = admin_client.post("/admin/merchants/integration/", {
        "action": "rotate_token", "_selected_action": [integration.pk]}, follow=True)
    new = response.content.decode().split("stored only as a hash): ", 1)[1].split("<", 1)[0]
    assert new != old
    assert token_client(old).get("/api/v1/orders/").status_code == 401
    assert token_client(new).get("/api/v1/orders/").status_code == 200


# --- OpenAPI ---------------------------------------------------------------------------------
@pytest.fixture
def openapi(db):
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_schema_documents_the_error_shape_on_every_operation(openapi):
    error = openapi["components"]["schemas"]["ErrorBody"]
    assert {"code", "message", "fields", "allowed", "failure_reason"} <= set(error["properties"])
    for path, item in openapi["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, op in item.items():
            assert {"400", "401", "403", "404", "429"} <= set(op["responses"]), (path, method)
            if method == "post":
                assert "409" in op["responses"]
                names = [p["name"] for p in op.get("parameters", [])]
                assert "Idempotency-Key" in names, path


def test_schema_documents_unpaginated_answers_of_changes_as_plain_lists(openapi):
    # a change answers what it changed or that it was queued, never a page of a list: a
    # paginated schema there made every answer a schema violation
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            if method in ("post", "patch", "put", "delete"):
                assert "Paginated" not in json.dumps(op["responses"]), (method, path)
    queued = openapi["paths"]["/api/v1/orders/{id}/items/status/"]["post"]["responses"]["202"]
    assert queued["content"]["application/json"]["schema"]["$ref"].endswith("QueuedResult")


def test_schema_has_one_operation_per_transition_with_its_payload(openapi):
    paths = openapi["paths"]
    ship = paths["/api/v1/orders/{id}/transitions/ship/"]["post"]
    ref = ship["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    payload = openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert payload["required"] == ["tracking_number"]
    assert "202" in paths["/api/v1/orders/{id}/transitions/place/"]["post"]["responses"]
    assert "tokenAuth" in openapi["components"]["securitySchemes"]


def test_docs_page_is_served(client):
    assert client.get("/api/docs/").status_code == 200


def test_orders_in_the_schema_have_a_state_enum(openapi):
    order = openapi["components"]["schemas"]["Order"]
    assert "$ref" in str(order["properties"]["state"])
