"""Create (or bring up to date) the periodic tasks of django-celery-beat.

Idempotent: run it as often as you like (``make run`` does, after ``seed_demo``). Tasks it
manages are named ``dropdesk: …``; an operator may edit their interval or disable them in the
admin (Periodic tasks) — a later run keeps an edited interval and the enabled flag, and
only creates what is missing or removes schedules of accounts that no longer sync.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from merchants.models import ProviderAccount
from providers import registry

PREFIX = "dropdesk: "
ACCOUNT_SYNC_PREFIX = PREFIX + "sync incoming orders of account #"

SWEEPS = [
    # (name, task, minutes)
    ("expire drafts past their deadline", "orders.tasks.order_drafts_expire_task", 15),
    ("stale placing sweep", "orders.tasks.order_stale_placing_sweep_task", 5),
    ("reconcile unknown placements by lookup", "orders.tasks.orders_reconcile_unknown_task", 10),
    ("merchant authorization sweep", "merchants.tasks.merchant_authorizations_sweep_task", 60),
    ("purge old API idempotency records", "orders.tasks.idempotency_purge_task", 60),
    ("webhook deliveries due", "webhooks.tasks.webhook_deliveries_due_task", 1),
    ("purge old webhook attempts", "webhooks.tasks.webhook_attempts_purge_task", 24 * 60),
    ("order pipeline sweep (route, send tracking back)", "pipeline.tasks.pipeline_sweep_task", 5),
]


def _every(minutes: int) -> IntervalSchedule:
    schedule, _ = IntervalSchedule.objects.get_or_create(
        every=max(1, int(minutes)), period=IntervalSchedule.MINUTES
    )
    return schedule


def _ensure(name: str, task: str, minutes: int, args: list[Any] | None = None) -> bool:
    """Create the periodic task when missing; True when created."""
    _, created = PeriodicTask.objects.get_or_create(
        name=name,
        defaults={"task": task, "interval": _every(minutes), "args": json.dumps(args or [])},
    )
    return created


@transaction.atomic
def setup_schedules() -> dict[str, int]:
    counts = {"created": 0, "removed": 0}
    for label, task, minutes in SWEEPS:
        counts["created"] += _ensure(PREFIX + label, task, minutes)
    wanted: set[str] = set()
    for account in ProviderAccount.objects.filter(is_active=True).order_by("pk"):
        cls = registry.get(account.provider)
        if cls is None or not cls.supports("iter_incoming"):
            continue
        name = f"{ACCOUNT_SYNC_PREFIX}{account.pk} ({account.name})"[:200]
        wanted.add(name)
        minutes = (account.options.get("sync_interval_minutes")
                   or settings.ACCOUNT_SYNC_INTERVAL_MINUTES)
        counts["created"] += _ensure(name, "orders.tasks.account_sync_task", int(minutes),
                                     [account.pk])
    stale = PeriodicTask.objects.filter(name__startswith=ACCOUNT_SYNC_PREFIX).exclude(
        name__in=wanted
    )
    counts["removed"] = stale.count()
    stale.delete()
    return counts


class Command(BaseCommand):
    help = "Create the periodic tasks (per-account incoming sync, sweeps, reconcile). Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = setup_schedules()
        total = PeriodicTask.objects.filter(name__startswith=PREFIX).count()
        self.stdout.write(
            f"Periodic tasks: {counts['created']} created, {counts['removed']} removed, "
            f"{total} in all (edit them in the admin under Periodic tasks)."
        )
