from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from merchants.models import Merchant, ProviderAccount
from orders.models import Order, OrderItem


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderAccount

    provider = "fake"
    name = factory.Sequence(lambda n: f"Account {n}")
    environment = ProviderAccount.Environment.SANDBOX
    credentials = factory.LazyFunction(lambda: {"api_key": "sk_test_supersecret_123"})


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Merchant {n}")
    external_id = factory.Sequence(lambda n: f"m-{n}")
    contact_email = "merchant@example.test"

    @factory.post_generation
    def authorized(obj: Merchant, create: bool, extracted: bool | None, **kwargs: object) -> None:
        if extracted is False:
            return
        now = timezone.now()
        obj.authorize(at=now, expires_at=now + dt.timedelta(days=30))
        if create:
            obj.save()


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    merchant = factory.SubFactory(MerchantFactory)
    contact_name = "Ada Lovelace"
    contact_email = "ada@example.test"
    phone_prefix = "+44"
    phone_number = "2079460000"
    address_line1 = "10 Downing Street"
    city = "London"
    region = "London"
    postal_code = "SW1A 2AA"
    country = "GB"
    currency = "EUR"


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product_id = factory.Sequence(lambda n: f"P{n}")
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    name = "Widget"
    quantity = 2
    unit_price = Decimal("9.50")


def orders_needing_action():
    """The orders the "Needs action" tab lists (the cockpit's own filter)."""
    from orders import selectors

    return selectors.order_list().filter(selectors.order_tabs()["needs_action"][1])
