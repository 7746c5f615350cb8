"""A real Celery worker process (its own logging set-up, its own handlers): a Tipser call that
fails at the connection level, retried by the task, writes the retry line and the provider-call
line to the worker's log — without the apiKey (issue 21, finding 3, "the worker log").

Needs PostgreSQL and Redis (the worker shares the test database); skipped otherwise."""

from __future__ import annotations

import pytest

from orders import snapshots
from orders.models import Order
from providers.tipser import mapping
from tests.factories import AccountFactory, MerchantFactory
from tests.providers.tipser.conftest import wire_order
from tests.reliability import test_worker_integration as integration

# the real-worker fixtures of the reliability suite
live_pg = integration.live_pg
worker = integration.worker

pytestmark = [pytest.mark.worker, pytest.mark.postgres]
API_KEY = "workerLogCanary5e1b7d"


def test_worker_log_has_no_apikey(worker):
    account = AccountFactory(provider="tipser", credentials={"api_key": API_KEY},
                             base_url="http://127.0.0.1:18253")  # nothing listens there
    MerchantFactory(account=account, name="Tipser shop", external_id="shop-1")
    snapshots.upsert_page(account=account, page=[mapping.parse_order(wire_order(1, status=6))])
    order = Order.objects.get(external_id="ord00001")

    worker.send("orders.tasks.order_sync_task", order.pk)
    integration._wait_for(lambda: "retry:" in worker.log.read_text(), what="the retry line")
    text = worker.log.read_text()
    assert "could not reach the provider" in text and "apiKey=***" in text
    assert API_KEY not in text
