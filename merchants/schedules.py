"""The periodic incoming sync of a provider account (django-celery-beat), kept in step with
the account: called from every save path of an account (merchants/services.py, the admin).

One periodic task per account whose provider sends orders (``iter_incoming``), named
``dropdesk: sync incoming orders of account #<pk> (<name>)``, every
``options["sync_interval_minutes"]`` (else ``ACCOUNT_SYNC_INTERVAL_MINUTES``) minutes. An
inactive account, or one whose provider has no incoming orders, has none.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from providers import registry

from .models import ProviderAccount

PREFIX = "dropdesk: "
ACCOUNT_SYNC_PREFIX = PREFIX + "sync incoming orders of account #"
ACCOUNT_SYNC_TASK = "orders.tasks.account_sync_task"


def interval_every(minutes: int) -> IntervalSchedule:
    schedule, _ = IntervalSchedule.objects.get_or_create(
        every=max(1, int(minutes)), period=IntervalSchedule.MINUTES
    )
    return schedule


def account_sync_schedule_name(account: ProviderAccount) -> str:
    return f"{ACCOUNT_SYNC_PREFIX}{account.pk} ({account.name})"[:200]


def account_sync_minutes(account: ProviderAccount) -> int:
    raw: Any = (account.options or {}).get("sync_interval_minutes")
    try:
        minutes = int(raw or 0)
    except (TypeError, ValueError):
        minutes = 0
    return max(1, minutes or int(settings.ACCOUNT_SYNC_INTERVAL_MINUTES))


def account_syncs_incoming(account: ProviderAccount) -> bool:
    cls = registry.get(account.provider)
    return bool(account.is_active and cls is not None and cls.supports("iter_incoming"))


def account_schedule_sync(*, account: ProviderAccount) -> str:
    """Create, update or remove the account's periodic sync. Returns what it did:
    ``created``, ``updated``, ``removed`` or ``unchanged``."""
    existing = PeriodicTask.objects.filter(
        name__startswith=f"{ACCOUNT_SYNC_PREFIX}{account.pk} ("
    ).select_related("interval")
    if not account.pk or not account_syncs_incoming(account):
        return "removed" if existing.delete()[0] else "unchanged"
    name, minutes = account_sync_schedule_name(account), account_sync_minutes(account)
    task = existing.first()
    if task is None:
        PeriodicTask.objects.create(name=name, task=ACCOUNT_SYNC_TASK,
                                    interval=interval_every(minutes), args=json.dumps([account.pk]))
        return "created"
    interval = task.interval
    if (task.name == name and interval is not None and interval.every == minutes
            and interval.period == IntervalSchedule.MINUTES):
        return "unchanged"
    task.name, task.interval = name, interval_every(minutes)
    task.save(update_fields=["name", "interval"])
    return "updated"
