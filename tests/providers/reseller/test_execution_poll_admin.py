"""The execution-poll admin page calls the provider and may move the order: POST only, and
only for operators (issue 21, finding 11). Provider HTTP mocked at the wire."""

from __future__ import annotations

import pytest
import responses
from django.urls import reverse

from orders.models import Order

from .conftest import ORDERS, add_token, fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def placed(provider_draft):
    Order.objects.filter(pk=provider_draft.pk).update(state="placed", raw_status="Submitted")
    provider_draft.refresh_from_db()
    return provider_draft


def _url(order):
    return reverse("admin:orders_order_execution_poll", args=[order.pk])


def _mock_executed(mocked):
    add_token(mocked)
    return mocked.add(responses.GET, f"{ORDERS}/5001/execute/status",
                      json=fixture("execute_status_executed"))


def test_get_shows_a_confirmation_and_calls_nobody(client, operator, placed, mocked):
    _mock_executed(mocked)
    client.force_login(operator)
    page = client.get(_url(placed))
    assert page.status_code == 200
    assert "Check the execution status now" in page.content.decode()
    assert '<form method="post">' in page.content.decode()
    assert len(mocked.calls) == 0
    placed.refresh_from_db()
    assert placed.state == "placed" and not placed.events.exists()


def test_operator_post_polls_and_applies_the_answer(client, operator, placed, mocked,
                                                    django_capture_on_commit_callbacks):
    status = _mock_executed(mocked)
    client.force_login(operator)
    with django_capture_on_commit_callbacks() as worker:
        response = client.post(_url(placed))
    assert response.status_code == 302
    assert len(mocked.calls) == 0  # queued: the worker asks the provider
    for task in worker:
        task()
    assert status.call_count == 1
    placed.refresh_from_db()
    assert placed.state == "completed" and placed.raw_status == "Executed"


@pytest.mark.parametrize("method", ["get", "post"])
def test_readonly_user_is_refused_and_nothing_is_called(client, readonly_user, placed, mocked,
                                                        method):
    _mock_executed(mocked)
    client.force_login(readonly_user)
    response = getattr(client, method)(_url(placed))
    assert response.status_code == 403
    assert len(mocked.calls) == 0
    placed.refresh_from_db()
    assert placed.state == "placed" and placed.raw_status == "Submitted"
