from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from orders.lifecycle import Lifecycle as L
from orders.models import Order
from providers import registry
from providers.statuses import RawStatus, StatusTable
from tests.fake_provider import STATUSES, FakeService

# A second test provider whose table flags a raw status as "awaiting payment".
PAY_STATUSES = StatusTable(
    provider="fakepay",
    order_statuses={
        **STATUSES.order_statuses,
        "UNPAID": RawStatus("UNPAID", "Waiting for payment", L.PLACED, next=("NEW", "CANCELLED"),
                            awaiting_payment=True),
    },
    order_actions=STATUSES.order_actions,
    item_statuses=STATUSES.item_statuses,
)


class FakePayService(FakeService):
    key = "fakepay"
    label = "Fake (pays later)"
    statuses = PAY_STATUSES


@pytest.fixture
def fakepay_provider():
    registry.register(FakePayService)
    yield FakePayService
    registry.unregister("fakepay")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def readonly_client(client, readonly_user):
    client.force_login(readonly_user)
    return client


def set_state(order: Order, state: str, **fields) -> Order:
    """Put an order in a state directly (the FSM field is protected on instances)."""
    Order.objects.filter(pk=order.pk).update(state=state, **fields)
    order.refresh_from_db()
    return order


def days_ago(n: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=n)
