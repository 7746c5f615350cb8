from __future__ import annotations

import json

import pytest
import responses
from django.contrib.admin import helpers
from django.urls import reverse

from orders.models import BulkRun, BulkRunItem
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL

from .conftest import set_state

pytestmark = pytest.mark.django_db
URL = reverse("admin:orders_order_changelist")


def _run_action(client, capture, action, orders, **extra):
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [o.pk for o in orders], **extra}
    with capture(execute=True):
        return client.post(URL, data)


def _outcomes(run: BulkRun) -> dict[str, tuple[str, str]]:
    return {i.order.reference: (i.outcome, i.message)
            for i in run.items.select_related("order")}


def _order_with_items(merchant, **kw):
    order = OrderFactory(merchant=merchant, **kw)
    OrderItemFactory(order=order, sku="SKU-A", quantity=1)
    return order


def test_bulk_place_reports_done_skipped_and_failed_per_order(
    operator_client, merchant, mocked, django_capture_on_commit_callbacks
):
    good = _order_with_items(merchant)
    rejected = _order_with_items(merchant)
    unauthorized = _order_with_items(MerchantFactory(authorized=False))
    placed = set_state(_order_with_items(merchant), "placed")
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": 501, "status": "NEW"},
               match=[responses.matchers.json_params_matcher({"ref": good.reference},
                                                             strict_match=False)])
    mocked.add(responses.POST, f"{BASE_URL}/orders", status=422, json={"error": "bad sku"},
               match=[responses.matchers.json_params_matcher({"ref": rejected.reference},
                                                             strict_match=False)])

    response = _run_action(operator_client, django_capture_on_commit_callbacks, "place_selected",
                           [good, rejected, unauthorized, placed])

    assert response.status_code == 302
    outcomes = _outcomes(BulkRun.objects.get())
    assert outcomes[good.reference] == ("done", "now Placed")
    assert outcomes[rejected.reference][0] == "failed"
    assert "Rejected by provider" in outcomes[rejected.reference][1]
    assert outcomes[unauthorized.reference] == (
        "skipped", "merchant not authorized (Pending authorization)")
    assert outcomes[placed.reference] == ("skipped", "not allowed from state Placed")
    good.refresh_from_db()
    assert good.state == "placed" and good.external_id == "501"
    assert len(mocked.calls) == 2  # nothing sent for the skipped ones


def test_bulk_place_shows_progress_block_with_outcomes(
    operator_client, merchant, mocked, django_capture_on_commit_callbacks
):
    order = _order_with_items(merchant)
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": 7, "status": "NEW"})
    _run_action(operator_client, django_capture_on_commit_callbacks, "place_selected", [order])

    html = operator_client.get(URL).content.decode()

    assert 'id="dd-bulk"' in html and 'data-active="0"' in html
    assert f'data-order="{order.reference}" data-outcome="done"' in html
    assert "1 done, 0 queued, 0 skipped, 0 failed" in html


def test_progress_fragment_reports_running_while_items_are_queued(operator_client, operator,
                                                                  order):
    run = BulkRun.objects.create(action="place", label="Place with provider", actor=operator)
    BulkRunItem.objects.create(run=run, order=order)

    html = operator_client.get(reverse("admin:orders_order_bulk_runs")).content.decode()

    assert 'data-run-active="1"' in html and "running: 0 of 1 finished" in html


def test_bulk_sync_skips_orders_not_yet_placed(operator_client, merchant, mocked,
                                               django_capture_on_commit_callbacks):
    draft = _order_with_items(merchant)
    placed = set_state(_order_with_items(merchant), "placed", external_id="77", raw_status="NEW")
    mocked.add(responses.GET, f"{BASE_URL}/orders/77", json={"id": 77, "status": "WORKING"})

    _run_action(operator_client, django_capture_on_commit_callbacks, "sync_selected",
                [draft, placed])

    outcomes = _outcomes(BulkRun.objects.get())
    assert outcomes[draft.reference] == ("skipped", "no provider id yet (not placed)")
    assert outcomes[placed.reference] == ("done", "now In progress")


def test_bulk_acknowledge_sends_all_items_in_one_request(operator_client, merchant, mocked,
                                                         django_capture_on_commit_callbacks):
    order = set_state(OrderFactory(merchant=merchant), "placed", external_id="88",
                      raw_status="NEW")
    a = OrderItemFactory(order=order, external_id="i1", raw_status="0")
    b = OrderItemFactory(order=order, external_id="i2", raw_status="0")
    mocked.add(responses.PUT, f"{BASE_URL}/orders/88", json={})

    _run_action(operator_client, django_capture_on_commit_callbacks, "acknowledge_selected",
                [order])

    assert len(mocked.calls) == 1
    body = json.loads(mocked.calls[0].request.body)
    assert body["status"] == 6 and sorted(body["orderItemsIds"]) == ["i1", "i2"]
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.state == b.state == "acknowledged"
    assert _outcomes(BulkRun.objects.get())[order.reference] == ("done", "2 item(s) acknowledged")


def test_bulk_cancel_reports_not_allowed_states(operator_client, merchant,
                                                django_capture_on_commit_callbacks):
    draft = _order_with_items(merchant)
    shipped = set_state(_order_with_items(merchant), "shipped", external_id="9", raw_status="SENT")

    _run_action(operator_client, django_capture_on_commit_callbacks, "cancel_selected",
                [draft, shipped])

    outcomes = _outcomes(BulkRun.objects.get())
    assert outcomes[draft.reference] == ("done", "now Cancelled")
    assert outcomes[shipped.reference] == ("skipped", "not allowed from state Shipped")


def test_bulk_mark_shipped_asks_for_tracking_numbers_then_ships(
    operator_client, merchant, mocked, django_capture_on_commit_callbacks
):
    first = set_state(_order_with_items(merchant), "placed", external_id="31", raw_status="NEW")
    second = set_state(_order_with_items(merchant), "placed", external_id="32", raw_status="NEW")
    mocked.add(responses.POST, f"{BASE_URL}/orders/31/shipping", json={},
               match=[responses.matchers.json_params_matcher(
                   {"tracking": "TRK-1", "carrier": "DHL"})])

    form = operator_client.post(URL, {"action": "mark_shipped_selected",
                                      helpers.ACTION_CHECKBOX_NAME: [first.pk, second.pk]})
    assert form.status_code == 200
    assert f'name="tracking_{first.pk}"' in form.content.decode()
    assert not BulkRun.objects.exists()

    _run_action(operator_client, django_capture_on_commit_callbacks, "mark_shipped_selected",
                [first, second], apply="1", carrier="DHL",
                **{f"tracking_{first.pk}": "TRK-1", f"tracking_{second.pk}": ""})

    outcomes = _outcomes(BulkRun.objects.get())
    assert outcomes[first.reference] == ("done", "now Shipped")
    assert outcomes[second.reference] == ("skipped", "no tracking number given")
    first.refresh_from_db()
    assert first.shipments.get().tracking_number == "TRK-1"


def test_readonly_user_gets_no_bulk_actions_and_posting_one_does_nothing(
    readonly_client, order, mocked, django_capture_on_commit_callbacks
):
    page = readonly_client.get(URL)
    assert "place_selected" not in page.content.decode()

    response = _run_action(readonly_client, django_capture_on_commit_callbacks,
                           "place_selected", [order])

    assert response.status_code in (200, 302, 403)
    assert not BulkRun.objects.exists()
    assert len(mocked.calls) == 0
    order.refresh_from_db()
    assert order.state == "draft"


def test_bulk_run_start_refuses_user_without_transition_permission(readonly_user, order):
    from orders import dispatch
    from orders.errors import OrderActionRefused

    with pytest.raises(OrderActionRefused):
        dispatch.bulk_run_start(action="place", orders=[order], actor=readonly_user)
    assert not BulkRun.objects.exists()


def test_bulk_action_over_too_many_orders_is_refused_with_a_message(operator, order,
                                                                    monkeypatch):
    from orders import dispatch, services
    from orders.errors import OrderActionRefused

    monkeypatch.setattr(services.bulk, "BULK_MAX_ORDERS", 0)
    with pytest.raises(OrderActionRefused, match="at most 0 orders"):
        dispatch.bulk_run_start(action="place", orders=[order], actor=operator)
    assert not BulkRun.objects.exists()


def test_bulk_acknowledge_request_queries_do_not_grow_with_orders(operator_client, merchant):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queued(n: int) -> int:
        orders = []
        for k in range(n):
            order = set_state(OrderFactory(merchant=merchant), "placed", external_id=f"Q{n}-{k}",
                              raw_status="NEW")
            OrderItemFactory(order=order, raw_status="0")
            orders.append(order)
        data = {"action": "acknowledge_selected",
                helpers.ACTION_CHECKBOX_NAME: [o.pk for o in orders]}
        with CaptureQueriesContext(connection) as ctx:
            operator_client.post(reverse("admin:orders_order_changelist"), data)
        return len(ctx.captured_queries)

    assert queued(2) == queued(12)
