"""Brandsdistribution ("ghost" API) order status codes: the one table to correct.

Codes, names and descriptions are documented (Rewix "Order status", provider-notes.md). Which
canonical state each maps to is our reading, chosen deliberately per code (below). The
provider publishes no "next status" rules: every row's ``next`` is ``NOT_PUBLISHED`` and the
graph says so. The actions per row are ours: the API has a read (status by key) and nothing
else after creation — no cancel, hold or shipping call — so a placed order allows ``sync``
(and ``complete`` once dispatched); only an order that never reached the provider (no raw
status) may be placed. Unknown codes stay raw, keep the order where it is, and put it under
"Needs action".
"""

from __future__ import annotations

from orders.lifecycle import Action as A
from orders.lifecycle import Lifecycle as L
from providers.statuses import NOT_PUBLISHED, RawStatus, StatusTable

PENDING = "0"
MONEY_WAITING = "1"
TO_DISPATCH = "2"
DISPATCHED = "3"
BOOKED = "5"
CANCELLED = "2000"
VERIFY_FAILED = "2002"
WORKING_ON = "3001"
READY = "3002"
DROPSHIPPER_GROWING = "5003"

_READ = frozenset({A.SYNC})


def _row(code: str, label: str, state: str, description: str, *,
         actions: frozenset[str] = _READ, **flags: bool) -> RawStatus:
    return RawStatus(code, label, state, next=NOT_PUBLISHED, actions=actions,
                     description=description, **flags)


STATUSES = StatusTable(
    provider="brandsdistribution",
    order_statuses={
        # the provider still shows it as a cart: it exists there, nothing to send again
        PENDING: _row(PENDING, "Pending", L.PLACED, "user is managing the cart"),
        MONEY_WAITING: _row(MONEY_WAITING, "Money waiting", L.PLACED,
                            "awaiting payment gateway response", awaiting_payment=True),
        TO_DISPATCH: _row(TO_DISPATCH, "To dispatch", L.IN_PROGRESS, "ready to be dispatched"),
        DISPATCHED: _row(DISPATCHED, "Dispatched", L.SHIPPED, "picked up by carrier",
                         actions=frozenset({A.SYNC, A.COMPLETE}), final=True),
        # what an order created through the API is; autoConfirm=false leaves it here
        BOOKED: _row(BOOKED, "Booked", L.PLACED,
                     "created by API Send Order or booked by bank transfer"),
        CANCELLED: _row(CANCELLED, "Cancelled", L.CANCELLED, "cancelled", final=True),
        # a payment failure, not a hold: the order exists but will not move until it is paid
        # (needs the operator; placing again is refused — it is not a placement failure)
        VERIFY_FAILED: _row(VERIFY_FAILED, "Verify failed (payment not accepted)", L.FAILED,
                            "payment was not accepted by payment gateway"),
        WORKING_ON: _row(WORKING_ON, "Working on", L.IN_PROGRESS,
                         "logistics office is working on the order"),
        READY: _row(READY, "Ready", L.IN_PROGRESS, "ready for pick up"),
        # the "virtual order" holding a reservation: items reserved, not an order to ship yet
        DROPSHIPPER_GROWING: _row(DROPSHIPPER_GROWING, "Dropshipper growing", L.PLACED,
                                  "virtual order containing reserved items"),
    },
    order_actions=frozenset({A.PLACE, A.SYNC, A.COMPLETE}),
    initial_actions=frozenset({A.PLACE, A.SYNC}),
)
