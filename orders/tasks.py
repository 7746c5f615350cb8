"""Celery tasks: load by pk, call the service. Retries are the task's concern.

Retry policy (``retry_countdown``): only ``ProviderUnavailable`` is retried — exponential
backoff with full jitter, never sooner than the provider's ``Retry-After``, bounded by
``settings.ORDER_PLACE_MAX_TRIES`` tries in all. ``ProviderRejected`` is final (the order shows
the reason). An unknown outcome is never re-sent: the order waits in ``placement_unknown`` and,
where the provider can look it up, ``order_reconcile_task`` settles it.

Every task is safe to run twice (``acks_late`` redelivery after a worker died): placement
claims the order (draft/failed → placing) under a row lock before any call, so a second run
finds it placing/placed and does nothing.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from config.observability import bind_account, bind_order
from merchants.models import ProviderAccount
from providers import registry
from providers.errors import ProviderError, ProviderNotSupported, ProviderUnavailable

from . import bulkruns, services
from .errors import OrderActionRefused, OrderValidationError
from .models import Order

logger = logging.getLogger(__name__)
S = services.S
SYNC_LOCK_SECONDS = 15 * 60


def retry_countdown(retries: int, retry_after: float | None = None) -> float:
    """Seconds before try ``retries + 2``: full-jitter exponential backoff, at least the
    provider's Retry-After, at most TASK_RETRY_MAX_DELAY (unless Retry-After says longer)."""
    base = float(settings.TASK_RETRY_BASE_DELAY)
    cap = float(settings.TASK_RETRY_MAX_DELAY)
    ceiling = min(cap, base * (2 ** retries))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after:
        delay = max(delay, float(retry_after))
    return round(delay, 1)


def _max_tries() -> int:
    return max(1, int(settings.ORDER_PLACE_MAX_TRIES))


@shared_task(bind=True, acks_late=True, max_retries=None)
def order_place_task(self, order_pk: int) -> str:  # type: ignore[no-untyped-def]
    order = Order.objects.filter(pk=order_pk).select_related("merchant__account").first()
    if order is None:
        return "missing"
    bind_order(order)  # log records of this placement carry the order and the account
    attempt = self.request.retries + 1
    if attempt > 1 and order.state != S.FAILED:
        # a retry only continues a failed placement (the operator may have moved it since)
        return order.state
    try:
        order = services.order_place(order=order)
    except ProviderUnavailable as exc:
        order.refresh_from_db()
        if attempt >= _max_tries():
            services.order_placement_gave_up(order=order, tries=attempt)
            return S.FAILED
        countdown = retry_countdown(self.request.retries, exc.retry_after)
        services.order_placement_retry_noted(order=order, attempt=attempt, tries=_max_tries(),
                                             countdown=countdown)
        raise self.retry(countdown=countdown, exc=exc) from None
    except (OrderActionRefused, OrderValidationError) as exc:
        # already placing/placed (a redelivery or a double click), or not placeable: no call
        logger.info("place task for order %s: nothing to do (%s)", order_pk, exc)
        return Order.objects.get(pk=order_pk).state
    except ProviderError as exc:
        # the provider-side draft step failed (recorded on the order); an unknown outcome
        # there is flagged and looked up by the next try, never re-sent
        logger.info("place task for order %s: draft step failed (%s)", order_pk, exc)
        return Order.objects.get(pk=order_pk).state
    if order.state == S.PLACEMENT_UNKNOWN and services.order_supports_lookup(order):
        order_reconcile_task.apply_async((order.pk,), countdown=settings.ORDER_RECONCILE_DELAY)
    return order.state


@shared_task(bind=True, acks_late=True, max_retries=None)
def order_reconcile_task(self, order_pk: int) -> str:  # type: ignore[no-untyped-def]
    """Settle a ``placement_unknown`` order by the provider's lookup (a safe read)."""
    order = Order.objects.filter(pk=order_pk).select_related("merchant__account").first()
    if order is None or order.state != S.PLACEMENT_UNKNOWN:
        return order.state if order else "missing"
    bind_order(order)
    try:
        order = services.order_reconcile_from_provider(order=order)
    except ProviderNotSupported:
        return order.state  # the operator reconciles by hand
    except ProviderUnavailable as exc:
        if self.request.retries + 1 >= _max_tries():
            services.event_add(order=order, kind="error",
                               message=f"Automatic reconcile gave up: {exc}. Reconcile by hand.")
            return order.state
        raise self.retry(countdown=retry_countdown(self.request.retries, exc.retry_after),
                         exc=exc) from None
    except ProviderError as exc:
        services.event_add(order=order, kind="error",
                           message=f"Automatic reconcile failed: {exc}. Reconcile by hand.")
        return order.state
    return order.state


@shared_task(bind=True, acks_late=True, max_retries=None)
def order_sync_task(self, order_pk: int) -> str:  # type: ignore[no-untyped-def]
    order = Order.objects.select_related("merchant__account").get(pk=order_pk)
    bind_order(order)
    try:
        return services.order_sync(order=order).state
    except ProviderUnavailable as exc:
        if self.request.retries + 1 >= _max_tries():
            return order.state
        raise self.retry(countdown=retry_countdown(self.request.retries, exc.retry_after),
                         exc=exc) from None
    except (ProviderError, OrderActionRefused) as exc:
        logger.info("sync of order %s: %s", order_pk, exc)
        return order.state


@shared_task(bind=True, acks_late=True, max_retries=None)
def account_sync_task(self, account_pk: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    account = ProviderAccount.objects.get(pk=account_pk)
    if not account.is_active:
        return {}
    bind_account(account)
    # one sync per account at a time (periodic + "sync now" + redelivery): the cursor is shared
    lock = f"dropdesk:sync-running:account:{account_pk}"
    if not cache.add(lock, self.request.id or "eager", timeout=SYNC_LOCK_SECONDS):
        logger.info("incoming sync of account %s already running; skipped", account_pk)
        return {"skipped": 1}
    try:
        return services.account_sync_incoming(account=account)
    except ProviderNotSupported:
        return {}
    except ProviderUnavailable as exc:
        if self.request.retries + 1 >= _max_tries():
            logger.warning("incoming sync of account %s gave up: %s", account_pk, exc)
            return {}
        raise self.retry(countdown=retry_countdown(self.request.retries, exc.retry_after),
                         exc=exc) from None
    finally:
        cache.delete(lock)


@shared_task(bind=True, acks_late=True, max_retries=None)
def order_items_set_status_task(  # type: ignore[no-untyped-def]
    self, order_pk: int, item_pks: list[int], transition_name: str, comment: str = ""
) -> str:
    """Push a status change of several items (one provider request; idempotent PUT)."""
    order = Order.objects.get(pk=order_pk)
    items = list(order.items.filter(pk__in=item_pks).order_by("pk"))
    try:
        services.order_items_set_status(order=order, items=items,
                                        transition_name=transition_name, comment=comment)
    except ProviderUnavailable as exc:
        if self.request.retries + 1 >= _max_tries():
            return "failed"
        raise self.retry(countdown=retry_countdown(self.request.retries, exc.retry_after),
                         exc=exc) from None
    except (ProviderError, OrderActionRefused, OrderValidationError) as exc:
        logger.info("item status push for order %s refused: %s", order_pk, exc)
        return "refused"
    return "ok"


# --- periodic sweeps ----------------------------------------------------------------------------


@shared_task(acks_late=True)
def order_stale_placing_sweep_task() -> list[int]:
    moved = services.order_stale_placing_sweep()
    bulkruns.bulk_items_settle_stale()  # bulk items whose task was lost: no run runs forever
    for pk in moved:
        order = Order.objects.select_related("merchant__account").get(pk=pk)
        if services.order_supports_lookup(order):
            order_reconcile_task.delay(pk)
    return moved


@shared_task(acks_late=True)
def orders_reconcile_unknown_task() -> int:
    """Queue a lookup for every ``placement_unknown`` order whose provider has one."""
    pks = services.orders_awaiting_reconcile()
    for pk in pks:
        order_reconcile_task.delay(pk)
    return len(pks)


@shared_task(acks_late=True)
def accounts_sync_all_task() -> int:
    """Queue the incoming sync of every active account whose provider sends orders (used
    when no per-account schedule exists)."""
    count = 0
    for account in ProviderAccount.objects.filter(is_active=True).order_by("pk"):
        cls = registry.get(account.provider)
        if cls is not None and cls.supports("iter_incoming"):
            account_sync_task.delay(account.pk)
            count += 1
    return count


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


@shared_task(acks_late=True)
def bulk_run_item_task(item_pk: int) -> str:
    from .models import BulkRunItem

    item = BulkRunItem.objects.select_related("run__actor").get(pk=item_pk)
    return services.bulk_run_item_execute(item=item).outcome


@shared_task
def idempotency_purge_task() -> int:
    from .api.idempotency import idempotency_records_purge

    return idempotency_records_purge()
# --- bench: one message for a big bulk run (services.bulk_run_enqueue) ---
@shared_task(acks_late=True)
def bulk_run_dispatch_task(run_pk: int) -> int:
    return services.bulk_run_dispatch(run_pk=run_pk)
