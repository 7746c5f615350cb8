"""Entry point of the real worker the integration tests start: the project's Celery app,
plus the test-only fake provider (registered in this process too) and the test's queue.

    python -m tests.reliability.worker_boot <queue>
"""

from __future__ import annotations

import os
import sys

import django


def main() -> None:
    queue = sys.argv[1]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
    django.setup()
    from config.celery import app
    from providers import registry
    from tests.fake_provider import FakeService

    registry.register(FakeService)
    app.conf.task_default_queue = queue
    if app.conf.broker_url.startswith("redis"):
        # redeliver an unacknowledged task of a killed worker after 3 s (default: 1 hour),
        # scanning for such tasks every second (default: every 10th 10 s tick)
        app.conf.broker_transport_options = {
            "visibility_timeout": 3, "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }
    app.worker_main(["worker", "-l", "info", "-P", "threads", "-c", "2", "-Q", queue,
                     "--without-gossip", "--without-mingle", "--without-heartbeat",
                     "-n", f"dd-test-{queue}@%h"])


if __name__ == "__main__":
    main()
