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


# --- provider-side drafts: execution polling and draft expiry (reseller v3) -------------------
@shared_task(acks_late=True)
def order_execution_poll_task(order_pk: int, attempt: int = 0) -> str:
    """Poll an order's execution with backoff until it reaches a final state."""
    from providers.errors import ProviderError, ProviderUnavailable

    order = Order.objects.select_related("merchant__account").get(pk=order_pk)
    try:
        final = services.order_execution_poll(order=order)
    except ProviderUnavailable:
        final = False
    except ProviderError:
        return "unreadable"  # recorded on the timeline; a sync can pick it up later
    if final or attempt + 1 >= services.EXECUTION_POLL_MAX_ATTEMPTS:
        return "final" if final else "gave up"
    services._execution_poll_schedule(order, services._service_for_order(order),
                                      attempt=attempt + 1)
    return "polling"


@shared_task
def order_drafts_expire_task() -> int:
    return services.order_drafts_expire()
