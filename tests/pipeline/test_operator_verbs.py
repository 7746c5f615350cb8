"""An operator (admin) or an integration (API) approves a held sale and reads where it stands."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from merchants.services import integration_create
from pipeline.models import SalesRouting, SupplierOffer

from .conftest import FAKE, sync, three_item_sale

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(account, tipser_merchant, policy, offers, django_capture_on_commit_callbacks):
    SupplierOffer.objects.filter(sales_product_id="P2").update(expected_cost=Decimal("35.00"))
    [sale] = sync(account, [three_item_sale()], django_capture_on_commit_callbacks)
    return sale


def test_api_shows_the_hold_and_approving_routes_and_places(held, mocked, django_capture_on_commit_callbacks):
    _integration, key = integration_create(name="ops")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    state = api.get(f"/api/v1/pipeline/orders/{held.pk}/").json()
    assert state["status"] == "held" and state["links"] == []
    assert api.post(f"/api/v1/pipeline/orders/{held.pk}/route/", {"approve": "maybe"},
                    format="json").status_code == 400
    placed = mocked.post(f"{FAKE}/orders", json={"id": "F-9", "status": "NEW"})
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/v1/pipeline/orders/{held.pk}/route/", {"approve": True}, format="json")
    assert answer.status_code == 200 and answer.json()["status"] == "routed"
    assert len(answer.json()["placing"]) == 2 and placed.call_count == 2
    links = api.get(f"/api/v1/pipeline/orders/{held.pk}/").json()["links"]
    assert len(links) == 3 and {link["supplier_order_state"] for link in links} == {"placed"}
    assert api.get("/api/v1/pipeline/orders/abc/").status_code == 404


def test_a_read_only_user_cannot_route(held, readonly_user, client):
    api = APIClient()
    api.force_login(readonly_user)
    assert api.post(f"/api/v1/pipeline/orders/{held.pk}/route/", {"approve": True},
                    format="json").status_code == 403
    readonly_user.user_permissions.add(*Permission.objects.filter(codename="view_salesrouting"))
    client.force_login(readonly_user)
    page = client.get(reverse("admin:pipeline_salesrouting_changelist")).content.decode()
    assert "Held for approval" in page and "route_now" not in page
    held.routing.refresh_from_db()
    assert held.routing.status == "held"


def test_the_admin_approves_a_held_sale(held, operator, client, mocked, django_capture_on_commit_callbacks):
    operator.user_permissions.add(*Permission.objects.filter(content_type__app_label="pipeline"))
    client.force_login(operator)
    mocked.post(f"{FAKE}/orders", json={"id": "F-9", "status": "NEW"})
    url = reverse("admin:pipeline_salesrouting_changelist")
    assert "route_now" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(url, {"action": "route_now", "_selected_action": [held.routing.pk]}, follow=True)
    assert f"{held.reference}: Routed to suppliers" in answer.content.decode()
    assert SalesRouting.objects.get().status == "routed"
