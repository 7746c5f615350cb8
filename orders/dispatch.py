"""The one way the admin and the API start provider work: check, then queue a task.

A provider call never runs inside a web request: the request checks what can be checked
without the provider (``orders.services``), records that the work was asked for, and queues
the task (``orders.tasks``) once its transaction commits. The task runs the verb in three
phases (claim under a row lock, call, apply) and owns retries and follow-ups.

Layering, top-down: admin/API → ``dispatch`` → ``tasks`` → ``services`` → ``providers``.
Services never import this module or the tasks.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from core import account_cache, provider_reads
from core.provider_reads import ReadResult
from merchants.models import ProviderAccount
from providers import registry
from providers.brandsdistribution.service import CARRIER_CACHE_NAME, CARRIER_CACHE_SECONDS

from . import services, tasks
from .errors import OrderActionRefused
from .models import BulkRun, BulkRunItem, Order, OrderEvent, OrderItem
from .timeline import Actor, event_add

logger = logging.getLogger(__name__)

# Sending a Celery message costs ~0.9 ms of Python in the web request (1,000 orders: 0.9-1.5 s,
# bench/bench_bulk_place.py). A big run therefore sends ONE message; the worker then queues the
# per-order tasks (tasks.bulk_run_dispatch_task). Each per-order task stays idempotent: it does
# nothing unless its item is still queued, and the placement claims the order under a lock.
BULK_INLINE_ENQUEUE = 50


class SyncTooSoon(OrderActionRefused):
    """The operator asked for a sync again before the per-account interval passed."""


def _sync_now_claim(key: str, what: str) -> None:
    """At most one operator-triggered sync per key and interval (a cache lock, shared by
    processes when the cache is)."""
    interval = int(settings.SYNC_NOW_MIN_INTERVAL)
    if not cache.add(f"dropdesk:sync-now:{key}", timezone.now().isoformat(), timeout=interval):
        raise SyncTooSoon(
            f"{what} was synced less than {interval} seconds ago; try again in a minute.",
            code="rate_limited",
        )


def account_sync_now(*, account: ProviderAccount, actor: Actor = None) -> str:
    """An operator's "sync now": queue the account's incoming sync, rate-limited per
    account. Raises ``SyncTooSoon`` (or ``OrderActionRefused`` when the provider sends no
    orders). Returns a message for the operator."""
    cls = registry.service_class(account.provider)
    if not cls.supports("iter_incoming"):
        raise OrderActionRefused(f"{cls.label} does not send orders to us: nothing to sync.",
                                 code="not_supported")
    _sync_now_claim(f"account:{account.pk}", f"Account '{account.name}'")
    tasks.account_sync_task.delay_on_commit(account.pk)
    logger.info("sync now of account %s queued by %s", account.pk, actor)
    return f"Sync of '{account.name}' queued."


def order_sync_now(*, order: Order, actor: Actor = None) -> str:
    """An operator's "sync now" for one order (read back from the provider), rate-limited
    per order, noted on its timeline."""
    if not order.external_id:
        raise OrderActionRefused("This order has no provider id yet: nothing to sync.",
                                 code="not_allowed")
    _sync_now_claim(f"order:{order.pk}", f"Order {order.reference}")
    tasks.order_sync_task.delay_on_commit(order.pk)
    event_add(order=order, kind=OrderEvent.Kind.SYNC, actor=actor, message="Sync queued")
    return f"{order.reference}: sync queued."


def order_place_enqueue(*, order: Order, actor: Actor = None) -> str:
    """Queue a placement. Refuses now (``OrderActionRefused``/``OrderValidationError``, with
    the reason) what the placement would refuse anyway; the task claims the order under the
    row lock and checks again, so queuing twice is harmless."""
    services.order_place_check(order=order, actor=actor)
    tasks.order_place_task.delay_on_commit(order.pk)
    event_add(order=order, kind=OrderEvent.Kind.NOTE, actor=actor, message="Placement queued")
    return f"{order.reference}: placement queued"


def order_lookup_enqueue(*, order: Order, actor: Actor = None) -> str:
    """Queue the provider lookup of an order whose placement outcome is unknown (a safe
    read; the worker settles the order from it)."""
    services.require_permission(actor)
    if order.state != services.S.PLACEMENT_UNKNOWN:
        raise OrderActionRefused(
            f"Only an order whose placement is unknown is looked up (this one is "
            f"{order.get_state_display()}).", code="not_allowed",
            allowed=services.order_transitions_available(order=order, user=actor))
    if not services.order_supports_lookup(order):
        raise OrderActionRefused("This provider has no order lookup: use the 'reconcile' "
                                 "transition.", code="not_supported")
    tasks.order_reconcile_task.delay_on_commit(order.pk)
    event_add(order=order, kind=OrderEvent.Kind.NOTE, actor=actor, message="Lookup queued")
    return f"{order.reference}: lookup at the provider queued"


# --- the operator's other verbs that call the provider ----------------------------------------
@dataclass(frozen=True)
class Dispatched:
    """What became of an operator's verb: queued for the worker (``queued``), or run at once
    because it makes no provider call (``result``: the verb's return value)."""

    message: str
    queued: bool
    result: Any = None


def _command_enqueue(order: Order, verb: str, payload: Mapping[str, Any] | None,
                     actor: Actor, *, note: str = "") -> Dispatched:
    """Note "<verb> queued" (or ``note``) on the timeline and queue
    ``tasks.order_command_task`` on commit."""
    label = tasks.command_label(verb)
    data = json.loads(json.dumps(dict(payload or {}), cls=DjangoJSONEncoder))  # as the broker will
    actor_pk = actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None
    tasks.order_command_task.delay_on_commit(order.pk, verb, data, actor_pk)
    event_add(order=order, kind=OrderEvent.Kind.NOTE, actor=actor,
              message=note or f"{label} queued")
    said = f"{note[:1].lower()}{note[1:]}" if note else f"{label.lower()} queued"
    return Dispatched(f"{order.reference}: {said}", queued=True)


def order_transition_enqueue(*, order: Order, name: str, payload: Mapping[str, Any] | None = None,
                             actor: Actor = None) -> Dispatched:
    """Run transition ``name``: checked now (permission, allowed now, payload); queued for
    the worker when it calls the provider (``services.order_transition_calls_provider``),
    run at once when it does not (reconcile, reopen, complete, a local cancel or hold)."""
    if name == "place":
        return Dispatched(order_place_enqueue(order=order, actor=actor), queued=True)
    services.order_transition_check(order=order, name=name, actor=actor, payload=payload)
    if services.order_transition_calls_provider(order=order, name=name):
        return _command_enqueue(order, name, payload, actor)
    result = services.order_run_transition(order=order, name=name, actor=actor,
                                           payload=dict(payload or {}))
    return Dispatched(f"{order.reference}: {name.replace('_', ' ')} done", queued=False,
                      result=result)


def order_items_status_enqueue(*, order: Order, items: list[OrderItem], transition_name: str,
                               actor: Actor = None, comment: str = "") -> Dispatched:
    """Queue a status move of several items of one order (one provider request)."""
    services.order_items_status_check(order=order, items=items, transition_name=transition_name,
                                      actor=actor)
    return _command_enqueue(order, "items_status", {
        "items": [item.pk for item in items], "transition": transition_name,
        "comment": comment}, actor)


def _provider_supports(order: Order, operation: str, what: str) -> None:
    cls = registry.get(order.provider)
    if cls is None or not cls.supports(operation):
        label = cls.label if cls is not None else order.provider
        raise OrderActionRefused(f"{label} has no {what}.", code="not_supported")


def order_provider_draft_enqueue(*, order: Order, actor: Actor = None) -> Dispatched:
    """Queue the creation of the order's draft at its provider (reseller v3)."""
    services.require_permission(actor)
    _provider_supports(order, "create_draft", "provider-side drafts")
    if order.state != services.S.DRAFT:
        raise OrderActionRefused("Only a draft order gets a provider draft.", code="not_allowed")
    if order.external_id:
        raise OrderActionRefused("The provider draft exists already.", code="not_allowed")
    return _command_enqueue(order, "provider_draft", None, actor)


def order_execution_poll_enqueue(*, order: Order, actor: Actor = None) -> Dispatched:
    """Queue asking the provider how the order's execution goes (applied to the order)."""
    services.require_permission(actor)
    _provider_supports(order, "poll_execution", "execution status")
    if not order.external_id:
        raise OrderActionRefused("This order has no execution at its provider to ask about.",
                                 code="not_supported")
    return _command_enqueue(order, "execution_poll", None, actor)


def order_custom_fields_set_enqueue(*, order: Order, values: Mapping[str, Any],
                                    actor: Actor = None) -> Dispatched:
    """Queue saving custom fields of the order at its provider."""
    services.require_permission(actor)
    _provider_supports(order, "custom_fields_set", "custom fields")
    if not order.external_id:
        raise OrderActionRefused("This order is not at the provider yet.", code="not_allowed")
    return _command_enqueue(order, "custom_fields_set",
                            {"values": services.provider_values_clean(values)}, actor)


def order_item_characteristics_set_enqueue(*, item: OrderItem, values: Mapping[str, Any],
                                           actor: Actor = None) -> Dispatched:
    """Queue saving characteristics of one item at its provider."""
    order = item.order
    services.require_permission(actor)
    _provider_supports(order, "item_characteristics_set", "item characteristics")
    if not item.external_id:
        raise OrderActionRefused("This item is not at the provider yet.", code="not_allowed")
    return _command_enqueue(order, "item_characteristics_set",
                            {"item": item.pk, "values": services.provider_values_clean(values)},
                            actor)


def order_item_add_enqueue(*, order: Order, actor: Actor = None, **fields: Any) -> Dispatched:
    """Add an item to a draft now (``result``: the item). On a draft at the provider the
    item is saved here with an empty ``external_id`` and its push is queued: the worker adds
    every item the provider draft lacks (``services.order_provider_items_push``)."""
    item = services.order_item_add(order=order, actor=actor, **fields)
    if not services.order_item_change_calls_provider(order=order, operation="add_item"):
        return Dispatched(f"{order.reference}: item '{item}' added", queued=False, result=item)
    queued = _command_enqueue(order, "provider_items_push", None, actor,
                              note=f"Adding item '{item}' at the provider queued")
    return Dispatched(queued.message, queued=True, result=item)


def order_item_remove_enqueue(*, item: OrderItem, actor: Actor = None) -> Dispatched:
    """Remove an item of a draft: checked now (still there, the order a draft, the provider
    account may write); on a draft at the provider queued for the worker, which deletes it
    there, then here (``services.order_item_remove``); otherwise removed at once."""
    services.order_item_remove_check(item=item, actor=actor)
    order = Order.objects.select_related("merchant__account").get(pk=item.order_id)
    if services.order_item_change_calls_provider(order=order, operation="remove_item"):
        return _command_enqueue(order, "provider_item_remove", {"item": item.pk}, actor,
                                note=f"Removing item '{item}' queued")
    services.order_item_remove(item=item, actor=actor)
    return Dispatched(f"{order.reference}: item '{item}' removed", queued=False)


# --- provider reads a page or an API GET needs (core.provider_reads: the worker reads) -------
# Custom fields and characteristics make a form of the provider's current values: read again
# after a minute. A carrier list changes rarely (the providers' own caches keep it longer).
VALUES_READ_MAX_AGE = 60
CARRIERS_READ_MAX_AGE = 3600


def _actor_pk(actor: Actor) -> int | None:
    return actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None


def _read(kind: str, pk: int, *, max_age: float, actor: Actor, refresh: bool) -> ReadResult:
    actor_pk = _actor_pk(actor)
    return provider_reads.read_request(
        key=tasks.read_key_of(kind, pk), max_age=max_age, refresh=refresh,
        enqueue=lambda: tasks.provider_read_task.delay_on_commit(kind, pk, actor_pk))


def order_custom_fields_read(*, order: Order, actor: Actor = None,
                             refresh: bool = False) -> ReadResult:
    """The order's custom fields at its provider ([{name, label, value, type, choices,
    required}] when ready), read by the worker. Refuses now what needs no provider: no such
    verb there, the order not at the provider yet."""
    if not order.external_id:
        raise OrderActionRefused("This order is not at the provider yet.", code="not_allowed")
    _provider_supports(order, "custom_fields_get", "custom fields")
    return _read("custom_fields", order.pk, max_age=VALUES_READ_MAX_AGE, actor=actor,
                 refresh=refresh)


def order_item_characteristics_read(*, item: OrderItem, actor: Actor = None,
                                    refresh: bool = False) -> ReadResult:
    """An item's characteristics at its provider (as the custom fields), read by the worker."""
    if not item.external_id:
        raise OrderActionRefused("This item is not at the provider yet.", code="not_allowed")
    _provider_supports(item.order, "item_characteristics_get", "item characteristics")
    return _read("item_characteristics", item.pk, max_age=VALUES_READ_MAX_AGE, actor=actor,
                 refresh=refresh)


def order_custom_fields_peek(*, order: Order) -> ReadResult | None:
    """The last stored read of the order's custom fields, however old (a form's POST is
    checked against the fields it showed); None when there is none. Queues nothing."""
    return provider_reads.read_peek(key=tasks.read_key_of("custom_fields", order.pk))


def order_item_characteristics_peek(*, item: OrderItem) -> ReadResult | None:
    return provider_reads.read_peek(key=tasks.read_key_of("item_characteristics", item.pk))


def order_carrier_choices_read(*, order: Order, actor: Actor = None,
                               refresh: bool = False) -> ReadResult:
    """The carriers to ship ``order`` with: ``data`` a list of (value, label), or None when
    the provider keeps no list (any carrier name; answered at once, no read queued)."""
    cls = registry.get(order.provider)
    if cls is None or not cls.supports("carrier_choices"):
        return ReadResult("ready", data=None)
    result = _read("carriers", order.pk, max_age=CARRIERS_READ_MAX_AGE, actor=actor,
                   refresh=refresh)
    if result.ready and result.data is not None:
        return replace(result, data=[(str(v), str(label)) for v, label in result.data])
    return result


def account_bd_carriers_read(*, account: ProviderAccount, refresh: bool = False) -> ReadResult:
    """A Brandsdistribution account's carriers ([{id, name, cost}] when ready): served from
    ``core.account_cache`` while fresh, otherwise read by the worker."""
    if not refresh:
        fresh = account_cache.entry(account.pk, CARRIER_CACHE_NAME)
        if fresh is not None and account_cache.age(fresh) <= CARRIER_CACHE_SECONDS:
            return ReadResult("ready", data=fresh["data"],
                              read_at=dt.datetime.fromisoformat(str(fresh["stored_at"])))
    return _read("bd_carriers", account.pk, max_age=CARRIER_CACHE_SECONDS, actor=None,
                 refresh=refresh)


def account_bd_carriers_stale(*, account: ProviderAccount) -> list[dict[str, Any]]:
    """The last carrier list ever read for the account (maybe old; [] when none): what the
    form offers while a fresh read is pending or failed."""
    return list(account_cache.get(account.pk, CARRIER_CACHE_NAME) or [])


def bulk_run_start(
    *,
    action: str,
    orders: Iterable[Order],
    actor: Actor = None,
    per_order: Mapping[int, Mapping[str, Any]] | None = None,
) -> BulkRun:
    """Record a bulk run (``services.bulk_run_create``) and queue its tasks on commit."""
    with transaction.atomic():
        run = services.bulk_run_create(action=action, orders=orders, actor=actor,
                                       per_order=per_order)
        queued = list(run.items.filter(outcome=BulkRunItem.Outcome.QUEUED)
                      .values_list("pk", flat=True))
        transaction.on_commit(lambda: bulk_run_enqueue(run.pk, queued))
    return run


def bulk_run_enqueue(run_pk: int, item_pks: list[int]) -> None:
    if len(item_pks) <= BULK_INLINE_ENQUEUE:
        for pk in item_pks:
            tasks.bulk_run_item_task.delay(pk)
    else:
        tasks.bulk_run_dispatch_task.delay(run_pk)
