"""Tasks: retries only for unavailable providers, never a second create, sweeps, sync now,
the periodic schedule and the admin's bulk place."""

from __future__ import annotations

import datetime as dt

import pytest
import responses
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from orders import dispatch, services, tasks
from orders.errors import OrderActionRefused
from orders.models import BulkRun, Order
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL

pytestmark = pytest.mark.django_db
CREATE = f"{BASE_URL}/orders"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def _creates(mocked) -> int:
    return sum(1 for c in mocked.calls if c.request.method == "POST" and c.request.url == CREATE)


def _lookup(mocked, order, body):
    mocked.add(responses.GET, f"{BASE_URL}/orders/by-ref/{order.reference}", json=body)


def test_place_task_retries_unavailable_then_places_once(mocked, order):
    mocked.add(responses.POST, CREATE, status=503)
    mocked.add(responses.POST, CREATE, status=503)
    mocked.add(responses.POST, CREATE, json={"id": 77, "status": "NEW"})
    result = tasks.order_place_task.delay(order.pk)
    assert result.get() == "placed"
    order.refresh_from_db()
    assert order.state == "placed" and order.external_id == "77"
    assert _creates(mocked) == 3
    notes = list(order.events.filter(kind="note").values_list("message", flat=True))
    assert any("try 1 of 5" in n for n in notes) and any("try 2 of 5" in n for n in notes)


def test_place_task_gives_up_after_max_tries_and_shows_reason_and_retry_button(mocked, order):
    mocked.add(responses.POST, CREATE, status=503, body="maintenance")
    tasks.order_place_task.delay(order.pk)
    order.refresh_from_db()
    assert _creates(mocked) == 5
    assert order.state == "failed"
    assert "maintenance" in order.failure_reason and "gave up after 5 tries" in order.failure_reason
    assert "place" in services.order_transitions_available(order=order)


def test_place_task_honours_retry_after(mocked, order, settings):
    settings.TASK_RETRY_BASE_DELAY = 1
    mocked.add(responses.POST, CREATE, status=429, headers={"Retry-After": "42"})
    mocked.add(responses.POST, CREATE, json={"id": 1, "status": "NEW"})
    tasks.order_place_task.delay(order.pk)
    note = order.events.filter(kind="note", message__contains="retrying").get()
    assert "in 42s" in note.message


def test_retry_countdown_grows_with_jitter_and_is_bounded(settings):
    settings.TASK_RETRY_BASE_DELAY = 10
    settings.TASK_RETRY_MAX_DELAY = 100
    for retries, (low, high) in {0: (5, 10), 1: (10, 20), 2: (20, 40), 6: (50, 100)}.items():
        values = {tasks.retry_countdown(retries) for _ in range(50)}
        assert all(low <= v <= high for v in values)
        assert len(values) > 1  # jitter
    assert tasks.retry_countdown(0, retry_after=300) == 300


def test_rejection_is_never_retried(mocked, order):
    mocked.add(responses.POST, CREATE, status=422, body="bad sku")
    assert tasks.order_place_task.delay(order.pk).get() == "failed"
    assert _creates(mocked) == 1


def test_outcome_unknown_is_not_resent_and_reconcile_settles_it(mocked, order):
    mocked.add(responses.POST, CREATE, body=responses.ConnectionError("Connection aborted."))
    _lookup(mocked, order, {"id": 501, "status": "NEW"})
    tasks.order_place_task.delay(order.pk)
    order.refresh_from_db()
    assert _creates(mocked) == 1
    assert order.state == "placed" and order.external_id == "501"
    assert order.events.filter(message__contains="Reconciled by lookup").exists()


def test_reconcile_not_found_returns_order_to_draft_without_sending(mocked, order):
    mocked.add(responses.POST, CREATE, body="{not json", status=200)
    _lookup(mocked, order, {})
    tasks.order_place_task.delay(order.pk)
    order.refresh_from_db()
    assert _creates(mocked) == 1
    assert order.state == "draft"


def test_running_place_task_twice_makes_one_provider_call(mocked, order):
    mocked.add(responses.POST, CREATE, json={"id": 3, "status": "NEW"})
    tasks.order_place_task.delay(order.pk)
    assert tasks.order_place_task.delay(order.pk).get() == "placed"  # a redelivery
    assert _creates(mocked) == 1


def test_redelivery_while_placing_makes_no_call_and_sweeper_marks_unknown(mocked, order):
    # a worker claimed the order and died before the provider answered
    with transaction.atomic():
        locked = services.lock_order(order)
        services.transition_apply(locked, "place")
    assert tasks.order_place_task.delay(order.pk).get() == "placing"
    assert len(mocked.calls) == 0
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - dt.timedelta(hours=1))
    _lookup(mocked, order, {})
    moved = tasks.order_stale_placing_sweep_task.delay().get()
    assert moved == [order.pk]
    order.refresh_from_db()
    # the lookup found nothing at the provider: back to draft, never re-sent
    assert order.state == "draft" and _creates(mocked) == 0
    assert order.events.filter(to_state="placement_unknown").exists()


def test_stale_sweep_leaves_recent_placing_orders_alone(order):
    with transaction.atomic():
        services.transition_apply(services.lock_order(order), "place")
    assert services.order_stale_placing_sweep() == []


def test_drafts_past_expiry_expire_and_others_stay(merchant):
    old = OrderFactory(merchant=merchant, expires_at=timezone.now() - dt.timedelta(minutes=1))
    fresh = OrderFactory(merchant=merchant, expires_at=timezone.now() + dt.timedelta(days=1))
    plain = OrderFactory(merchant=merchant)
    assert tasks.order_drafts_expire_task.delay().get() == 1
    states = dict(Order.objects.values_list("pk", "state"))
    assert (states[old.pk], states[fresh.pk], states[plain.pk]) == ("expired", "draft", "draft")


def test_account_sync_task_retries_unavailable_and_saves_orders(mocked, merchant):
    url = f"{BASE_URL}/incoming"
    mocked.add(responses.GET, url, status=503)
    mocked.add(responses.GET, url, json={"pages": 1, "orders": [
        {"id": "X1", "number": "1001", "status": "NEW",
         "items": [{"id": "i1", "sku": "S", "qty": 1}]}]})
    result = tasks.account_sync_task.delay(merchant.account.pk).get()
    assert result["created"] == 1
    assert Order.objects.filter(external_id="X1", merchant=merchant).exists()


def test_sync_now_is_rate_limited_per_account(merchant, django_capture_on_commit_callbacks, mocked):
    mocked.add(responses.GET, f"{BASE_URL}/incoming", json={"pages": 1, "orders": []})
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        dispatch.account_sync_now(account=merchant.account)
    assert len(callbacks) == 1
    with pytest.raises(dispatch.SyncTooSoon):
        dispatch.account_sync_now(account=merchant.account)
    other = AccountFactory()
    dispatch.account_sync_now(account=other)  # another account is not held back


def test_setup_schedules_is_idempotent_and_covers_syncing_accounts(merchant):
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert any("sync incoming orders of account #" + str(merchant.account.pk) in n for n in names)
    sweep = "orders.tasks.order_stale_placing_sweep_task"
    assert PeriodicTask.objects.filter(task=sweep).count() == 1
    task = PeriodicTask.objects.get(task="orders.tasks.account_sync_task")
    assert task.args == f"[{merchant.account.pk}]"
    merchant.account.is_active = False
    merchant.account.save()
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not PeriodicTask.objects.filter(task="orders.tasks.account_sync_task").exists()


def test_admin_bulk_place_queues_on_commit_and_reports_skips(
    client, operator, merchant, mocked, django_capture_on_commit_callbacks
):
    drafts = []
    for _ in range(3):
        o = OrderFactory(merchant=merchant)
        OrderItemFactory(order=o)
        drafts.append(o)
    empty = OrderFactory(merchant=merchant)
    placed = OrderFactory(merchant=merchant)
    Order.objects.filter(pk=placed.pk).update(state="placed", external_id="E1")
    unauthorized = OrderFactory(merchant=MerchantFactory(authorized=False))
    OrderItemFactory(order=unauthorized)
    for n, _ in enumerate(drafts):
        mocked.add(responses.POST, CREATE, json={"id": 900 + n, "status": "NEW"})
    client.force_login(operator)
    pks = [o.pk for o in [*drafts, empty, placed, unauthorized]]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("admin:orders_order_changelist"),
                               {"action": "place_selected", "_selected_action": pks}, follow=True)
    assert response.status_code == 200
    assert "4 order(s) sent to the worker, 2 skipped" in response.content.decode()
    assert len(mocked.calls) == 0  # the request returned before any provider call
    run = BulkRun.objects.get()
    skipped = dict(run.items.filter(outcome="skipped").values_list("order_id", "message"))
    assert "not allowed from state Placed" in skipped[placed.pk]
    assert "merchant not authorized" in skipped[unauthorized.pk]
    for callback in callbacks:  # the worker's part
        callback()
    states = Order.objects.filter(pk__in=[o.pk for o in drafts]).values_list("state", flat=True)
    assert set(states) == {"placed"}
    assert _creates(mocked) == 3
    outcomes = dict(run.items.values_list("order_id", "outcome"))
    assert [outcomes[o.pk] for o in drafts] == ["done"] * 3
    assert outcomes[empty.pk] == "failed"
    assert "no items" in run.items.get(order=empty).message


def test_bulk_place_hands_unavailable_orders_to_the_retrying_task(
    client, operator, order, mocked, django_capture_on_commit_callbacks, settings
):
    settings.ORDER_PLACE_MAX_TRIES = 3
    mocked.add(responses.POST, CREATE, status=503)
    mocked.add(responses.POST, CREATE, json={"id": 77, "status": "NEW"})
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:orders_order_changelist"),
                    {"action": "place_selected", "_selected_action": [order.pk]})
    item = BulkRun.objects.get().items.get()
    order.refresh_from_db()
    assert order.state == "placed" and _creates(mocked) == 2  # the task's retry placed it
    assert (item.outcome, item.message) == ("done", "now Placed")  # the item followed it


def test_bulk_place_refused_for_read_only_user(client, readonly_user, order):
    client.force_login(readonly_user)
    with pytest.raises(OrderActionRefused):
        dispatch.order_place_enqueue(order=order, actor=readonly_user)


def test_admin_sync_now_on_accounts_is_rate_limited(client, operator, merchant, mocked):
    mocked.add(responses.GET, f"{BASE_URL}/incoming", json={"pages": 1, "orders": []})
    client.force_login(operator)
    url = reverse("admin:merchants_provideraccount_changelist")
    data = {"action": "sync_now", "_selected_action": [merchant.account.pk]}
    first = client.post(url, data, follow=True).content.decode()
    second = client.post(url, data, follow=True).content.decode()
    assert "Sync of" in first and "queued" in first
    assert "less than 60 seconds ago" in second
