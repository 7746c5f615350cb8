"""Celery tasks: load by pk, call the service. Retries are the task's concern."""

from __future__ import annotations

from celery import shared_task

from merchants.models import ProviderAccount

from . import services
from .models import Order


@shared_task(acks_late=True)
def order_place_task(order_pk: int) -> str:
    order = Order.objects.get(pk=order_pk)
    return services.order_place(order=order).state


@shared_task(acks_late=True)
def order_sync_task(order_pk: int) -> str:
    order = Order.objects.get(pk=order_pk)
    return services.order_sync(order=order).state


@shared_task(acks_late=True)
def account_sync_task(account_pk: int) -> dict[str, int]:
    account = ProviderAccount.objects.get(pk=account_pk)
    return services.account_sync_incoming(account=account)


@shared_task
def idempotency_purge_task() -> int:
    from .api.idempotency import idempotency_records_purge

    return idempotency_records_purge()
