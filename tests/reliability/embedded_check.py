"""Helper process for the embedded-broker test (config.settings, a SQLite file, the
filesystem broker): ``setup <base_url>`` migrates and prints a draft order's pk;
``enqueue <queue> <pk>`` queues its placement like the admin's bulk place does."""

from __future__ import annotations

import os
import sys

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from providers import registry
    from tests.fake_provider import FakeService

    registry.register(FakeService)
    if sys.argv[1] == "setup":
        call_command("migrate", verbosity=0)
        from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory

        merchant = MerchantFactory()
        merchant.account.base_url = sys.argv[2]
        merchant.account.save()
        order = OrderFactory(merchant=merchant)
        OrderItemFactory(order=order, sku="SKU-E", quantity=1)
        print(order.pk)
    elif sys.argv[1] == "enqueue":
        from orders import dispatch
        from orders.models import Order
        from orders.tasks import order_place_task

        queue, pk = sys.argv[2], int(sys.argv[3])
        order_place_task.delay_on_commit = (  # type: ignore[method-assign]
            lambda *a: transaction.on_commit(lambda: order_place_task.apply_async(a, queue=queue))
        )
        with transaction.atomic():
            print(dispatch.order_place_enqueue(order=Order.objects.get(pk=pk)))


if __name__ == "__main__":
    main()
