"""Create (or bring up to date) the periodic tasks of django-celery-beat.

Idempotent, and no longer a required step: the beat process installs the same at start and
every account save keeps its sync schedule (orders/schedules.py). Tasks it manages are named
``dropdesk: …``; an edited interval and the enabled flag of a sweep are kept.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django_celery_beat.models import PeriodicTask

from merchants.schedules import ACCOUNT_SYNC_PREFIX, PREFIX  # noqa: F401  (imported by tests)
from orders.schedules import SWEEPS, schedules_install  # noqa: F401


def setup_schedules() -> dict[str, int]:
    return schedules_install()


class Command(BaseCommand):
    help = "Create the periodic tasks (per-account incoming sync, sweeps, reconcile). Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = setup_schedules()
        total = PeriodicTask.objects.filter(name__startswith=PREFIX).count()
        self.stdout.write(
            f"Periodic tasks: {counts['created']} created, {counts['updated']} updated, "
            f"{counts['removed']} removed, {total} in all (edit them in the admin under "
            "Periodic tasks)."
        )
