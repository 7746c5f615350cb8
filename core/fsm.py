"""Thread-safe ``refresh_from_db`` for models with protected FSM fields.

django-fsm-2's ``FSMModelMixin.refresh_from_db`` switches ``protected`` off on the *shared*
field object while it reloads, then on again. In a threaded worker (``celery worker -P
threads``, as ``make run`` starts it) two refreshes overlap: one thread switches protection
back on while the other is still setting the state, which raises "Direct state modification
is not allowed" after the provider call succeeded (bench/bench_bulk_place.py: 25 of 1,000
bulk placements crashed that way, leaving orders in "placing"). Here the exemption is per
thread and per instance instead: the field stays protected for everybody else.

Upstream: django-fsm-2 ``django_fsm/__init__.py`` (``FSMFieldDescriptor.__set__``,
``FSMModelMixin.refresh_from_db``). Checked on the versions in ``CHECKED``: on any other
version ``install`` refuses to start (re-read upstream; drop this patch once upstream's
refresh is per instance). tests/bench/test_fsm_refresh.py shows the race it prevents.
"""

from __future__ import annotations

import threading
from importlib.metadata import version
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django_fsm import FSMFieldDescriptor, FSMModelMixin

CHECKED = ((4, 2), (4, 2))  # inclusive (major, minor) range of django-fsm-2

_local = threading.local()


def _refreshing(instance: Any) -> bool:
    return any(obj is instance for obj in getattr(_local, "refreshing", ()))


def _descriptor_set(self: FSMFieldDescriptor, instance: Any, value: Any) -> None:
    if self.field.protected and self.field.name in instance.__dict__ and not _refreshing(instance):
        raise AttributeError(f"Direct {self.field.name} modification is not allowed")
    self.field.set_proxy(instance, value)
    self.field.set_state(instance, value)


def _refresh_from_db(self: Any, *args: Any, **kwargs: Any) -> None:
    stack = _local.__dict__.setdefault("refreshing", [])
    stack.append(self)
    try:
        super(FSMModelMixin, self).refresh_from_db(*args, **kwargs)
    finally:
        stack.pop()


def installed_version() -> tuple[int, int]:
    major, minor = version("django-fsm-2").split(".")[:2]
    return int(major), int(minor)


def install() -> None:
    low, high = CHECKED
    if not low <= installed_version() <= high:
        raise ImproperlyConfigured(
            f"core/fsm.py patches django-fsm-2 {low}–{high}; {version('django-fsm-2')} is "
            "installed. Re-check the patch against upstream (see its docstring) and widen CHECKED."
        )
    FSMFieldDescriptor.__set__ = _descriptor_set  # type: ignore[method-assign]
    FSMModelMixin.refresh_from_db = _refresh_from_db  # type: ignore[method-assign]


