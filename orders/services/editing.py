"""Create and edit draft orders, their items and notes (on a draft at the provider, the
provider half of an item change is the worker's: ``orders.dispatch``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from merchants.models import Merchant
from orders.lifecycle import Lifecycle
from providers import registry

from .. import claims, versions
from ..errors import OrderActionRefused, OrderValidationError
from ..models import (
    Order,
    OrderEvent,
    OrderItem,
)
from ..timeline import Actor, event_add
from .common import lock_order, require_draft, totals_recalculate
from .provider_drafts import provider_item_check, provider_item_delete

logger = logging.getLogger(__name__)
S = Lifecycle

ADDRESS_FIELDS = (
    "contact_name", "contact_email", "phone_prefix", "phone_number", "address_line1",
    "address_line2", "city", "region", "postal_code", "country",
)
EDITABLE_FIELDS = (*ADDRESS_FIELDS, "currency", "shipping_total", "provider_options")


# --- create and edit -------------------------------------------------------------------------
def _validate(order: Order) -> None:
    """The model's own validation, as field errors (the state is the FSM's business)."""
    try:
        order.full_clean(exclude=["state"])
    except ValidationError as exc:
        raise OrderValidationError(
            "The order is not valid.",
            fields={k: " ".join(v) for k, v in exc.message_dict.items()},
        ) from exc


def validate_item(item: OrderItem, prefix: str = "") -> None:
    """An item's own field rules (non-negative prices, …), as field errors."""
    try:
        item.full_clean(exclude=["order", "state"], validate_unique=False,
                        validate_constraints=False)
    except ValidationError as exc:
        raise OrderValidationError(
            "The item is not valid.",
            fields={f"{prefix}{k}": " ".join(v) for k, v in exc.message_dict.items()},
        ) from exc


@transaction.atomic
def order_create(
    *,
    merchant: Merchant,
    items: Iterable[Mapping[str, Any]],
    actor: Actor = None,
    reference: str | None = None,
    **fields: Any,
) -> Order:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise OrderValidationError("Unknown fields.", fields={f: "Unknown field." for f in unknown})
    order = Order(merchant=merchant, **fields)
    if reference:
        order.reference = reference
    if order.country:
        order.country = order.country.upper()
    _validate(order)
    order.save()
    rows = [OrderItem(order=order, **dict(item)) for item in items]
    for index, row in enumerate(rows):
        if not row.quantity or row.quantity < 1:
            raise OrderValidationError(
                "Quantity must be at least 1.", fields={f"items[{index}].quantity": "Must be ≥ 1."}
            )
        validate_item(row, prefix=f"items[{index}].")
    OrderItem.objects.bulk_create(rows)
    totals_recalculate(order)
    event_add(order=order, kind=OrderEvent.Kind.TRANSITION, message="Order created",
              to_state=order.state, actor=actor)
    return order


@transaction.atomic
def order_update(*, order: Order, actor: Actor = None, base_version: str | None = None,
                 **fields: Any) -> Order:
    """Change a draft's fields. ``base_version`` (``orders.versions``): the version the
    change was based on; refused (``OrderVersionConflict``) when the order moved since."""
    order = lock_order(order)
    versions.order_version_check(order=order, base=base_version)
    require_draft(order, "Editing")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise OrderValidationError("Unknown fields.", fields={f: "Not editable." for f in unknown})
    for name, value in fields.items():
        setattr(order, name, value)
    _validate(order)
    order.save()
    totals_recalculate(order)
    event_add(order=order, kind=OrderEvent.Kind.NOTE, actor=actor,
              message="Edited: " + ", ".join(sorted(fields)))
    return order


def _claim_if_provider(order: Order, operation: str, label: str, *, actor: Actor,
                       key: str = "") -> contextlib.AbstractContextManager[Any]:
    """The provider-write claim when the order's provider has ``operation``; else nothing."""
    cls = registry.get(order.merchant.account.provider)
    if cls is None or not cls.supports(operation):
        return contextlib.nullcontext()
    return claims.provider_write(order=order, operation=operation, label=label, key=key,
                                 actor=actor)


def order_item_add(*, order: Order, actor: Actor = None, **fields: Any) -> OrderItem:
    """Add an item to a draft. On a draft at the provider (reseller v3) this is the local
    half: refused now when the provider would refuse it (not Draft, a read-only account),
    saved here with an empty ``external_id``; ``order_provider_items_push`` (the worker,
    queued by ``orders.dispatch``) adds it there."""
    order = Order.objects.select_related("merchant__account").get(pk=order.pk)
    provider_item_check(order, "add_item")  # provider-side drafts: refused before a change
    with transaction.atomic():
        order = lock_order(order)
        require_draft(order, "Adding items")
        item = OrderItem(order=order, **fields)
        if item.quantity < 1:
            raise OrderValidationError("Quantity must be at least 1.",
                                       fields={"quantity": "Must be ≥ 1."})
        validate_item(item)
        item.save()
        totals_recalculate(order)
        event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor,
                  message=f"Item added: {item}")
    return item


def order_item_remove_check(*, item: OrderItem, actor: Actor = None) -> None:
    """What ``order_item_remove`` would refuse, checked without calling the provider (the
    request's half of a removal the worker sends to the provider)."""
    if not OrderItem.objects.filter(pk=item.pk).exists():
        raise OrderActionRefused(f"Item '{item}' was removed meanwhile.", code="not_allowed")
    order = Order.objects.select_related("merchant__account").get(pk=item.order_id)
    require_draft(order, "Removing items")
    provider_item_check(order, "remove_item")


def order_item_remove(*, item: OrderItem, actor: Actor = None) -> None:
    """Remove an item of a draft; on a draft at the provider, delete it there first (under
    the order's provider-write claim; gone there already counts as deleted). The admin and
    the API queue this for the worker when it calls the provider (``orders.dispatch``)."""
    order = Order.objects.select_related("merchant__account").get(pk=item.order_id)
    with _claim_if_provider(order, "remove_item", f"Removing item '{item}'", actor=actor):
        if not OrderItem.objects.filter(pk=item.pk).exists():
            raise OrderActionRefused(f"Item '{item}' was removed meanwhile.", code="not_allowed")
        provider_item_delete(item, actor=actor)  # provider-side drafts: delete it there first
        with transaction.atomic():
            order = lock_order(item.order)
            require_draft(order, "Removing items")
            label = str(item)
            item.delete()
            totals_recalculate(order)
            event_add(order=order, kind=OrderEvent.Kind.ITEM, actor=actor,
                      message=f"Item removed: {label}")


def order_note_add(*, order: Order, text: str, actor: Actor = None) -> OrderEvent:
    return event_add(order=order, kind=OrderEvent.Kind.NOTE, message=text.strip(), actor=actor)


