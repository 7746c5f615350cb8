from __future__ import annotations

import io

import pytest
from django_celery_beat.models import PeriodicTask

from merchants import services as merchant_services
from orders.demo import demo_seed
from orders.models import Order
from providers.tipser import demo

pytestmark = pytest.mark.django_db


def test_demo_seed_imports_incoming_sandbox_orders_and_schedules_sync():
    account = merchant_services.account_create(
        provider="tipser",
        name="Tipser demo",
        environment="sandbox",
        base_url="http://127.0.0.1:8000/sandbox/tipser/",
        credentials=demo.CREDENTIALS,
        options=demo.OPTIONS,
    )
    out = io.StringIO()
    demo_seed(account=account, stdout=out)
    orders = Order.objects.filter(merchant__account=account)
    assert orders.count() == 6
    assert {o.state for o in orders} == {"placed"}
    assert all(o.items.exists() and o.contact_name for o in orders)
    account.refresh_from_db()
    assert account.state["sync"]["next_from"]
    # one sync schedule per account, made by setup_schedules from the account's option
    from orders.management.commands.setup_schedules import setup_schedules

    setup_schedules()
    task = PeriodicTask.objects.get(task="orders.tasks.account_sync_task")
    assert task.args == f"[{account.pk}]"
    assert (task.interval.every, task.interval.period) == (1, "minutes")
    assert demo.CREDENTIALS["api_key"] not in out.getvalue()
