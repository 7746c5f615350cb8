"""No lost work on the API (issue 21, finding 9): PATCH carries the version it was based on
(If-Match with the detail's ETag); a stale one is refused with 412 saying what changed."""

from __future__ import annotations

import pytest
import responses

from orders import services
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"


def test_detail_has_an_etag_and_a_patch_on_it_succeeds_with_a_new_one(api, order):
    etag = api.get(f"{URL}{order.pk}/")["ETag"]
    assert etag.startswith('"draft.')
    response = api.patch(f"{URL}{order.pk}/", {"city": "Leeds"}, format="json",
                         HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.json()
    assert response["ETag"] != etag
    assert response.json()["city"] == "Leeds"


def test_patch_based_on_a_draft_the_worker_placed_meanwhile_is_412_and_saves_nothing(
    api, order, mocked
):
    etag = api.get(f"{URL}{order.pk}/")["ETag"]
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": 42, "status": "NEW"})
    services.order_place(order=order)
    response = api.patch(f"{URL}{order.pk}/", {"address_line1": "221B Baker St"},
                         format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    error = response.json()["error"]
    assert error["code"] == "version_conflict"
    assert error["message"].startswith("This order was placed by the worker at ")
    order.refresh_from_db()
    assert order.address_line1 == "10 Downing Street"


def test_patch_based_on_a_version_someone_else_changed_is_412(api, order, operator):
    etag = api.get(f"{URL}{order.pk}/")["ETag"]
    services.order_update(order=order, actor=operator, city="York")
    response = api.patch(f"{URL}{order.pk}/", {"city": "Bath"}, format="json",
                         HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    assert "changed by operator at" in response.json()["error"]["message"]
    order.refresh_from_db()
    assert order.city == "York"


def test_an_item_added_meanwhile_changes_the_version(api, order):
    etag = api.get(f"{URL}{order.pk}/")["ETag"]
    services.order_item_add(order=order, sku="X-1", quantity=1)
    response = api.patch(f"{URL}{order.pk}/", {"city": "Bath"}, format="json",
                         HTTP_IF_MATCH=etag)
    assert response.status_code == 412


def test_patch_without_if_match_still_works(api, order):
    assert api.patch(f"{URL}{order.pk}/", {"city": "Hull"}, format="json").status_code == 200
