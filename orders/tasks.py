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
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from config.observability import bind_account, bind_order
from core import provider_reads
from merchants.models import ProviderAccount
from merchants.provider_requests import account_config
from providers import registry
from providers.brandsdistribution.service import carrier_choices as bd_carrier_choices
from providers.errors import (
    ProviderError,
    ProviderNotSupported,
    ProviderRejected,
    ProviderUnavailable,
)

from . import bulkruns, labels, selectors, services
from .errors import OrderActionRefused, OrderValidationError
from .models import BulkRunItem, Order, OrderEvent, OrderItem
from .timeline import event_add

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


class ProviderTask(DjangoTask):  # type: ignore[misc]
    """Base of every task that runs provider work: the one place for retries, backoff and
    follow-ups.

    ``retry_or_give_up(exc)`` retries a ``ProviderUnavailable`` with ``retry_countdown`` until
    ``ORDER_PLACE_MAX_TRIES`` tries were made, then returns so the task can record that it gave
    up. ``follow_*`` queue the work a verb leaves behind (services never queue tasks).
    """

    acks_late = True
    max_retries = None

    def retry_or_give_up(self, exc: ProviderUnavailable) -> None:
        if self.request.retries + 1 >= _max_tries():
            return
        raise self.retry(countdown=retry_countdown(self.request.retries, exc.retry_after),
                         exc=exc) from None

    @staticmethod
    def follow_execution_poll(order: Order, *, attempt: int = 0) -> None:
        """Queue the next execution poll when the order still needs one."""
        if not services.order_execution_poll_due(order=order):
            return
        try:
            order_execution_poll_task.apply_async(
                (order.pk, attempt), countdown=services.execution_poll_delay(attempt))
        except Exception as exc:  # the broker is down: the placement stands, say so
            logger.exception("could not schedule the execution poll of %s", order.reference)
            event_add(order=order, kind=OrderEvent.Kind.ERROR,
                      message=f"Could not schedule execution polling ({exc.__class__.__name__}); "
                      "use 'Check execution status now' on the order page.")

    @staticmethod
    def follow_reconcile(order: Order) -> None:
        """Queue the provider lookup of an order whose placement outcome is unknown."""
        if order.state == S.PLACEMENT_UNKNOWN and services.order_supports_lookup(order):
            order_reconcile_task.apply_async((order.pk,), countdown=settings.ORDER_RECONCILE_DELAY)

    def follow_placement(self, order: Order) -> None:
        self.follow_reconcile(order)
        if order.state in (S.PLACED, S.IN_PROGRESS):
            self.follow_execution_poll(order)


@shared_task(bind=True, base=ProviderTask)
def order_place_task(self: ProviderTask, order_pk: int) -> str:
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
        if attempt < _max_tries():
            countdown = retry_countdown(self.request.retries, exc.retry_after)
            services.order_placement_retry_noted(order=order, attempt=attempt,
                                                 tries=_max_tries(), countdown=countdown)
            raise self.retry(countdown=countdown, exc=exc) from None
        services.order_placement_gave_up(order=order, tries=attempt)
        return S.FAILED
    except (OrderActionRefused, OrderValidationError) as exc:
        # already placing/placed (a redelivery or a double click), or not placeable: no call
        logger.info("place task for order %s: nothing to do (%s)", order_pk, exc)
        return Order.objects.get(pk=order_pk).state
    except ProviderError as exc:
        # the provider-side draft step failed (recorded on the order); an unknown outcome
        # there is flagged and looked up by the next try, never re-sent
        logger.info("place task for order %s: draft step failed (%s)", order_pk, exc)
        return Order.objects.get(pk=order_pk).state
    self.follow_placement(order)
    return order.state


@shared_task(bind=True, base=ProviderTask)
def order_reconcile_task(self: ProviderTask, order_pk: int) -> str:
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
        self.retry_or_give_up(exc)
        event_add(order=order, kind=OrderEvent.Kind.ERROR,
                  message=f"Automatic reconcile gave up: {exc}. Reconcile by hand.")
        return order.state
    except ProviderError as exc:
        event_add(order=order, kind=OrderEvent.Kind.ERROR,
                  message=f"Automatic reconcile failed: {exc}. Reconcile by hand.")
        return order.state
    return order.state


@shared_task(bind=True, base=ProviderTask)
def order_sync_task(self: ProviderTask, order_pk: int) -> str:
    order = Order.objects.select_related("merchant__account").get(pk=order_pk)
    bind_order(order)
    try:
        return services.order_sync(order=order).state
    except ProviderUnavailable as exc:
        self.retry_or_give_up(exc)
        return order.state
    except (ProviderError, OrderActionRefused) as exc:
        logger.info("sync of order %s: %s", order_pk, exc)
        return order.state


@shared_task(bind=True, base=ProviderTask)
def account_sync_task(self: ProviderTask, account_pk: int) -> dict[str, int]:
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
        self.retry_or_give_up(exc)
        logger.warning("incoming sync of account %s gave up: %s", account_pk, exc)
        return {}
    finally:
        cache.delete(lock)


@shared_task(bind=True, base=ProviderTask)
def order_items_set_status_task(
    self: ProviderTask, order_pk: int, item_pks: list[int], transition_name: str, comment: str = ""
) -> str:
    """Push a status change of several items (one provider request; idempotent PUT)."""
    order = Order.objects.get(pk=order_pk)
    items = list(order.items.filter(pk__in=item_pks).order_by("pk"))
    try:
        services.order_items_set_status(order=order, items=items,
                                        transition_name=transition_name, comment=comment)
    except ProviderUnavailable as exc:
        self.retry_or_give_up(exc)
        return "failed"
    except (ProviderError, OrderActionRefused, OrderValidationError) as exc:
        logger.info("item status push for order %s refused: %s", order_pk, exc)
        return "refused"
    return "ok"


# --- the operator's verbs that call the provider (queued by orders.dispatch) -------------------
COMMAND_LABELS = {
    "items_status": "Item status change", "provider_draft": "Provider draft creation",
    "execution_poll": "Execution status check", "custom_fields_set": "Custom fields update",
    "item_characteristics_set": "Item characteristics update",
    "provider_items_push": "Adding items at the provider", "provider_item_remove": "Item removal",
}
# Verbs that wait for another provider write on the order (a claim in flight) instead of
# giving up: each is idempotent (push what the draft lacks; delete what is still here).
RETRY_WHILE_BUSY = frozenset({"provider_items_push", "provider_item_remove"})


def command_label(verb: str) -> str:
    """The operator's name of a queued verb ("Cancel", "Item status change")."""
    return COMMAND_LABELS.get(verb) or labels.action_label(verb)


def _command_run(order: Order, verb: str, payload: dict[str, Any], actor: Any) -> None:
    if verb == "items_status":
        items = list(order.items.filter(pk__in=payload["items"]).order_by("pk"))
        services.order_items_status_check(order=order, items=items,
                                          transition_name=payload["transition"], actor=actor)
        services.order_items_set_status(order=order, items=items, actor=actor,
                                        transition_name=payload["transition"],
                                        comment=payload.get("comment", ""))
    elif verb == "provider_draft":
        services.order_provider_draft_create(order=order, actor=actor)
    elif verb == "execution_poll":
        services.order_execution_poll(order=order, actor=actor)
    elif verb == "custom_fields_set":
        services.order_custom_fields_set(order=order, values=payload["values"], actor=actor)
    elif verb == "item_characteristics_set":
        item = order.items.get(pk=payload["item"])
        item.order = order
        services.order_item_characteristics_set(item=item, values=payload["values"], actor=actor)
    elif verb == "provider_items_push":
        services.order_provider_items_push(order=order, actor=actor)
    elif verb == "provider_item_remove":
        item = order.items.get(pk=payload["item"])
        item.order = order
        services.order_item_remove(item=item, actor=actor)
    else:  # an order transition by name
        kwargs = dict(payload)
        if isinstance(kwargs.get("items"), dict):  # JSON turned the item ids into strings
            kwargs["items"] = {int(k): int(v) for k, v in kwargs["items"].items()}
        services.order_run_transition(order=order, name=verb, actor=actor, payload=kwargs)


def _command_failed(order: Order, since: Any, actor: Any, message: str) -> None:
    """Record why a queued verb was not done, unless the verb recorded it already."""
    if not order.events.filter(kind=OrderEvent.Kind.ERROR, created_at__gte=since).exists():
        event_add(order=order, kind=OrderEvent.Kind.ERROR, actor=actor, message=message)


@shared_task(bind=True, base=ProviderTask)
def order_command_task(self: ProviderTask, order_pk: int, verb: str,
                       payload: dict[str, Any] | None = None, actor_pk: int | None = None) -> str:
    """Run an operator's verb that calls the provider (``dispatch.order_*_enqueue``): a
    refusal or a provider failure goes on the order's timeline (never raised); an unavailable
    provider is retried with backoff."""
    order = Order.objects.filter(pk=order_pk).select_related("merchant__account").first()
    if order is None:
        return "missing"
    bind_order(order)
    actor = get_user_model().objects.filter(pk=actor_pk).first() if actor_pk else None
    label = command_label(verb)
    since = timezone.now()
    try:
        _command_run(order, verb, dict(payload or {}), actor)
    except ProviderUnavailable as exc:
        self.retry_or_give_up(exc)
        event_add(order=order, kind=OrderEvent.Kind.ERROR, actor=actor,
                  message=f"{label} not done: the provider stayed unavailable after "
                  f"{self.request.retries + 1} tries ({exc}). Try again later.")
        return "gave up"
    except (OrderActionRefused, OrderValidationError) as exc:
        if (verb in RETRY_WHILE_BUSY and exc.code == "in_progress"
                and self.request.retries + 1 < _max_tries()):
            raise self.retry(countdown=retry_countdown(self.request.retries), exc=exc) from None
        _command_failed(order, since, actor, f"{label} not done: {exc.message}")
        return "refused"
    except ProviderError as exc:
        _command_failed(order, since, actor, f"{label} refused by the provider: {exc}")
        return "failed"
    except ObjectDoesNotExist:
        _command_failed(order, since, actor, f"{label} not done: the item is gone.")
        return "refused"
    finally:
        _command_read_forget(order, verb, payload)
    return "done"


def _command_read_forget(order: Order, verb: str, payload: dict[str, Any] | None) -> None:
    """Saving custom fields or characteristics (done, refused or unknown) makes the stored
    read of them stale: the next page or GET reads afresh."""
    item = (payload or {}).get("item")
    if verb == "custom_fields_set":
        provider_reads.read_forget(read_key_of("custom_fields", order.pk))
    elif verb == "item_characteristics_set" and item:
        provider_reads.read_forget(read_key_of("item_characteristics", int(item)))


# --- provider reads a web request asked for (core.provider_reads; orders.dispatch.*_read) ----
READ_KINDS = {  # kind -> what the operator reads
    "custom_fields": "custom fields", "item_characteristics": "item characteristics",
    "carriers": "carrier list", "bd_carriers": "carrier list",
}


def read_key_of(kind: str, pk: int) -> str:
    """The ``core.provider_reads`` key of one read: an order's custom fields or carriers,
    an item's characteristics (by item pk), an account's Brandsdistribution carriers."""
    if kind not in READ_KINDS:
        raise ValueError(f"unknown provider read {kind!r}")
    return provider_reads.read_key(f"orders-{kind}", pk)


def _read_subject(kind: str, pk: int) -> tuple[Any, str]:
    """The row a read is about and its provider's label (ObjectDoesNotExist when gone)."""
    if kind == "item_characteristics":
        item = OrderItem.objects.select_related("order__merchant__account").get(pk=pk)
        bind_order(item.order)
        return item, item.order.merchant.account.provider_label
    if kind == "bd_carriers":
        account = ProviderAccount.objects.get(pk=pk)
        bind_account(account)
        return account, account.provider_label
    order = Order.objects.select_related("merchant__account").get(pk=pk)
    bind_order(order)
    return order, order.merchant.account.provider_label


def _read_run(kind: str, subject: Any, actor: Any) -> Any:
    """The provider read itself (through the services, which note a failure on the order's
    timeline), as JSON-able data."""
    if kind == "custom_fields":
        return services.order_custom_fields_get(order=subject, actor=actor)
    if kind == "item_characteristics":
        return services.order_item_characteristics_get(item=subject, actor=actor)
    if kind == "carriers":
        choices = selectors.order_carrier_choices(order=subject)
        return None if choices is None else [[value, label] for value, label in choices]
    listed = bd_carrier_choices(account_config(subject), refresh=True)  # bd_carriers
    if listed["error"]:
        raise ProviderError(listed["error"])
    return listed["carriers"]


def read_failure_text(label: str, what: str, exc: ProviderError) -> tuple[str, str]:
    """(plain words, code) for a provider read that failed; the message is redacted at birth
    (``ProviderError``)."""
    if isinstance(exc, ProviderNotSupported):
        return f"{label} has no {what}: {exc}", "not_supported"
    if isinstance(exc, ProviderRejected):
        return f"{label} refused to give the {what}: {exc}", "provider_rejected"
    if isinstance(exc, ProviderUnavailable):
        return (f"{label} could not be reached or is busy ({exc}); read again in a "
                "moment.", "provider_error")
    return f"Reading the {what} from {label} failed: {exc}", "provider_error"


@shared_task(bind=True, base=ProviderTask)
def provider_read_task(self: ProviderTask, kind: str, pk: int,
                       actor_pk: int | None = None) -> str:
    """Run a provider read a web request asked for (``dispatch.*_read``) and store its
    result or its failure in plain words under its key; never retried (the page or client
    asks again, "Read again" re-queues it)."""
    key = read_key_of(kind, pk)
    what = READ_KINDS[kind]
    try:
        subject, label = _read_subject(kind, pk)
    except ObjectDoesNotExist:
        provider_reads.read_store_failure(key, "Nothing to read: the order, item or account is gone.",
                                          code="not_found")
        return "missing"
    actor = get_user_model().objects.filter(pk=actor_pk).first() if actor_pk else None
    try:
        data = _read_run(kind, subject, actor)
    except (OrderActionRefused, OrderValidationError) as exc:
        provider_reads.read_store_failure(key, exc.message, code=exc.code or "not_allowed")
        return "refused"
    except ProviderError as exc:
        reason, code = read_failure_text(label, what, exc)
        provider_reads.read_store_failure(key, reason, code=code)
        return "failed"
    provider_reads.read_store_data(key, data)
    return "read"


@shared_task(bind=True, base=ProviderTask)
def order_execution_poll_task(self: ProviderTask, order_pk: int, attempt: int = 0) -> str:
    """Poll an order's execution with backoff until it reaches a final state."""
    order = Order.objects.select_related("merchant__account").get(pk=order_pk)
    try:
        final = services.order_execution_poll(order=order)
    except ProviderUnavailable:
        final = False
    except ProviderError:
        return "unreadable"  # recorded on the timeline; a sync can pick it up later
    if final or attempt + 1 >= services.EXECUTION_POLL_MAX_ATTEMPTS:
        return "final" if final else "gave up"
    self.follow_execution_poll(order, attempt=attempt + 1)
    return "polling"


@shared_task(bind=True, base=ProviderTask)
def bulk_run_item_task(self: ProviderTask, item_pk: int) -> str:
    item = BulkRunItem.objects.select_related("run__actor").get(pk=item_pk)
    try:
        item = services.bulk_run_item_execute(item=item)
    except services.BulkPlaceRetry as retry:  # the placement task's backoff takes over
        order_place_task.apply_async((retry.item.order_id,),
                                     countdown=retry_countdown(0, retry.cause.retry_after))
        return retry.item.outcome
    if item.run.action in ("place", "sync"):
        self.follow_placement(Order.objects.select_related("merchant__account")
                              .get(pk=item.order_id))
    return item.outcome


@shared_task(acks_late=True)
def bulk_run_dispatch_task(run_pk: int) -> int:
    """Queue one task per still-queued item of a big bulk run (``dispatch.bulk_run_enqueue``
    sends this one message instead of a thousand from the web request)."""
    pks = list(BulkRunItem.objects.filter(run_id=run_pk, outcome=BulkRunItem.Outcome.QUEUED)
               .order_by("pk").values_list("pk", flat=True))
    with bulk_run_item_task.app.producer_or_acquire() as producer:
        for pk in pks:
            bulk_run_item_task.apply_async((pk,), producer=producer)
    return len(pks)


# --- periodic sweeps (orders/schedules.py) -------------------------------------------------------
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


@shared_task
def order_drafts_expire_task() -> int:
    return services.order_drafts_expire()


@shared_task
def idempotency_purge_task() -> int:
    from api.idempotency import idempotency_records_purge

    return idempotency_records_purge()


@shared_task
def order_daily_counts_refresh_task() -> dict[str, Any]:
    """The dashboard's orders per day, recounted (beat: every minute, orders/schedules.py)."""
    done = services.order_daily_counts_refresh()
    return {"refreshed_at": done.refreshed_at.isoformat(), "written": done.written,
            "rows": len(done.counts), "orders": sum(done.counts.values())}
