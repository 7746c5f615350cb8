"""The periodic tasks (django-celery-beat), declared here and installed without a manual step:
the beat process installs them when it starts (config/celery.py, ``beat_init``), each account's
sync follows the account's saves (merchants/schedules.py), and ``manage.py setup_schedules``
does the same on demand (idempotent).

An operator may edit a sweep's interval or disable it in the admin (Periodic tasks): an install
keeps an edited interval and the enabled flag, and only creates what is missing.
"""

from __future__ import annotations

import json

from django.db import transaction
from django_celery_beat.models import PeriodicTask

from merchants.models import ProviderAccount
from merchants.schedules import (
    ACCOUNT_SYNC_PREFIX,
    PREFIX,
    account_schedule_sync,
    account_sync_schedule_name,
    account_syncs_incoming,
    interval_every,
)

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
    ("dashboard orders per day (recount)", "orders.tasks.order_daily_counts_refresh_task", 1),
]


@transaction.atomic
def schedules_install() -> dict[str, int]:
    """Every sweep and every account's sync; removes syncs of accounts that no longer sync."""
    counts = {"created": 0, "updated": 0, "removed": 0}
    for label, task, minutes in SWEEPS:
        _, created = PeriodicTask.objects.get_or_create(
            name=PREFIX + label,
            defaults={"task": task, "interval": interval_every(minutes), "args": json.dumps([])},
        )
        counts["created"] += created
    wanted: set[str] = set()
    for account in ProviderAccount.objects.order_by("pk"):
        outcome = account_schedule_sync(account=account)
        if outcome in counts:
            counts[outcome] += 1
        if account_syncs_incoming(account):
            wanted.add(account_sync_schedule_name(account))
    stale = PeriodicTask.objects.filter(name__startswith=ACCOUNT_SYNC_PREFIX).exclude(
        name__in=wanted
    )
    counts["removed"] += stale.delete()[0]
    return counts
