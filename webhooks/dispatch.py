"""Hand deliveries to the worker. The admin, the API and the outbox receivers call this (after
commit); services never enqueue."""

from __future__ import annotations

from collections.abc import Iterable


def deliveries_enqueue(delivery_ids: Iterable[int]) -> int:
    from .tasks import webhook_delivery_task

    count = 0
    for pk in delivery_ids:
        webhook_delivery_task.delay(pk)
        count += 1
    return count
