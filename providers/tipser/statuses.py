"""Tipser's status vocabulary — the one place to correct it.

Documented: item status codes 0 New, 1 Hold, 2 Shipped, 3 Cancelled, 6 Acknowledged, and that
each item's ``nextStatuses`` in the latest reply is the authority for what may follow.
Inferred (provider-notes.md): 4 Returned (follows Shipped); 5 is unknown and kept raw.
The ``next`` tuples below are only a fallback for items whose ``nextStatuses`` we do not know
(e.g. right after we changed them, before the next sync).

The order-level ``status`` is a separate enum whose values Tipser does not publish: we store it
raw and derive the canonical order state from the item states (``mapping.order_state_from_items``).
"""

from __future__ import annotations

from orders.lifecycle import ItemLifecycle as I
from orders.lifecycle import Lifecycle as L
from providers.statuses import RawStatus, StatusTable

NEW, HOLD, SHIPPED, CANCELLED, RETURNED, ACKNOWLEDGED = "0", "1", "2", "3", "4", "6"

STATUSES = StatusTable(
    provider="tipser",
    order_statuses={},  # not published: raw values are shown as "unknown (n)"
    # Order buttons: each sends one status change for all (eligible) items of the order,
    # "ship" posts the shipping information (carrier, tracking) and marks the items shipped.
    order_actions=frozenset({"hold", "release", "ship", "cancel", "sync"}),
    # order-level statuses are not published: no order-level rule; the items' own
    # ``nextStatuses`` (and the item table below) decide
    initial_actions=None,
    unknown_actions=None,
    unknown_state=L.IN_PROGRESS,
    item_statuses={
        NEW: RawStatus(NEW, "New", I.NEW, next=(HOLD, SHIPPED, CANCELLED, ACKNOWLEDGED)),
        HOLD: RawStatus(HOLD, "Hold", I.ON_HOLD, next=(SHIPPED, CANCELLED, ACKNOWLEDGED)),
        SHIPPED: RawStatus(SHIPPED, "Shipped", I.SHIPPED, next=(RETURNED,)),
        CANCELLED: RawStatus(CANCELLED, "Cancelled", I.CANCELLED, next=(), final=True),
        RETURNED: RawStatus(RETURNED, "Returned", I.RETURNED, next=(), final=True),
        ACKNOWLEDGED: RawStatus(
            ACKNOWLEDGED, "Acknowledged", I.ACKNOWLEDGED, next=(HOLD, SHIPPED, CANCELLED)
        ),
    },
)

# Item codes that still need the merchant's work: an order with such an item is "open" and
# the periodic sync keeps re-reading it (see service.TipserService.iter_incoming).
OPEN_ITEM_CODES = frozenset({NEW, HOLD, ACKNOWLEDGED})
# Every known item code: the default ``states`` filter of the list call.
ALL_STATES = "0,1,2,3,4,6"

# What the list call's ``states`` filter selects — OUR READING, kept here only: the doc says the
# parameter is obligatory and that "states are defined in the following table", but the table
# is not in our copy. We read the codes as *item* status codes (the only status codes the doc
# names; the order-level status is unpublished) and the filter as "orders with at least one
# item in one of these states" (the sandbox does the same). The periodic sync relies on it
# only for its cost, never for correctness: orders we knew as open and that this filter no
# longer returns are fetched one by one (service.TipserService.iter_incoming).
OPEN_STATES = ",".join(sorted(OPEN_ITEM_CODES))
