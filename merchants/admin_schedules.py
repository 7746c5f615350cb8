"""django-celery-beat's periodic-task admin, with a permission declared on every action.

Its four actions (enable, disable, toggle, run now) declare none: anyone who may *view*
periodic tasks could switch the schedules off or run them. Here each needs the change
permission on periodic tasks (issue 21: every non-safe action declares its permission).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

GUARDED_ACTIONS = ("enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks")


def _guarded(name: str) -> Any:
    original = getattr(PeriodicTaskAdmin, name)

    def action(self: Any, request: Any, queryset: Any) -> Any:
        return original(self, request, queryset)

    action.__name__ = name
    return admin.action(description=getattr(original, "short_description", name),
                        permissions=["change"])(action)


GuardedPeriodicTaskAdmin = type(
    "GuardedPeriodicTaskAdmin", (PeriodicTaskAdmin,),
    {"__module__": __name__, **{name: _guarded(name) for name in GUARDED_ACTIONS}},
)

if admin.site.is_registered(PeriodicTask):
    admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, GuardedPeriodicTaskAdmin)
