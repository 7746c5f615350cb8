"""Aliseeks order statuses.

Aliseeks publishes no vocabulary for ``status`` / ``shippingStatus``: its docs show only
``order_completed`` and ``shipped``. We keep both raw values side by side in
``Order.raw_status`` as ``"<status>/<shippingStatus>"`` (``"<status>"`` when there is no
shipping status) and decide the canonical state from the pair:

* ``status`` through ``ORDER_STATUSES`` (documented + values inferred from AliExpress's own
  order statuses, lower-cased the way Aliseeks spells ``order_completed``);
* ``shippingStatus`` through ``SHIPPING_STATUSES``; it can only move the order further along
  (a ``shipped`` order whose status we do not know is shown as shipped).

Anything unknown is data: the order is "in progress" and the label shows the raw value.
``awaiting_payment`` is dropdesk's own marker for an order just created: Aliseeks creates
AliExpress orders **unpaid**; the merchant pays on AliExpress.
"""

from __future__ import annotations

from providers.statuses import Lifecycle as L
from providers.statuses import RawStatus, StatusTable

AWAITING_PAYMENT = "awaiting_payment"
SEPARATOR = "/"

ORDER_STATUSES = {
    AWAITING_PAYMENT: RawStatus(
        AWAITING_PAYMENT, "Placed — awaiting the merchant's payment on AliExpress", L.PLACED,
        next=("place_order_success", "wait_seller_send_goods", "order_completed"),
        awaiting_payment=True,
    ),
    # inferred (AliExpress PLACE_ORDER_SUCCESS: created, not paid yet)
    "place_order_success": RawStatus(
        "place_order_success", "Placed — awaiting the merchant's payment on AliExpress", L.PLACED,
        next=("wait_seller_send_goods", "order_completed"),
        awaiting_payment=True,
    ),
    # inferred (AliExpress WAIT_SELLER_SEND_GOODS: paid, the store prepares it)
    "wait_seller_send_goods": RawStatus(
        "wait_seller_send_goods", "Paid — the store is preparing it", L.IN_PROGRESS,
        next=("seller_part_send_goods", "wait_buyer_accept_goods", "order_completed"),
    ),
    "seller_part_send_goods": RawStatus(
        "seller_part_send_goods", "Partly sent by the store", L.PARTIALLY_SHIPPED,
        next=("wait_buyer_accept_goods", "order_completed"),
    ),
    "wait_buyer_accept_goods": RawStatus(
        "wait_buyer_accept_goods", "Sent — on its way", L.SHIPPED, next=("order_completed",),
    ),
    # documented
    "order_completed": RawStatus("order_completed", "Completed", L.COMPLETED, final=True),
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

    def order_state_for(self, raw: object) -> str:
        status, shipping = split(raw)
        known = self.order_statuses.get(status)
        state = known.state if known else self.unknown_state
        ship = SHIPPING_STATUSES.get(shipping)
        if ship and _RANK.get(ship.state, 0) > _RANK.get(state, 0):
            state = ship.state
        return state

    def order_label(self, raw: object) -> str:
        status, shipping = split(raw)
        if not status and not shipping:
            return ""
        known = self.order_statuses.get(status)
        label = known.label if known else f"in progress ({status or 'no status'})"
        if shipping:
            ship = SHIPPING_STATUSES.get(shipping)
            label += f" · {ship.label if ship else f'shipping: {shipping}'}"
        return label

    def order_allows(self, action: str, *, raw_status: str = "", target: str | None = None) -> bool:
        return super().order_allows(action, raw_status=split(raw_status)[0], target=target)

    def awaiting_payment_codes(self) -> list[str]:
        """Stored raw values are ``status`` or ``status/shippingStatus``: list both forms."""
        codes = super().awaiting_payment_codes()
        return [*codes, *(f"{c}{SEPARATOR}{s}" for c in codes for s in SHIPPING_STATUSES)]


STATUSES = AliseeksStatusTable(
    provider="aliseeks",
    order_statuses=ORDER_STATUSES,
    # Aliseeks only creates and reads orders: no cancel, hold or shipping push through its API.
    order_actions=frozenset({"place"}),
    unknown_state=L.IN_PROGRESS,
)
