"""`make run`'s embedded setup: a real worker process on the filesystem broker and a SQLite
file, no broker server. The admin's bulk place queues; the worker places on its own."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection

from .loopback_provider import LoopbackProvider

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(connection.vendor != "sqlite",
                       reason="uses its own SQLite file; runs once, in the SQLite pass"),
]


def test_worker_on_filesystem_broker_and_sqlite_places_a_queued_order(tmp_path):
    db = tmp_path / "dropdesk.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{db}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_FOLDER": str(tmp_path / "broker"),
        "CACHE_URL": f"filecache://{tmp_path / 'cache'}",
        "PROVIDER_DEFAULT_RATE_LIMIT": "0",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    run = {"cwd": settings.BASE_DIR, "env": env, "capture_output": True, "text": True,
           "timeout": 120}
    queue = "dd-embedded"
    with LoopbackProvider() as provider:
        setup = subprocess.run([sys.executable, "-m", "tests.reliability.embedded_check",
                                "setup", provider.url], check=True, **run)
        pk = int(setup.stdout.strip().splitlines()[-1])
        log = tmp_path / "worker.log"
        with log.open("wb") as handle:
            worker = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.worker_boot", queue],
                cwd=settings.BASE_DIR, env=env, stdout=handle, stderr=subprocess.STDOUT,
            )
        try:
            queued = subprocess.run([sys.executable, "-m", "tests.reliability.embedded_check",
                                     "enqueue", queue, str(pk)], check=True, **run)
            assert "queued" in queued.stdout
            deadline, state = time.monotonic() + 60, None
            while time.monotonic() < deadline:
                with sqlite3.connect(db, timeout=10) as conn:
                    state = conn.execute("select state from orders_order where id=?",
                                         (pk,)).fetchone()[0]
                if state == "placed":
                    break
                time.sleep(0.3)
            assert state == "placed", log.read_text()[-3000:]
            assert provider.creates == 1
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
