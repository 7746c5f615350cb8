"""Thread-safe ``refresh_from_db`` for models with protected FSM fields.

django-fsm-2's ``FSMModelMixin.refresh_from_db`` switches ``protected`` off on the *shared*
field object while it reloads, then on again. In a threaded worker (``celery worker -P
threads``, as ``make run`` starts it) two refreshes overlap: one thread switches protection
back on while the other is still setting the state, which raises "Direct state modification
is not allowed" after the provider call succeeded (bench/bench_bulk_place.py: 25 of 1,000
bulk placements crashed that way, leaving orders in "placing"). Here the exemption is per
thread and per instance instead: the field stays protected for everybody else.
"""

from __future__ import annotations

import threading
from typing import Any

from django_fsm import FSMFieldDescriptor, FSMModelMixin

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


def install() -> None:
    FSMFieldDescriptor.__set__ = _descriptor_set  # type: ignore[method-assign]
    FSMModelMixin.refresh_from_db = _refresh_from_db  # type: ignore[method-assign]


