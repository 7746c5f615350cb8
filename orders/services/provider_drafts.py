"""Provider-side drafts, execution polling, draft expiry and extra information (reseller v3).

Providers that build an order step by step at their side (a provider Draft, items added or
removed only while Draft, a checkout, an execution finishing later) implement the optional
ProviderService verbs create_draft / add_item / remove_item / poll_execution /
custom_fields_* / item_characteristics_*. Each provider id is recorded the moment it exists."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from orders.lifecycle import Lifecycle
from orders.provider_requests import item_request, order_request, order_service_recorded
from providers import registry
from providers.errors import (
    ProviderBadReply,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
)

from .. import claims, labels
from ..errors import OrderActionRefused, OrderValidationError
from ..models import (
    Order,
    OrderEvent,
    OrderItem,
)
from ..timeline import Actor, event_add
from .common import lock_order, require_draft, require_permission, transition_apply

logger = logging.getLogger(__name__)
S = Lifecycle


# --- provider-side drafts, execution, draft expiry, extra information (reseller v3) ---------
# Providers that build an order step by step at their side (a provider Draft, items added
# or removed only while Draft, a checkout, an execution finishing later) implement the
# optional ProviderService verbs create_draft / add_item / remove_item / poll_execution /
# custom_fields_* / item_characteristics_*. Each provider id is recorded the moment it exists.
EXECUTION_POLL_DELAYS = (3, 5, 10, 20, 40, 80, 160, 300)  # seconds; then every 300s
EXECUTION_POLL_MAX_ATTEMPTS = 30
_EXECUTION_FINAL = (*Lifecycle.FINAL, S.FAILED)


def _refuse_if_not_allowed(service: Any, operation: str) -> None:
    reason = service.refusal(operation)
    if reason:
        raise OrderActionRefused(reason, code="not_supported")


def _provider_failure(order: Order, message: str, *, actor: Actor) -> None:
    """A provider refusal/error outside placement: the reason on the order and the timeline;
    the order stays in its state."""
    with transaction.atomic():
        fresh = lock_order(order)
        fresh.failure_reason = message[:4000]
        fresh.save(update_fields=["failure_reason", "updated_at"])
        event_add(order=fresh, kind=OrderEvent.Kind.ERROR, actor=actor, message=message)


def _error_text(what: str, exc: ProviderError) -> str:
    if isinstance(exc, (ProviderOutcomeUnknown, ProviderBadReply)):
        return (f"{what}: outcome unknown ({exc}). The provider may have acted on it; check "
                "there before trying again.")
    return f"{what} failed: {exc}"


def provider_item_check(order: Order, operation: str) -> None:
    """Before changing items of a provider-backed draft: refused locally once it left Draft,
    or when the account may not write."""
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if not order.external_id:
        return
    service = order_service_recorded(order)
    if not service.supports(operation):
        return
    require_draft(order, "Changing items at the provider")
    _refuse_if_not_allowed(service, operation)


UNKNOWN_DRAFT_FLAG = "provider_draft_outcome_unknown"
UNKNOWN_ITEMS_FLAG = "provider_items_outcome_unknown"


def _flag_set(order: Order, name: str, value: bool) -> None:
    """Remember (in raw_data) that a create call's outcome is unknown, so the next attempt
    looks at the provider first instead of creating a duplicate."""
    with transaction.atomic():
        fresh = lock_order(order)
        data = dict(fresh.raw_data or {})
        if value:
            data[name] = True
        else:
            data.pop(name, None)
        fresh.raw_data = data
        fresh.save(update_fields=["raw_data", "updated_at"])
    order.raw_data = fresh.raw_data


def _provider_items_adopt(order: Order, service: Any, pending: list[OrderItem], *,
                          actor: Actor) -> None:
    """After an add whose outcome was unknown: items at the provider that no local item
    claims, with the same product and quantity, are ours — record their ids."""
    claimed = set(order.items.exclude(external_id="").values_list("external_id", flat=True))
    remote = service.list_items(order_request(order))
    for item in pending:
        match = next((r for r in remote if r.external_id and r.external_id not in claimed
                      and r.product_id == (item.product_id or item.sku)
                      and r.quantity == item.quantity), None)
        if match is None:
            continue
        claimed.add(match.external_id)
        item.external_id = match.external_id[:120]
        OrderItem.objects.filter(pk=item.pk).update(external_id=item.external_id)
        event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor,
                  message=f"Item '{item}' found at the provider as {item.external_id} "
                  "(its earlier add had an unknown outcome)")


def _provider_items_push(order: Order, service: Any, *, actor: Actor) -> None:
    """Add every item the provider draft lacks, recording each provider item id at once."""
    pending = list(order.items.filter(external_id="").order_by("pk"))
    if not pending:
        return
    order.refresh_from_db(fields=["raw_data"])
    if (order.raw_data or {}).get(UNKNOWN_ITEMS_FLAG) and service.supports("list_items"):
        try:
            _provider_items_adopt(order, service, pending, actor=actor)
        except ProviderError as exc:
            _provider_failure(order, _error_text("Looking up the provider's items", exc),
                              actor=actor)
            raise
        _flag_set(order, UNKNOWN_ITEMS_FLAG, False)
        pending = [i for i in pending if not i.external_id]
    request = order_request(order)
    for item in pending:
        try:
            external_id = service.add_item(request, item_request(item))
        except ProviderError as exc:
            if isinstance(exc, (ProviderOutcomeUnknown, ProviderBadReply)):
                _flag_set(order, UNKNOWN_ITEMS_FLAG, True)
            _provider_failure(order, _error_text(f"Adding item '{item}' at the provider", exc),
                              actor=actor)
            raise
        OrderItem.objects.filter(pk=item.pk).update(external_id=str(external_id)[:120])
        event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor,
                  message=f"Item '{item}' added to the provider draft as {external_id}")


def order_item_change_calls_provider(*, order: Order, operation: str) -> bool:
    """Does adding (``add_item``) or removing (``remove_item``) an item of this order call its
    provider — a draft at the provider whose provider changes items one by one? Then the
    admin and the API queue that part for the worker (``orders.dispatch``)."""
    fresh = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if not fresh.external_id:
        return False
    cls = registry.get(fresh.merchant.account.provider)
    return cls is not None and cls.supports(operation)


def order_provider_items_push(*, order: Order, actor: Actor = None) -> int:
    """Add at the provider every item its draft lacks (the worker's half of an item add on a
    provider-side draft), recording each provider item id at once; an add whose outcome was
    unknown is looked up there first and adopted, never sent twice. Returns how many items
    got their provider id; nothing to push is no call and no refusal."""
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if not order.external_id or not order.items.filter(external_id="").exists():
        return 0
    service = order_service_recorded(order)
    if not service.supports("add_item"):
        return 0
    require_draft(order, "Adding items at the provider")
    _refuse_if_not_allowed(service, "add_item")
    with claims.provider_write(order=order, operation="add_item",
                               label="Adding items at the provider", actor=actor):
        order = Order.objects.select_related("merchant__account").get(pk=order.pk)
        require_draft(order, "Adding items at the provider")
        before = order.items.filter(external_id="").count()
        _provider_items_push(order, service, actor=actor)
        return before - order.items.filter(external_id="").count()


def provider_item_delete(item: OrderItem, *, actor: Actor) -> None:
    order = Order.objects.select_related("merchant__account").get(pk=item.order_id)
    if not order.external_id:
        return
    service = order_service_recorded(order)
    if not service.supports("remove_item"):
        return
    require_draft(order, "Removing items")
    _refuse_if_not_allowed(service, "remove_item")
    if not item.external_id:
        return
    try:
        service.remove_item(order_request(order), item_request(item))
    except ProviderError as exc:
        if isinstance(exc, ProviderRejected) and exc.http_status == 404:
            return  # already gone there (an earlier delete went through)
        _provider_failure(order, _error_text(f"Removing item '{item}' at the provider", exc),
                          actor=actor)
        raise


def _draft_create(order: Order, service: Any, *, actor: Actor) -> Order:
    request = order_request(order)
    problems = service.validate_for_placement(request)
    if problems:
        raise OrderValidationError(
            "The provider draft cannot be created: "
            + "; ".join(f"{k}: {v}" for k, v in problems.items()),
            fields=problems,
        )
    result = None
    if (order.raw_data or {}).get(UNKNOWN_DRAFT_FLAG) and service.supports("find_draft"):
        # the last create had an unknown outcome: adopt that draft if it exists
        try:
            result = service.find_draft(request)
        except ProviderError as exc:
            _provider_failure(order, _error_text("Looking up the provider draft", exc),
                              actor=actor)
            raise
    if result is None:
        try:
            result = service.create_draft(request)
        except ProviderError as exc:
            if isinstance(exc, (ProviderOutcomeUnknown, ProviderBadReply)):
                _flag_set(order, UNKNOWN_DRAFT_FLAG, True)
            _provider_failure(order, _error_text("Creating the provider draft", exc),
                              actor=actor)
            raise
    with transaction.atomic():
        fresh = lock_order(order)
        fresh.external_ids = [str(i) for i in result.external_ids]
        fresh.external_id = fresh.external_ids[0] if fresh.external_ids else ""
        fresh.raw_status = str(result.raw_status or "")[:120]
        fresh.expires_at = result.expires_at
        fresh.failure_reason = ""
        fresh.raw_data = {k: v for k, v in {**fresh.raw_data, "draft": result.raw}.items()
                          if k != UNKNOWN_DRAFT_FLAG}
        fresh.save()
        event_add(order=fresh, kind=OrderEvent.Kind.NOTE, actor=actor,
                  message=f"Provider draft {fresh.external_id} created"
                  + (f", expires {fresh.expires_at:%Y-%m-%d %H:%M}" if fresh.expires_at else ""))
    _provider_items_push(fresh, service, actor=actor)
    fresh.refresh_from_db()
    return fresh


def order_provider_draft_create(*, order: Order, actor: Actor = None) -> Order:
    """Create the order's draft at the provider now (and add its items there), so items can
    then be added and removed at the provider one by one before checking out."""
    require_permission(actor)
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    require_draft(order, "Creating the provider draft")
    service = order_service_recorded(order)
    if not service.supports("create_draft"):
        raise OrderActionRefused(f"{service.label} has no provider-side drafts.",
                                 code="not_supported")
    _refuse_if_not_allowed(service, "create_draft")
    if not order.merchant.can_order:
        raise OrderActionRefused(
            f"Merchant '{order.merchant}' is not authorized; authorize it first.",
            code="merchant_not_authorized",
        )
    with claims.provider_write(order=order, operation="create_draft",
                               label="Creating the provider draft", actor=actor):
        order = Order.objects.select_related("merchant__account").get(pk=order.pk)
        require_draft(order, "Creating the provider draft")
        if order.external_id:
            raise OrderActionRefused(
                f"The provider draft exists already ({order.external_id}).", code="not_allowed")
        return _draft_create(order, service, actor=actor)


def provider_draft_prepare(order: Order, *, actor: Actor) -> None:
    """Before placing with a provider-side-draft provider: refuse a read-only account, create
    the draft if none yet and push the items it lacks (each id recorded as it comes)."""
    cls = registry.get(order.merchant.account.provider)
    if cls is not None and not cls.supports("create_draft"):
        return  # most providers: no provider-side draft, nothing to read
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if order.state not in (S.DRAFT, S.FAILED):
        return  # order_place refuses with its own reason
    service = order_service_recorded(order)
    if not service.supports("create_draft"):
        return
    _refuse_if_not_allowed(service, "place_order")
    if not order.merchant.can_order or not order.items.exists():
        return  # order_place refuses with its own reason
    if order.external_id and not order.items.filter(external_id="").exists():
        return  # the provider draft has every item: nothing to send
    with claims.provider_write(order=order, operation="prepare_draft",
                               label="Preparing the provider draft", actor=actor):
        order = Order.objects.select_related("merchant__account").get(pk=order.pk)
        if order.state not in (S.DRAFT, S.FAILED):
            return  # placed meanwhile: order_place refuses with its own reason
        if not order.external_id:
            if order.state != S.DRAFT:
                return
            _draft_create(order, service, actor=actor)
        else:
            _provider_items_push(order, service, actor=actor)


def order_execution_poll_due(*, order: Order) -> bool:
    """Does this order's execution still need polling (a placed order whose provider executes
    after placement)? The worker (``orders.tasks``) queues the poll when it does."""
    # one query, whatever the caller loaded (asked after every placement)
    row = (Order.objects.filter(pk=order.pk)
           .values("state", "raw_status", "merchant__account__provider").first())
    cls = registry.get(row["merchant__account__provider"]) if row else None
    if row is None or cls is None or not cls.supports("poll_execution"):
        return False
    return row["state"] not in _EXECUTION_FINAL and cls.statuses.order_allows(
        "execution_poll", raw_status=row["raw_status"])


def execution_poll_delay(attempt: int) -> int:
    """Seconds before poll number ``attempt + 1``."""
    return EXECUTION_POLL_DELAYS[min(attempt, len(EXECUTION_POLL_DELAYS) - 1)]


def order_execution_poll(*, order: Order, actor: Actor = None) -> bool:
    """Ask the provider how the execution of a placed order goes; apply its status (mapped
    onto the lifecycle, raw kept). True when the execution reached a final state."""
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if order.state in _EXECUTION_FINAL:
        return True
    if not order.external_id or order.state not in (S.PLACED, S.IN_PROGRESS):
        return True  # nothing to poll (never placed, or an operator moved it)
    if not order.status_table.order_allows("execution_poll", raw_status=order.raw_status):
        return False  # e.g. Reseller Pending Approval: not confirmed, no execution to ask about
    service = order_service_recorded(order)
    try:
        result = service.poll_execution(order_request(order))
    except ProviderUnavailable:
        raise
    except ProviderError as exc:
        event_add(order=order, kind=OrderEvent.Kind.ERROR, actor=actor,
                  message=f"Execution status unreadable: {exc}")
        raise
    with transaction.atomic():
        fresh = lock_order(order)
        if fresh.state not in (S.PLACED, S.IN_PROGRESS):
            return fresh.state in _EXECUTION_FINAL
        raw_changed = fresh.raw_status != result.raw_status
        fresh.raw_status = str(result.raw_status or fresh.raw_status)[:120]
        fresh.raw_data = {**fresh.raw_data, "execution": result.raw}
        fresh.synced_at = timezone.now()
        if result.state == S.FAILED:
            fresh.failure_reason = ("Execution failed at the provider"
                                    + (f": {result.message}" if result.message else ""))
        fresh.save()
        label = fresh.status_table.order_label(fresh.raw_status)
        if result.state and result.state != fresh.state:
            transition_apply(fresh, "sync_state", target=result.state, actor=actor,
                        message=f"Execution status {label}: {labels.moved(order.state, result.state)}")
        elif raw_changed:
            event_add(order=fresh, kind=OrderEvent.Kind.SYNC, actor=actor,
                      message=f"Execution status {label}")
        return fresh.state in _EXECUTION_FINAL


def order_drafts_expire(*, now: dt.datetime | None = None) -> int:
    """Move drafts past their provider expiry (``expires_at``) to ``expired``; the count."""
    now = now or timezone.now()
    due = Order.objects.filter(state=S.DRAFT, expires_at__isnull=False, expires_at__lte=now)
    count = 0
    for pk in due.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            order = (Order.objects.select_for_update(of=("self",))
                     .select_related("merchant__account").get(pk=pk))
            if order.state != S.DRAFT or not order.expires_at or order.expires_at > now:
                continue
            transition_apply(order, "expire",
                        message="Draft expired (provider expiry "
                        f"{order.expires_at:%Y-%m-%d %H:%M})")
            count += 1
    return count


def _clean_values(values: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(values, Mapping) or not values:
        raise OrderValidationError("Give at least one value.", fields={"values": "Required."})
    bad = [k for k in values if not isinstance(k, str) or not k.strip()]
    if bad:
        raise OrderValidationError("Every value needs a name.", fields={"values": "Empty name."})
    return {k.strip(): v for k, v in values.items()}


provider_values_clean = _clean_values  # dispatch checks the values before queuing


def _extra_info_call(order: Order, operation: str, what: str, call: Callable[[Any], Any],
                     *, actor: Actor, write: bool, key: str = "") -> Any:
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    if write:
        require_permission(actor)
    if not order.external_id:
        raise OrderActionRefused("This order is not at the provider yet.", code="not_allowed")
    service = order_service_recorded(order)
    if not service.supports(operation):
        raise OrderActionRefused(f"{service.label} has no {what}.", code="not_supported")
    _refuse_if_not_allowed(service, operation)
    claim = (claims.provider_write(order=order, operation=operation, label=f"Saving {what}",
                                   key=key, actor=actor)
             if write else contextlib.nullcontext())
    with claim:
        try:
            return call(service)
        except ProviderError as exc:
            if write:
                _provider_failure(order, _error_text(f"Saving {what}", exc), actor=actor)
            else:
                event_add(order=order, kind=OrderEvent.Kind.ERROR, actor=actor,
                          message=f"Reading {what} failed: {exc}")
            raise


def order_custom_fields_get(*, order: Order, actor: Actor = None) -> list[dict[str, Any]]:
    """The order's custom fields at the provider:
    [{name, label, value, type, choices, required}]."""
    return _extra_info_call(order, "custom_fields_get", "order custom fields",
                            lambda svc: svc.custom_fields_get(order_request(order)), actor=actor, write=False)


def order_custom_fields_set(*, order: Order, values: Mapping[str, Any],
                            actor: Actor = None) -> None:
    clean = _clean_values(values)
    _extra_info_call(order, "custom_fields_set", "order custom fields",
                     lambda svc: svc.custom_fields_set(order_request(order), clean), actor=actor, write=True,
                     key=claims.intent_key(clean))
    event_add(order=order, kind=OrderEvent.Kind.NOTE, actor=actor,
              message="Custom fields saved at the provider: " + ", ".join(sorted(clean)))


def order_item_characteristics_get(*, item: OrderItem, actor: Actor = None) -> list[dict[str, Any]]:
    order = item.order
    if not item.external_id:
        raise OrderActionRefused("This item is not at the provider yet.", code="not_allowed")
    return _extra_info_call(order, "item_characteristics_get", "item characteristics",
                            lambda svc: svc.item_characteristics_get(order_request(order),
                                                                    item_request(item)),
                            actor=actor, write=False)


def order_item_characteristics_set(*, item: OrderItem, values: Mapping[str, Any],
                                   actor: Actor = None) -> None:
    clean = _clean_values(values)
    order = item.order
    if not item.external_id:
        raise OrderActionRefused("This item is not at the provider yet.", code="not_allowed")
    _extra_info_call(order, "item_characteristics_set", "item characteristics",
                     lambda svc: svc.item_characteristics_set(order_request(order),
                                                              item_request(item), clean),
                     actor=actor, write=True, key=claims.intent_key(item.pk, clean))
    event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor,
              message=f"Characteristics of '{item}' saved at the provider: "
              + ", ".join(sorted(clean)))
