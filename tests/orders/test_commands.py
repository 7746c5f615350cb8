"""The operator's verbs that call the provider run in the worker (orders.tasks.order_command_task),
queued by orders.dispatch: what the task does when the verb is refused, fails or the provider is
down, and what the dispatch refuses before queuing anything."""

from __future__ import annotations

import pytest
import responses

from orders import dispatch, tasks
from orders.errors import OrderActionRefused, OrderValidationError
from orders.models import Order, OrderEvent
from tests.factories import OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def placed(merchant):
    order = OrderFactory(merchant=merchant, state="placed", external_id="991")
    OrderItemFactory(order=order, sku="SKU-A", quantity=1)
    return order


def test_a_queued_command_refused_by_the_time_it_runs_records_the_reason(placed, mocked):
    # queued while allowed; the order was cancelled before the worker got to it
    Order.objects.filter(pk=placed.pk).update(state="cancelled")
    outcome = tasks.order_command_task.apply(
        args=(placed.pk, "ship", {"tracking_number": "T1"}, None)).get()
    assert outcome == "refused"
    assert len(mocked.calls) == 0
    error = placed.events.get(kind=OrderEvent.Kind.ERROR)
    assert error.message.startswith("Ship") and "not done" in error.message
    assert "not possible" in error.message  # the plain-language reason


def test_a_provider_rejection_is_recorded_once_and_not_raised(placed, mocked):
    mocked.add(responses.POST, f"{BASE_URL}/orders/991/cancel", json={"message": "too late"},
               status=400)
    outcome = tasks.order_command_task.apply(args=(placed.pk, "cancel", {}, None)).get()
    assert outcome == "failed" and len(mocked.calls) == 1
    placed.refresh_from_db()
    assert placed.state == "placed"
    errors = list(placed.events.filter(kind=OrderEvent.Kind.ERROR).values_list("message",
                                                                              flat=True))
    assert len(errors) == 1 and "too late" in errors[0]


def test_an_unavailable_provider_is_retried_then_succeeds(placed, mocked, settings):
    settings.ORDER_PLACE_MAX_TRIES = 3
    settings.TASK_RETRY_BASE_DELAY = 0
    mocked.add(responses.POST, f"{BASE_URL}/orders/991/cancel", status=503)
    mocked.add(responses.POST, f"{BASE_URL}/orders/991/cancel", json={})
    outcome = tasks.order_command_task.apply(args=(placed.pk, "cancel", {"reason": "x"},
                                                   None)).get()
    assert outcome == "done" and len(mocked.calls) == 2
    placed.refresh_from_db()
    assert placed.state == "cancelled"


def test_an_unavailable_provider_gives_up_after_the_tries_and_says_so(placed, mocked, settings):
    settings.ORDER_PLACE_MAX_TRIES = 2
    settings.TASK_RETRY_BASE_DELAY = 0
    placed.items.update(raw_status="0", external_id="a")
    mocked.add(responses.PUT, f"{BASE_URL}/orders/991", status=503)
    item = placed.items.get()
    outcome = tasks.order_command_task.apply(
        args=(placed.pk, "items_status", {"items": [item.pk], "transition": "acknowledge"},
              None)).get()
    assert outcome == "gave up" and len(mocked.calls) == 2
    item.refresh_from_db()
    assert item.state != "acknowledged"
    gave_up = placed.events.filter(kind=OrderEvent.Kind.ERROR).latest("id").message
    assert "Item status change not done" in gave_up and "after 2 tries" in gave_up


def test_the_actor_is_loaded_again_by_pk(placed, mocked, admin_user):
    mocked.add(responses.POST, f"{BASE_URL}/orders/991/cancel", json={})
    tasks.order_command_task.apply(args=(placed.pk, "cancel", {}, admin_user.pk)).get()
    placed.refresh_from_db()
    assert placed.state == "cancelled"
    assert placed.events.filter(actor=admin_user, message__startswith="Cancelled").exists()


def test_dispatch_refuses_before_queuing(placed, mocked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as worker:
        with pytest.raises(OrderActionRefused):
            dispatch.order_transition_enqueue(order=placed, name="reopen")  # not from placed
        with pytest.raises(OrderValidationError):
            dispatch.order_transition_enqueue(order=placed, name="ship",
                                              payload={"tracking_number": " "})
        with pytest.raises(OrderActionRefused):
            dispatch.order_provider_draft_enqueue(order=placed)  # no provider drafts here
    assert not worker and len(mocked.calls) == 0
    assert not placed.events.filter(message__endswith="queued").exists()


def test_dispatch_runs_a_local_transition_at_once_and_queues_a_provider_one(
        merchant, placed, mocked, django_capture_on_commit_callbacks):
    draft = OrderFactory(merchant=merchant)
    with django_capture_on_commit_callbacks() as worker:
        local = dispatch.order_transition_enqueue(order=draft, name="cancel")
        queued = dispatch.order_transition_enqueue(order=placed, name="cancel")
    assert not local.queued and local.result.state == "cancelled"
    assert queued.queued and len(worker) == 1 and len(mocked.calls) == 0
    assert placed.events.filter(message="Cancel queued").exists()


def test_item_changes_of_an_order_without_a_provider_draft_run_at_once(
        merchant, mocked, django_capture_on_commit_callbacks):
    draft = OrderFactory(merchant=merchant)
    with django_capture_on_commit_callbacks() as worker:
        added = dispatch.order_item_add_enqueue(order=draft, sku="NEW-1", quantity=2)
        removed = dispatch.order_item_remove_enqueue(item=added.result)
    assert not added.queued and not removed.queued
    assert not worker and len(mocked.calls) == 0
    assert not draft.items.filter(pk=added.result.pk).exists()
    assert not draft.events.filter(message__endswith="queued").exists()


@pytest.fixture
def busy_push(monkeypatch, settings):
    """The item push's claim finds another write in flight the first ``busy`` times."""
    settings.ORDER_PLACE_MAX_TRIES = 3
    settings.TASK_RETRY_BASE_DELAY = 0
    state: dict = {"busy": 0, "calls": 0}

    def push(*, order, actor=None):  # type: ignore[no-untyped-def]
        state["calls"] += 1
        if state["calls"] <= state["busy"]:
            raise OrderActionRefused("Adding items at the provider is being sent to the "
                                     "provider for this order right now", code="in_progress")
        return 1

    monkeypatch.setattr(tasks.services, "order_provider_items_push", push)
    return state


def test_an_item_push_waits_for_a_write_in_flight_and_then_runs(placed, busy_push):
    busy_push["busy"] = 1
    outcome = tasks.order_command_task.apply(args=(placed.pk, "provider_items_push", {},
                                                   None)).get()
    assert outcome == "done" and busy_push["calls"] == 2  # retried once, then pushed
    assert not placed.events.filter(kind=OrderEvent.Kind.ERROR).exists()


def test_an_item_push_still_busy_after_the_tries_says_so(placed, busy_push):
    busy_push["busy"] = 5
    outcome = tasks.order_command_task.apply(args=(placed.pk, "provider_items_push", {},
                                                   None)).get()
    assert outcome == "refused" and busy_push["calls"] == 3
    error = placed.events.get(kind=OrderEvent.Kind.ERROR).message
    assert error.startswith("Adding items at the provider not done") and "right now" in error


def test_a_removal_of_an_item_already_gone_is_refused_with_a_reason(placed, mocked):
    outcome = tasks.order_command_task.apply(args=(placed.pk, "provider_item_remove",
                                                   {"item": 999999}, None)).get()
    assert outcome == "refused" and len(mocked.calls) == 0
    assert placed.events.get(kind=OrderEvent.Kind.ERROR).message == (
        "Item removal not done: the item is gone.")
