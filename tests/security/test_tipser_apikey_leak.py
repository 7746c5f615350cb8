"""Issue 21, finding 3: a Tipser call failing at the connection level must not leak ``apiKey``.

The account points at a closed local port, so requests raises its real ``ConnectionError``
whose text holds the whole URL (``...?apiKey=<key> (Caused by NewConnectionError ...)``).
The key must not reach the failure reason, the timeline, the API's 502 body, the admin (a
read-only user's view too), the CSV export, or any log line (Celery's retry lines included,
written by a handler that has no filter of ours, as a Celery worker's own handler has none).
"""

from __future__ import annotations

import io
import logging

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from orders import snapshots
from orders.models import Order, OrderEvent
from orders.tasks import order_sync_task
from providers.tipser import mapping
from tests.factories import AccountFactory, MerchantFactory
from tests.providers.tipser.conftest import wire_order

pytestmark = pytest.mark.django_db

API_KEY = "tipserLeakCanary7f3a9c"
CLOSED_PORT_URL = "http://127.0.0.1:18251"  # nothing listens here (the port range of this test)


@pytest.fixture
def order(db):
    account = AccountFactory(provider="tipser", credentials={"api_key": API_KEY},
                             base_url=CLOSED_PORT_URL)
    MerchantFactory(account=account, name="Tipser shop", external_id="shop-1")
    snapshots.upsert_page(account=account, page=[mapping.parse_order(wire_order(1, status=6))])
    return Order.objects.get(external_id="ord00001")


@pytest.fixture
def worker_log():
    """A plain handler on Celery's loggers, as a worker installs it (no filter of ours)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("celery", "celery.app.trace", "celery.worker")]
    old = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    yield stream
    for lg, (level, propagate) in zip(loggers, old, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)
        lg.propagate = propagate


def test_connection_failure_keeps_the_tipser_apikey_out_of_every_sink(
    order, operator, readonly_user, client, caplog, worker_log, settings,
    django_capture_on_commit_callbacks,
):
    settings.ORDER_PLACE_MAX_TRIES = 2
    caplog.set_level(logging.INFO)
    api = APIClient()
    api.force_login(operator)

    with django_capture_on_commit_callbacks(execute=True):  # the worker pushes the shipment
        response = api.post(f"/api/v1/orders/{order.pk}/shipments/",
                            {"carrier": "DHL", "tracking_number": "T-1"}, format="json")
    assert response.status_code == 202, response.content
    api_body = response.content.decode()
    reasons = " ".join(OrderEvent.objects.filter(order=order, kind="error")
                       .values_list("message", flat=True))
    assert "could not reach the provider" in reasons  # a readable reason is still shown

    order_sync_task.delay(order.pk)  # eager: the first try fails, Celery logs a retry line

    order.refresh_from_db()
    assert order.failure_reason
    stored = [order.failure_reason, str(order.raw_data)]
    stored += [f"{e.message} {e.data}" for e in OrderEvent.objects.filter(order=order)]
    stored += [str(s.raw_data) for s in order.shipments.all()]

    client.force_login(readonly_user)
    change = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert change.status_code == 200
    csv = client.get(reverse("admin:orders_order_export_csv"))
    csv_text = b"".join(csv.streaming_content).decode()
    events = api.get(f"/api/v1/orders/{order.pk}/").content.decode()

    worker_text = worker_log.getvalue()
    assert "retry" in worker_text.lower()  # the line a worker writes was produced
    sinks = {
        "stored": "\n".join(stored),
        "api 202 body": api_body,
        "api detail": events,
        "admin change page": change.content.decode(),
        "csv": csv_text,
        "caplog": caplog.text,
        "celery handler": worker_text,
    }
    leaked = [name for name, text in sinks.items() if API_KEY in text]
    assert leaked == []
