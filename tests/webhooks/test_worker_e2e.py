"""Webhooks end to end: a real Celery worker (Redis broker, the test's PostgreSQL database)
delivering to a real receiver on loopback."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from celery import Celery
from django.db import transaction

from orders import services as order_services
from tests.factories import OrderFactory
from tests.reliability.test_worker_integration import REDIS_URL, Worker, _wait_for, live_pg  # noqa: F401
from webhooks import signing
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_subscription_create

pytestmark = [pytest.mark.worker, pytest.mark.postgres]


class Receiver:
    """A webhook receiver: answers the scripted statuses in turn (then 200), can hold a
    request, can be taken down and brought back on the same port."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.received: list[dict[str, Any]] = []
        self.accepted: Counter[str] = Counter()
        self.hold = threading.Event()
        self.arrived = threading.Event()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"body": body, "headers": dict(self.headers)})
                receiver.arrived.set()
                if receiver.hold.is_set():
                    time.sleep(4)
                status = receiver.script.pop(0) if receiver.script else 200
                if status == 200:
                    receiver.accepted[self.headers["Dropdesk-Event-Id"]] += 1
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def hook_worker(live_pg, tmp_path, monkeypatch):  # noqa: F811
    queue = f"dd-hooks-{uuid.uuid4().hex[:8]}"
    proc = Worker(queue, tmp_path / "worker.log")
    proc.env.update(WEBHOOK_ALLOW_LOOPBACK="true", WEBHOOK_RETRY_BASE_DELAY="0.5",
                    WEBHOOK_RETRY_MAX_DELAY="1", WEBHOOK_CONNECT_TIMEOUT="1", WEBHOOK_READ_TIMEOUT="2")
    proc.start()
    producer = Celery(broker=REDIS_URL)

    def send(name: str, *args: Any) -> None:
        producer.send_task(name, args=list(args), queue=queue)

    # deliveries go to the real worker (the test process runs tasks eagerly otherwise)
    monkeypatch.setattr("webhooks.dispatch.deliveries_enqueue",
                        lambda ids: [send("webhooks.tasks.webhook_delivery_task", pk) for pk in ids])
    proc.send = send  # type: ignore[attr-defined]
    yield proc
    proc.stop()
    producer.close()


@pytest.fixture
def subscribed(receiver, settings):
    from merchants.services import integration_create

    settings.WEBHOOK_ALLOW_LOOPBACK = True
    integration, _ = integration_create(name="receiver")
    sub, secret = webhook_subscription_create(integration=integration, url=receiver.url,
                                              event_types=["order.state_changed"])
    sub.plain_secret = secret
    return sub


def _cancel_new_order() -> int:
    order = OrderFactory()
    with transaction.atomic():
        order_services.order_cancel(order=order, reason="e2e")
    return order.pk


def _settled() -> bool:
    return not WebhookDelivery.objects.filter(state="pending").exists()


def test_signed_event_500_then_200_is_delivered_once_after_a_retry(hook_worker, receiver, subscribed):
    receiver.script = [500]
    order_pk = _cancel_new_order()
    _wait_for(lambda: sum(receiver.accepted.values()) == 1 and _settled(), what="delivery", timeout=30)
    first, second = receiver.received
    assert first["body"] == second["body"]
    assert signing.signature_verify(subscribed.plain_secret, second["headers"]["Dropdesk-Signature"],
                                    second["body"])
    payload = json.loads(second["body"])
    assert payload["data"]["object"]["id"] == order_pk and payload["data"]["to"] == "cancelled"
    assert list(receiver.accepted.values()) == [1]
    assert WebhookDelivery.objects.get().attempts == 2


def test_a_receiver_down_for_a_while_gets_every_event_once(hook_worker, receiver, subscribed):
    receiver.stop()
    orders = [_cancel_new_order() for _ in range(3)]
    _wait_for(lambda: WebhookDelivery.objects.filter(attempts__gte=2).count() == 3,
              what="failed attempts while the receiver is down", timeout=30)
    receiver.start()  # same port
    _wait_for(lambda: _settled() and len(receiver.accepted) == 3, what="catch-up", timeout=45)
    assert sorted(receiver.accepted.values()) == [1, 1, 1]
    ids = {json.loads(r["body"])["data"]["object"]["id"] for r in receiver.received}
    assert ids == set(orders)
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"delivered"}


def test_a_worker_killed_mid_delivery_sends_the_same_event_again(hook_worker, receiver, subscribed):
    receiver.hold.set()
    _cancel_new_order()
    assert receiver.arrived.wait(timeout=30), "the delivery never arrived"
    hook_worker.kill()
    receiver.hold.clear()
    hook_worker.start()
    delivery = WebhookDelivery.objects.get()

    def delivered() -> bool:
        hook_worker.send("webhooks.tasks.webhook_deliveries_due_task")  # what beat runs each minute
        delivery.refresh_from_db()
        return delivery.state == "delivered"

    _wait_for(delivered, what="the redelivery after the claim expired", timeout=45)
    ids = [r["headers"]["Dropdesk-Event-Id"] for r in receiver.received]
    assert len(ids) >= 2 and set(ids) == {str(delivery.event_id)}
