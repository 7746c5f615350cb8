"""Webhook tasks: load by id, call the service. A delivery that must be retried is queued again
with its backoff; the sweep picks up anything a lost task or a killed worker left due."""

from __future__ import annotations

from celery import shared_task

from . import services
from .selectors import deliveries_due


@shared_task(bind=True, acks_late=True, ignore_result=True)
def webhook_delivery_task(self, delivery_id: int) -> str:  # type: ignore[no-untyped-def]
    result = services.webhook_delivery_send(delivery_id=delivery_id)
    if result.retry_in is not None and not self.request.is_eager:
        webhook_delivery_task.apply_async((delivery_id,), countdown=result.retry_in)
    return result.outcome


@shared_task(ignore_result=True)
def webhook_deliveries_due_task() -> int:
    """Every minute: deliveries due and not claimed (worker down or killed, task lost)."""
    due = deliveries_due()
    for pk in due:
        webhook_delivery_task.delay(pk)
    return len(due)


@shared_task(ignore_result=True)
def webhook_attempts_purge_task() -> int:
    return services.webhook_attempts_purge()
