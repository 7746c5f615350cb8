"""Aliseeks order statuses.

Aliseeks publishes no vocabulary for ``status`` / ``shippingStatus``: its docs show only
``order_completed`` and ``shipped``. We keep both raw values side by side in
``Order.raw_status`` as ``"<status>/<shippingStatus>"`` (``"<status>"`` when there is no
shipping status) and decide the canonical state from the pair:

* ``status`` through ``ORDER_STATUSES`` (documented + values inferred from AliExpress's own
  order statuses, lower-cased the way Aliseeks spells ``order_completed``);
* ``shippingStatus`` through ``SHIPPING_STATUSES``; it can only move the order further along
  (a ``shipped`` order whose status we do not know is shown as shipped).

Anything unknown is data, never a normal state: the order stays where it was, its label shows
the raw value and it is listed under "Needs action" (``needs_action``) until the table knows it.
``awaiting_payment`` is dropdesk's own marker for an order just created: Aliseeks creates
AliExpress orders **unpaid**; the merchant pays on AliExpress.
"""

from __future__ import annotations

from orders.lifecycle import Action as A
from orders.lifecycle import Lifecycle as L
from providers.statuses import NOT_PUBLISHED, RawStatus, StatusTable

AWAITING_PAYMENT = "awaiting_payment"
SEPARATOR = "/"

_READ = frozenset({A.SYNC})

# ``next`` is NOT_PUBLISHED everywhere: Aliseeks publishes no status flow. The only action
# after creation is reading the order back (``sync``); placing again is refused once the
# order has any status there.
ORDER_STATUSES = {
    AWAITING_PAYMENT: RawStatus(
        AWAITING_PAYMENT, "Placed — awaiting the merchant's payment on AliExpress", L.PLACED,
        next=NOT_PUBLISHED, awaiting_payment=True, actions=_READ,
    ),
    # inferred (AliExpress PLACE_ORDER_SUCCESS: created, not paid yet)
    "place_order_success": RawStatus(
        "place_order_success", "Placed — awaiting the merchant's payment on AliExpress", L.PLACED,
        next=NOT_PUBLISHED, awaiting_payment=True, actions=_READ,
    ),
    # inferred (AliExpress WAIT_SELLER_SEND_GOODS: paid, the store prepares it)
    "wait_seller_send_goods": RawStatus(
        "wait_seller_send_goods", "Paid — the store is preparing it", L.IN_PROGRESS,
        next=NOT_PUBLISHED, actions=_READ,
    ),
    "seller_part_send_goods": RawStatus(
        "seller_part_send_goods", "Partly sent by the store", L.PARTIALLY_SHIPPED,
        next=NOT_PUBLISHED, actions=_READ,
    ),
    "wait_buyer_accept_goods": RawStatus(
        "wait_buyer_accept_goods", "Sent — on its way", L.SHIPPED, next=NOT_PUBLISHED,
        actions=_READ,
    ),
    # inferred (AliExpress closes unpaid orders: FINISH with a close reason / IN_CANCEL)
    "in_cancel": RawStatus("in_cancel", "Being cancelled", L.IN_PROGRESS, next=NOT_PUBLISHED,
                           actions=_READ),
    "order_closed": RawStatus("order_closed", "Closed (cancelled or unpaid)", L.CANCELLED,
                              next=NOT_PUBLISHED, final=True, actions=_READ),
    # documented
    "order_completed": RawStatus("order_completed", "Completed", L.COMPLETED, final=True,
                                 next=NOT_PUBLISHED, actions=_READ),
}

SHIPPING_STATUSES = {
    "shipped": RawStatus("shipped", "shipped", L.SHIPPED),  # documented
    "partially_shipped": RawStatus("partially_shipped", "partly shipped", L.PARTIALLY_SHIPPED),
}

# How far along each canonical state is (a shipping status only moves an order forward).
_RANK = {
    L.PLACED: 1, L.IN_PROGRESS: 2, L.PARTIALLY_SHIPPED: 3, L.SHIPPED: 4, L.COMPLETED: 5,
}


def compose(status: object, shipping_status: object) -> str:
    status = str(status or "").strip()
    shipping_status = str(shipping_status or "").strip()
    return f"{status}{SEPARATOR}{shipping_status}" if shipping_status else status


def split(raw: object) -> tuple[str, str]:
    text = str(raw or "")
    status, _, shipping = text.partition(SEPARATOR)
    return status.strip(), shipping.strip()


class AliseeksStatusTable(StatusTable):
    """Reads the composed ``status/shippingStatus`` raw value."""

    def order_state_for(self, raw: object) -> str | None:
        status, shipping = split(raw)
        known = self.order_statuses.get(status)
        state = known.state if known else self.unknown_state
        ship = SHIPPING_STATUSES.get(shipping)
        if ship and _RANK.get(ship.state, 0) > _RANK.get(state or "", 0):
            state = ship.state
        return state

    def is_known(self, raw: object) -> bool:
        status, shipping = split(raw)
        if not status and not shipping:
            return True
        return status in self.order_statuses and (not shipping or shipping in SHIPPING_STATUSES)

    def known_codes(self) -> list[str]:
        codes = list(self.order_statuses)
        return [*codes, *(f"{c}{SEPARATOR}{s}" for c in codes for s in SHIPPING_STATUSES)]

    def actions_at(self, raw_status: object) -> frozenset[str] | None:
        return super().actions_at(split(raw_status)[0] if self.is_known(raw_status)
                                  else "\0unknown")

    def order_label(self, raw: object) -> str:
        status, shipping = split(raw)
        if not status and not shipping:
            return ""
        known = self.order_statuses.get(status)
        label = known.label if known else f"unknown status ({status or 'none'}) — needs action"
        if shipping:
            ship = SHIPPING_STATUSES.get(shipping)
            label += f" · {ship.label if ship else f'shipping: {shipping}'}"
        return label

    def awaiting_payment_codes(self) -> list[str]:
        """Stored raw values are ``status`` or ``status/shippingStatus``: list both forms."""
        codes = super().awaiting_payment_codes()
        return [*codes, *(f"{c}{SEPARATOR}{s}" for c in codes for s in SHIPPING_STATUSES)]


STATUSES = AliseeksStatusTable(
    provider="aliseeks",
    order_statuses=ORDER_STATUSES,
    # Aliseeks only creates and reads orders: no cancel, hold or shipping push through its API.
    order_actions=frozenset({A.PLACE, A.SYNC}),
    initial_actions=frozenset({A.PLACE, A.SYNC}),
)
