"""Brandsdistribution ("ghost" API) order status codes and what they mean here.

Codes and labels are documented (provider-notes.md). Which canonical state each maps to is
our reading; the provider publishes no "next status" rules, so ``next`` is left open (None)
and the table does not restrict transitions between them. Unknown codes are shown raw.
"""

from __future__ import annotations

from providers.statuses import Lifecycle as L
from providers.statuses import RawStatus, StatusTable

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

STATUSES = StatusTable(
    provider="brandsdistribution",
    order_statuses={
        PENDING: RawStatus(PENDING, "Pending", L.PLACED),
        MONEY_WAITING: RawStatus(MONEY_WAITING, "Money waiting", L.PLACED, awaiting_payment=True),
        TO_DISPATCH: RawStatus(TO_DISPATCH, "To dispatch", L.IN_PROGRESS),
        DISPATCHED: RawStatus(DISPATCHED, "Dispatched", L.SHIPPED, final=True),
        BOOKED: RawStatus(BOOKED, "Booked (created by the API)", L.PLACED),
        CANCELLED: RawStatus(CANCELLED, "Cancelled", L.CANCELLED, final=True),
        # The provider could not verify the order (payment/address): it needs the operator.
        VERIFY_FAILED: RawStatus(VERIFY_FAILED, "Verify failed", L.ON_HOLD),
        WORKING_ON: RawStatus(WORKING_ON, "Working on", L.IN_PROGRESS),
        READY: RawStatus(READY, "Ready", L.IN_PROGRESS),
        DROPSHIPPER_GROWING: RawStatus(DROPSHIPPER_GROWING, "Dropshipper growing", L.PLACED),
    },
    # No cancel, hold or shipping call exists in the documented API: cancelling an order
    # that reached the provider happens in their back office (the next sync reads 2000).
    # Orders that never reached it (draft/failed) can always be cancelled locally.
    order_actions=frozenset({"place", "complete"}),
    unknown_state=L.IN_PROGRESS,
)
