"""Provider reads of the orders side run in the worker (issue 14): the ship forms never wait
for a carrier list, a failed list read is said in plain words, and the read task stores what
the page shows next (fake provider, HTTP mocked at the wire)."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from core import provider_reads
from orders import dispatch, tasks
from providers.errors import ProviderRejected
from tests.admin.conftest import set_state
from tests.fake_provider import FakeService

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipping(order):
    return set_state(order, "placed", external_id="991")


def _refusing(self, order=None):
    raise ProviderRejected("carrier list disabled for this key")


def test_ship_form_on_a_failed_carrier_read_says_why_and_takes_free_text(
        client, operator, shipping, mocked, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(FakeService, "carrier_choices", _refusing, raising=False)
    client.force_login(operator)
    url = reverse("admin:orders_order_transition", args=[shipping.pk, "ship"])
    with django_capture_on_commit_callbacks(execute=True):
        first = client.get(url)
    assert first.status_code == 200
    assert "The carrier list is being read from the provider" in first.content.decode()
    page = client.get(url).content.decode()
    assert ("The carrier list could not be read (Fake refused to give the carrier list: "
            "carrier list disabled for this key)") in page
    assert '<input type="text" name="carrier"' in page
    assert len(mocked.calls) == 0


def test_bulk_ship_queues_the_reads_and_never_waits(
        client, operator, shipping, mocked, monkeypatch, django_capture_on_commit_callbacks):
    asked: list[str] = []

    def listed(self, order=None):
        asked.append(order.reference)
        return [("dhl", "DHL")]

    monkeypatch.setattr(FakeService, "carrier_choices", listed, raising=False)
    client.force_login(operator)
    base = {"action": "mark_shipped_selected", helpers.ACTION_CHECKBOX_NAME: [shipping.pk]}
    url = reverse("admin:orders_order_changelist")
    with django_capture_on_commit_callbacks() as worker:
        page = client.post(url, base).content.decode()
    assert "The carrier list is being read from the provider" in page and asked == []
    for task in worker:
        task()
    assert asked == [shipping.reference]
    page = client.post(url, base).content.decode()
    assert f'<select name="carrier_{shipping.pk}"' in page and asked == [shipping.reference]


def test_the_read_task_stores_data_or_a_plain_failure(shipping, monkeypatch):
    monkeypatch.setattr(FakeService, "carrier_choices",
                        lambda self, order=None: [("ups", "UPS")], raising=False)
    key = tasks.read_key_of("carriers", shipping.pk)
    assert tasks.provider_read_task.apply(args=("carriers", shipping.pk)).get() == "read"
    assert provider_reads.read_peek(key=key).data == [["ups", "UPS"]]
    assert dispatch.order_carrier_choices_read(order=shipping).data == [("ups", "UPS")]
    monkeypatch.setattr(FakeService, "carrier_choices", _refusing, raising=False)
    assert tasks.provider_read_task.apply(args=("carriers", shipping.pk)).get() == "failed"
    failed = provider_reads.read_peek(key=key)
    assert failed.failed and failed.code == "provider_rejected"
    assert failed.error == "Fake refused to give the carrier list: carrier list disabled for this key"
    assert tasks.provider_read_task.apply(args=("carriers", 10**9)).get() == "missing"


def test_a_provider_without_a_carrier_list_queues_nothing(shipping, mocked,
                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as worker:
        result = dispatch.order_carrier_choices_read(order=shipping)
    assert result.ready and result.data is None and not worker
