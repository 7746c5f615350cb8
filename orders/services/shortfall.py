"""Short quantity: the provider took or held less than was asked, and the operator decides.

Two answers, one place each:

* **Accept shortfall** (``order_shortfall_accept``): each short item keeps what the provider
  took — its quantity becomes that number, an item with nothing taken leaves the order, and the
  totals are recomputed. An order never sent (a reservation shortfall) goes back to draft to be
  placed again; a placed one carries on. Accepting when nothing at all was taken is a cancel.
* **Cancel**: ``order_cancel`` (the provider's cancel when the order is there).

``order_shortfall_summary`` is the read the order page shows above the fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from orders.lifecycle import Lifecycle as S

from ..errors import OrderActionRefused
from ..models import Order, OrderEvent, OrderItem
from ..timeline import Actor, event_add
from .common import lock_order, require_permission, totals_recalculate, transition_apply
from .fulfilment import order_cancel


@dataclass(frozen=True)
class ShortLine:
    item_id: int
    name: str
    asked: int
    taken: int
    unit_price: Decimal | None

    @property
    def missing(self) -> int:
        return self.asked - self.taken


@dataclass(frozen=True)
class ShortfallSummary:
    lines: list[ShortLine]
    total_now: Decimal
    total_if_accepted: Decimal
    nothing_taken: bool
    never_sent: bool


def order_shortfall_summary(*, order: Order) -> ShortfallSummary | None:
    """The open shortfall of an order (None when there is nothing to decide)."""
    if order.state not in _DECIDABLE:
        return None
    items = list(order.items.all())
    lines = [ShortLine(i.pk, i.name or i.sku or i.product_id, i.quantity, int(i.confirmed_quantity or 0),
                       i.unit_price)
             for i in items if i.shortfall]
    if not lines:
        return None
    kept = sum(((i.unit_price or Decimal("0")) * _kept_quantity(i) for i in items), Decimal("0"))
    total_if = (kept + (order.shipping_total or Decimal("0"))).quantize(Decimal("0.01"))
    return ShortfallSummary(
        lines=lines, total_now=order.total, total_if_accepted=total_if,
        nothing_taken=all(_kept_quantity(i) == 0 for i in items),
        never_sent=order.state == S.FAILED and not order.external_id,
    )


_DECIDABLE = (S.FAILED, S.PLACED, S.IN_PROGRESS, S.ON_HOLD, S.PARTIALLY_SHIPPED, S.SHIPPED)


def _kept_quantity(item: OrderItem) -> int:
    return item.quantity if item.confirmed_quantity is None else min(item.quantity,
                                                                       item.confirmed_quantity)


def order_shortfall_accept(*, order: Order, actor: Actor = None) -> Order:
    """Keep what the provider took (see the module's docstring); nothing taken: cancel."""
    require_permission(actor)
    summary = order_shortfall_summary(order=Order.objects.get(pk=order.pk))
    if summary is None:
        raise OrderActionRefused("This order has no shortfall waiting for a decision.",
                                 code="not_allowed")
    if summary.nothing_taken:
        return order_cancel(
            order=order, actor=actor,
            reason="Shortfall accepted with nothing available: the order is cancelled")
    with transaction.atomic():
        fresh = lock_order(order)
        items = list(fresh.items.all())
        short = [i for i in items if i.shortfall]
        if not short:
            raise OrderActionRefused("This order has no shortfall waiting for a decision.",
                                     code="not_allowed")
        text = "; ".join(f"{i.name or i.sku or i.product_id}: {i.confirmed_quantity} of {i.quantity}"
                         for i in short)
        before_total = fresh.total
        never_sent = fresh.state == S.FAILED and not fresh.external_id
        transition_apply(
            fresh, "accept_shortfall", actor=actor,
            message=f"Shortfall accepted ({text}): "
            + ("back to draft, to be placed with these quantities" if never_sent
               else "the order goes on with what the provider took"))
        for item in short:
            if not item.confirmed_quantity:
                item.delete()
            else:
                item.quantity = int(item.confirmed_quantity)
                item.confirmed_quantity = None
                item.save(update_fields=["quantity", "confirmed_quantity", "updated_at"])
        decision = {"accepted_at": timezone.now().isoformat(), "items": text,
                    "by": getattr(actor, "username", "") or "system"}
        history = [*fresh.raw_data.get("shortfall_history", []), decision]
        fresh.raw_data = {**fresh.raw_data, "shortfall_history": history}
        fresh.save(update_fields=["raw_data", "updated_at"])
        totals_recalculate(fresh)
        event_add(order=fresh, kind=OrderEvent.Kind.NOTE, actor=actor,
                  message=f"Total {before_total} → {fresh.total} {fresh.currency}")
    order.refresh_from_db()
    return order
