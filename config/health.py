"""``/healthz``: django-health-check's view with the checks a dropdesk deployment needs.

Database, cache, broker connection, a Celery worker answering ``ping`` (on the default
queue), and no pending migrations. 200 when all pass, 500 naming what failed. JSON with
``Accept: application/json`` or ``?format=json``; text with ``?format=text``; HTML otherwise.
Exempt from the TLS redirect (``SECURE_REDIRECT_EXEMPT``) so a plain-HTTP probe gets an answer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, ClassVar

from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration of the code is applied to the database (a deploy forgot `migrate`)."""

    alias: str = "default"

    def run(self) -> None:
        connection = connections[self.alias]
        try:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        finally:
            connection.close()  # this runs on a helper thread: leave no connection behind
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
            raise ServiceUnavailable(f"{len(plan)} unapplied migration(s): {names}; run migrate")


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (the URL, with its password, is not shown)."""

    timeout: ClassVar[dt.timedelta] = dt.timedelta(seconds=3)

    def run(self) -> None:
        from config.celery import app

        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=self.timeout.total_seconds())
        except Exception as exc:
            raise ServiceUnavailable(f"broker unreachable ({exc.__class__.__name__})") from exc


@dataclasses.dataclass
class CeleryPing(Ping):
    """A worker answers ``ping`` (the first answer is enough) and consumes the default queue."""

    app: Any = dataclasses.field(default=None, repr=False)
    timeout: dt.timedelta = dataclasses.field(default=dt.timedelta(seconds=3), repr=False)
    limit: int | None = dataclasses.field(default=1, repr=False)

    def __post_init__(self) -> None:
        if self.app is None:
            from config.celery import app

            self.app = app


CHECKS: list[Any] = [Database, Cache, Broker, CeleryPing, Migrations]


class HealthView(HealthCheckView):
    checks = CHECKS
