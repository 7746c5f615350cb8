"""Bulk runs settle whatever path moves their orders (issue 21, finding 8)."""

from __future__ import annotations

import datetime as dt

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from orders import dispatch, services, tasks
from orders.models import BulkRun, BulkRunItem, Order
from tests.factories import OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db


def _run(merchant, operator, n: int, django_capture_on_commit_callbacks) -> BulkRun:
    orders = []
    for _ in range(n):
        order = OrderFactory(merchant=merchant)
        OrderItemFactory(order=order)
        orders.append(order)
    with django_capture_on_commit_callbacks(execute=False):  # the worker never runs them
        return dispatch.bulk_run_start(action="place", orders=orders, actor=operator)


def _worker_died_mid_call(order: Order, minutes_ago: int = 60) -> None:
    """The worker claimed the order (placing) and was killed before it wrote anything else."""
    Order.objects.filter(pk=order.pk).update(
        state="placing", updated_at=timezone.now() - dt.timedelta(minutes=minutes_ago))


def _running(client) -> bool:
    page = client.get(reverse("admin:orders_order_bulk_runs")).content.decode()
    return "running:" in page


def test_a_run_whose_worker_died_settles_through_the_sweep_and_the_reconcile(
    merchant, operator, client, mocked, django_capture_on_commit_callbacks
):
    run = _run(merchant, operator, 2, django_capture_on_commit_callbacks)
    client.force_login(operator)
    assert _running(client)
    for item in run.items.all():
        _worker_died_mid_call(item.order)

    moved = services.order_stale_placing_sweep()
    assert len(moved) == 2
    outcomes = {i.outcome for i in run.items.all()}
    assert outcomes == {"failed"}
    assert all(i.message.startswith("Placement unknown") for i in run.items.all())
    assert not _running(client)  # settled: nothing is left queued

    first, second = (i.order for i in run.items.order_by("pk"))
    mocked.add(responses.GET, f"{BASE_URL}/orders/by-ref/{first.reference}",
               json={"id": 77, "status": "NEW"})
    tasks.order_reconcile_task.apply(args=[first.pk])  # the automatic lookup
    services.order_reconcile(order=second, placed=False)  # the operator's word
    items = {i.order_id: i for i in run.items.all()}
    assert (items[first.pk].outcome, items[first.pk].message) == ("done", "now Placed")
    assert (items[second.pk].outcome, items[second.pk].message) == (
        "failed", "not placed: back to draft")


def test_an_order_placed_by_another_path_settles_its_queued_bulk_item(
    merchant, operator, mocked, django_capture_on_commit_callbacks
):
    run = _run(merchant, operator, 1, django_capture_on_commit_callbacks)
    order = run.items.get().order
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": 5, "status": "NEW"})
    tasks.order_place_task.apply(args=[order.pk])  # e.g. the API's place transition
    item = run.items.get()
    assert (item.outcome, item.message) == ("done", "now Placed")
    # the bulk task, delivered late, finds nothing to do and leaves the outcome as it is
    services.bulk_run_item_execute(item=BulkRunItem.objects.get(pk=item.pk))
    assert len(mocked.calls) == 1
    assert run.items.get().outcome == "done"


def test_an_automatic_retry_after_unavailable_updates_the_item(
    merchant, operator, mocked, django_capture_on_commit_callbacks, settings
):
    run = _run(merchant, operator, 1, django_capture_on_commit_callbacks)
    item = run.items.get()
    mocked.add(responses.POST, f"{BASE_URL}/orders", status=503, body="busy")
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": 9, "status": "NEW"})
    from unittest import mock

    with mock.patch.object(tasks.order_place_task, "apply_async") as retry:  # run below
        tasks.bulk_run_item_task.apply(args=[item.pk])
    assert retry.call_args.args[0] == (item.order_id,)  # the worker handed it to the retries
    item.refresh_from_db()
    assert item.outcome == "failed" and "retrying automatically" in item.message
    tasks.order_place_task.apply(args=[item.order_id], retries=1)
    item.refresh_from_db()
    assert (item.outcome, item.message) == ("done", "now Placed")


def test_the_periodic_sweep_closes_items_whose_task_was_lost(
    merchant, operator, client, mocked, django_capture_on_commit_callbacks
):
    from tests.admin.conftest import set_state

    run = _run(merchant, operator, 3, django_capture_on_commit_callbacks)
    BulkRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - dt.timedelta(hours=7))
    never_ran, placing, placed_elsewhere = (i.order for i in run.items.order_by("pk"))
    _worker_died_mid_call(placing, minutes_ago=1)  # recent: the placing sweep leaves it
    set_state(placed_elsewhere, "placed", external_id="E-1")  # e.g. a sync saw it placed

    tasks.order_stale_placing_sweep_task.apply()

    items = {i.order_id: i for i in run.items.all()}
    assert items[never_ran.pk].outcome == "failed"
    assert "did not run within 6 h" in items[never_ran.pk].message
    assert (items[placed_elsewhere.pk].outcome, items[placed_elsewhere.pk].message) == (
        "done", "now Placed")
    assert items[placing.pk].outcome == "queued"  # its order's own move will settle it
    # the lost task, delivered late, does not run the action any more
    services.bulk_run_item_execute(item=BulkRunItem.objects.get(pk=items[never_ran.pk].pk))
    assert len(mocked.calls) == 0
    never_ran.refresh_from_db()
    assert never_ran.state == "draft"
