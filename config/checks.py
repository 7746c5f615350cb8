"""Deploy checks (`manage.py check --deploy`): a production deployment must not run on the
embedded defaults that make `make run` a two-command demo.

On SQLite, the filesystem broker or a file cache, the sync lock, the "sync now" throttle, the
API throttles, the OAuth token cache and the provider rate limiter are per machine (and a
local-memory cache makes them per process). Each default is an error naming the setting to
change. ``DROPDESK_SINGLE_MACHINE=true`` accepts the machine-local ones (SQLite, filesystem
broker, file cache) for an install that is, and stays, one machine; never a local-memory cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

SQLITE_ENGINES = ("django.db.backends.sqlite3", "core.db.sqlite3")
MACHINE_LOCAL_BROKERS = ("filesystem", "sqla+sqlite", "sqlite")
PROCESS_LOCAL_BROKERS = ("memory",)
FILE_CACHES = ("django.core.cache.backends.filebased.FileBasedCache",)
PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
HINT_HATCH = " (or DROPDESK_SINGLE_MACHINE=true for a deliberate one-machine install)"


def embedded_default_problems(
    *, debug: bool, single_machine: bool, databases: Mapping[str, Any], broker_url: str,
    caches: Mapping[str, Any],
) -> list[Error]:
    """The errors for the given settings: one per embedded default still in use."""
    if debug:
        return []
    problems: list[Error] = []
    for alias, db in databases.items():
        if db.get("ENGINE") in SQLITE_ENGINES and not single_machine:
            problems.append(Error(
                f"DATABASES[{alias!r}] is the embedded SQLite file: web and workers on other "
                "machines cannot share it.",
                hint="Set DATABASE_URL=postgres://user:password@host:5432/dropdesk" + HINT_HATCH,
                id="dropdesk.E010",
            ))
    scheme = broker_url.split("://", 1)[0].lower() if broker_url else "amqp"
    if scheme in PROCESS_LOCAL_BROKERS or (scheme in MACHINE_LOCAL_BROKERS and not single_machine):
        problems.append(Error(
            f"CELERY_BROKER_URL is the embedded {scheme}:// broker: tasks stay on this "
            + ("process." if scheme in PROCESS_LOCAL_BROKERS else "machine."),
            hint="Set CELERY_BROKER_URL=redis://host:6379/0 (or amqp://…)"
            + ("" if scheme in PROCESS_LOCAL_BROKERS else HINT_HATCH),
            id="dropdesk.E011",
        ))
    for alias, cache in caches.items():
        backend = cache.get("BACKEND", "")
        if backend in PROCESS_LOCAL_CACHES:
            problems.append(Error(
                f"CACHES[{alias!r}] is a {backend.rsplit('.', 1)[-1]}: every process has its "
                "own, so locks, throttles, the token cache and the rate limiter do not hold.",
                hint="Set CACHE_URL=redis://host:6379/1",
                id="dropdesk.E012",
            ))
        elif backend in FILE_CACHES and not single_machine:
            problems.append(Error(
                f"CACHES[{alias!r}] is the embedded file cache: locks, throttles, the token "
                "cache and the rate limiter hold on this machine only.",
                hint="Set CACHE_URL=redis://host:6379/1" + HINT_HATCH,
                id="dropdesk.E013",
            ))
    return problems


@register(Tags.security, deploy=True)
def check_embedded_defaults(app_configs: Any, **kwargs: Any) -> list[Error]:
    return embedded_default_problems(
        debug=settings.DEBUG,
        single_machine=settings.DROPDESK_SINGLE_MACHINE,
        databases=settings.DATABASES,
        broker_url=settings.CELERY_BROKER_URL,
        caches=settings.CACHES,
    )
