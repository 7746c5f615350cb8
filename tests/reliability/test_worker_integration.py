"""A real Celery worker process against the machine's Redis and PostgreSQL, talking to a
provider sandbox on loopback: a placement and a sync end to end, and a worker killed mid-call
whose task is redelivered without a second create."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from orders import services
from orders.models import Order
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory

from .loopback_provider import LoopbackProvider

REDIS_URL = "redis://127.0.0.1:6379/15"
pytestmark = [pytest.mark.worker, pytest.mark.postgres]


def _redis_answers() -> bool:
    try:
        redis_lib.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis_lib.RedisError:
        return False
    return True


@pytest.fixture
def live_pg(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("the worker process must share the test database: needs PostgreSQL "
                    "(DATABASE_URL=postgres://…); SQLite's test database lives in memory")
    if not _redis_answers():
        pytest.skip(f"Redis does not answer at {REDIS_URL}")


class Worker:
    """The worker subprocess: `python -m tests.reliability.worker_boot <queue>`."""

    def __init__(self, queue: str, log: Path) -> None:
        db = connection.settings_dict
        self.queue, self.log = queue, log
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            # the database pytest-django created for this run (test_<name>), seen by both
            "DATABASE_URL": (f"postgres://{db['USER'] or 'postgres'}:{db['PASSWORD'] or ''}@"
                             f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"),
            "CELERY_BROKER_URL": REDIS_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.worker_boot", self.queue],
            cwd=settings.BASE_DIR, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes()[offset:]:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("worker did not start:\n" + self.log.read_text()[-3000:])

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def running_worker(log_dir: Path, prefix: str = "dd-test") -> Iterator[Worker]:
    """A real worker on its own queue; ``worker.send(task_name, *args)`` queues a task for it."""
    queue = f"{prefix}-{uuid.uuid4().hex[:8]}"
    proc = Worker(queue, log_dir / "worker.log")
    proc.start()
    producer = Celery(broker=REDIS_URL)

    def send(name: str, *args: Any) -> None:
        producer.send_task(name, args=list(args), queue=queue)

    proc.send = send  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        proc.stop()
        producer.close()
        redis_lib.Redis.from_url(REDIS_URL).delete(queue)


@pytest.fixture
def worker(live_pg, tmp_path):
    with running_worker(tmp_path) as proc:
        yield proc


def _wait_for(predicate, timeout: float = 30.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _state(pk: int) -> str:
    return Order.objects.values_list("state", flat=True).get(pk=pk)


def _order_for(url: str) -> Order:
    merchant = MerchantFactory()
    merchant.account.base_url = url
    merchant.account.save()
    order = OrderFactory(merchant=merchant)
    OrderItemFactory(order=order, sku="SKU-W", quantity=2)
    return order


def test_real_worker_places_an_order_and_syncs_incoming(worker):
    with LoopbackProvider() as provider:
        order = _order_for(provider.url)
        worker.send("orders.tasks.order_place_task", order.pk)
        _wait_for(lambda: _state(order.pk) == "placed", what="the placement")
        order.refresh_from_db()
        assert order.external_id == "LB-1" and provider.creates == 1

        provider.incoming = [{"id": "IN-7", "number": "7007", "status": "WORKING",
                              "items": [{"id": "IN-7-0", "sku": "SKU-IN", "qty": 3}]}]
        worker.send("orders.tasks.account_sync_task", order.merchant.account.pk)
        _wait_for(lambda: Order.objects.filter(external_id="IN-7").exists(), what="the sync")
        synced = Order.objects.get(external_id="IN-7")
        assert synced.state == "in_progress" and synced.items.get().quantity == 3
    assert provider.creates == 1


def test_worker_killed_mid_call_redelivers_without_a_second_create(worker):
    with LoopbackProvider() as provider:
        provider.hold_creates.set()  # the provider accepts, then takes its time to answer
        order = _order_for(provider.url)
        worker.send("orders.tasks.order_place_task", order.pk)
        assert provider.create_arrived.wait(timeout=30), "the create never arrived"
        assert _state(order.pk) == "placing"
        worker.kill()  # mid-call: the message was not acknowledged (acks_late)
        provider.release.set()

        worker.start()  # a new worker gets the redelivered task (visibility timeout 3 s)
        _wait_for(lambda: "order_place_task" in worker.log.read_text().split(" ready.")[-1]
                  and "succeeded" in worker.log.read_text().split(" ready.")[-1],
                  what="the redelivered task", timeout=45)
        assert _state(order.pk) == "placing"  # it found the claim and did nothing
        assert provider.creates == 1

        # the stale-placing sweep hands it to reconcile, which finds it at the provider
        moved = services.order_stale_placing_sweep(now=timezone.now() + dt.timedelta(hours=1))
        assert moved == [order.pk]
        worker.send("orders.tasks.order_reconcile_task", order.pk)
        _wait_for(lambda: _state(order.pk) == "placed", what="the reconcile")
        order.refresh_from_db()
        assert order.external_id == "LB-1"
    assert provider.creates == 1
