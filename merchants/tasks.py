from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def merchant_authorizations_sweep_task() -> dict[str, int]:
    return services.merchant_authorizations_sweep()
