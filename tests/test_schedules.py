"""Schedules without a manual step: the beat process installs the sweeps at start; every save
path of an account keeps its periodic sync in step (created, interval updated, removed)."""

from __future__ import annotations

import pytest
from celery.signals import beat_init
from django.contrib.admin.sites import site
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from merchants import services as merchant_services
from merchants.models import ProviderAccount
from merchants.schedules import ACCOUNT_SYNC_TASK, account_schedule_sync
from orders.schedules import SWEEPS, schedules_install

pytestmark = pytest.mark.django_db


def _sync_tasks(account: ProviderAccount) -> list[PeriodicTask]:
    return list(PeriodicTask.objects.filter(task=ACCOUNT_SYNC_TASK, args=f"[{account.pk}]")
                .select_related("interval"))


def test_beat_start_installs_every_declared_sweep_once_and_keeps_operator_edits():
    assert not PeriodicTask.objects.exists()
    beat_init.send(sender=None)  # what `celery beat` sends before its first tick
    tasks = {t.task: t for t in PeriodicTask.objects.select_related("interval")}
    for _label, task, minutes in SWEEPS:
        assert tasks[task].interval.every == minutes
        assert tasks[task].interval.period == IntervalSchedule.MINUTES
    stale = tasks["orders.tasks.order_stale_placing_sweep_task"]
    stale.interval = IntervalSchedule.objects.create(every=2, period=IntervalSchedule.MINUTES)
    stale.enabled = False
    stale.save()

    beat_init.send(sender=None)  # a restart
    assert PeriodicTask.objects.count() == len(SWEEPS)
    stale.refresh_from_db()
    assert stale.interval.every == 2 and stale.enabled is False


def test_account_create_and_update_keep_the_sync_schedule_in_step():
    account = merchant_services.account_create(provider="fake", name="Shop A",
                                               options={"sync_interval_minutes": 7})
    [task] = _sync_tasks(account)
    assert task.interval.every == 7 and task.name.endswith(f"#{account.pk} (Shop A)")

    merchant_services.account_update(account=account, options={"sync_interval_minutes": 3},
                                     name="Shop B")
    [task] = _sync_tasks(account)
    assert task.interval.every == 3 and task.name.endswith("(Shop B)")

    merchant_services.account_update(account=account, options={})  # back to the default
    [task] = _sync_tasks(account)
    assert task.interval.every == 15

    merchant_services.account_update(account=account, is_active=False)
    assert _sync_tasks(account) == []
    merchant_services.account_update(account=account, is_active=True)
    assert len(_sync_tasks(account)) == 1


def test_an_account_whose_provider_sends_no_orders_gets_no_schedule():
    account = merchant_services.account_create(provider="aliseeks", name="Ali")
    assert account_schedule_sync(account=account) == "unchanged"
    assert _sync_tasks(account) == []


def test_admin_save_of_an_account_updates_its_schedule(rf, admin_user):
    account = merchant_services.account_create(provider="fake", name="Shop")
    model_admin = site._registry[ProviderAccount]
    request = rf.post("/")
    request.user = admin_user
    account.options = {"sync_interval_minutes": 42}
    model_admin.save_model(request, account, form=None, change=True)
    [task] = _sync_tasks(account)
    assert task.interval.every == 42


def test_setup_schedules_is_idempotent_with_the_save_paths():
    account = merchant_services.account_create(provider="fake", name="Shop")
    first = schedules_install()
    assert first["created"] == len(SWEEPS) and first["removed"] == 0
    again = schedules_install()
    assert again == {"created": 0, "updated": 0, "removed": 0}
    assert len(_sync_tasks(account)) == 1


def test_the_beat_recounts_the_dashboards_orders_per_day_every_minute(merchant):
    from orders.models import OrderDailyCount, OrderDailyCountRefresh
    from orders.tasks import order_daily_counts_refresh_task
    from tests.factories import OrderFactory

    schedules_install()
    task = PeriodicTask.objects.select_related("interval").get(
        task="orders.tasks.order_daily_counts_refresh_task")
    assert (task.interval.every, task.interval.period) == (1, IntervalSchedule.MINUTES)
    assert task.enabled

    OrderFactory(merchant=merchant)
    done = order_daily_counts_refresh_task.apply().get()  # what the beat's tick runs
    assert done["written"] and done["orders"] == 1
    assert sum(OrderDailyCount.objects.values_list("n", flat=True)) == 1
    assert OrderDailyCountRefresh.objects.get().refreshed_at.isoformat() == done["refreshed_at"]
