"""White-label reseller (interworks.cloud BSS) statuses: the one table to correct.

Documented: Draft, Submitted, Executed, Canceled (default BSS statuses), Reseller Pending
Approval, Cancelled by Reseller. Organisations may add their own: those stay raw ("unknown
(…)") and map to ``in_progress``.

Inferred (not published): the vocabulary of ``GET /api/orders/{id}/execute/status``. We keep
its values in the same table (Pending / InProgress / Failed next to Executed and Canceled) so
labels and lifecycle mapping live in one place. Lookups are case- and space-insensitive
(see ``normalise``).
"""

from __future__ import annotations

from providers.statuses import Lifecycle as L
from providers.statuses import RawStatus, StatusTable

DRAFT = "Draft"
SUBMITTED = "Submitted"
EXECUTED = "Executed"
CANCELED = "Canceled"
PENDING_APPROVAL = "Reseller Pending Approval"
CANCELLED_BY_RESELLER = "Cancelled by Reseller"
# execution-status values (inferred)
EXEC_PENDING = "Pending"
EXEC_IN_PROGRESS = "InProgress"
EXEC_FAILED = "Failed"

_AFTER_CHECKOUT = (SUBMITTED, PENDING_APPROVAL, EXEC_PENDING, EXEC_IN_PROGRESS, EXECUTED,
                   CANCELED, CANCELLED_BY_RESELLER, EXEC_FAILED)

STATUSES = StatusTable(
    provider="reseller",
    order_statuses={
        DRAFT: RawStatus(DRAFT, "Draft", L.DRAFT, next=(SUBMITTED, PENDING_APPROVAL)),
        SUBMITTED: RawStatus(SUBMITTED, "Submitted", L.PLACED, next=_AFTER_CHECKOUT[1:]),
        PENDING_APPROVAL: RawStatus(PENDING_APPROVAL, "Reseller pending approval", L.PLACED,
                                    next=(SUBMITTED, EXEC_IN_PROGRESS, EXECUTED,
                                          CANCELLED_BY_RESELLER)),
        EXEC_PENDING: RawStatus(EXEC_PENDING, "Execution pending", L.IN_PROGRESS,
                                next=(EXEC_IN_PROGRESS, EXECUTED, EXEC_FAILED, CANCELED)),
        EXEC_IN_PROGRESS: RawStatus(EXEC_IN_PROGRESS, "Executing", L.IN_PROGRESS,
                                    next=(EXECUTED, EXEC_FAILED, CANCELED)),
        EXECUTED: RawStatus(EXECUTED, "Executed", L.COMPLETED, next=(), final=True),
        CANCELED: RawStatus(CANCELED, "Canceled", L.CANCELLED, next=(), final=True),
        CANCELLED_BY_RESELLER: RawStatus(CANCELLED_BY_RESELLER, "Cancelled by reseller",
                                         L.CANCELLED, next=(), final=True),
        EXEC_FAILED: RawStatus(EXEC_FAILED, "Execution failed", L.FAILED, next=(), final=True),
    },
    # Checkout is "place". No cancel endpoint: a provider draft simply expires.
    order_actions=frozenset({"place"}),
    unknown_state=L.IN_PROGRESS,
)

# Final lifecycle states of an execution: polling stops here.
FINAL_STATES = frozenset({L.COMPLETED, L.CANCELLED, L.FAILED, L.EXPIRED})

# Spelling variants seen across BSS versions (all compared after ``normalise``).
ALIASES = {
    "cancelled": CANCELED,
    "inprogress": EXEC_IN_PROGRESS,
    "processing": EXEC_IN_PROGRESS,
    "running": EXEC_IN_PROGRESS,
    "queued": EXEC_PENDING,
    "completed": EXECUTED,
    "complete": EXECUTED,
    "success": EXECUTED,
    "succeeded": EXECUTED,
    "error": EXEC_FAILED,
    "resellerpendingapproval": PENDING_APPROVAL,
    "cancelledbyreseller": CANCELLED_BY_RESELLER,
    "canceledbyreseller": CANCELLED_BY_RESELLER,
}
_BY_KEY = {code.replace(" ", "").lower(): code for code in STATUSES.order_statuses}


def normalise(raw: object) -> str:
    """The table's spelling of a raw status; unknown values come back unchanged (as data)."""
    text = str(raw or "").strip()
    key = text.replace(" ", "").replace("_", "").replace("-", "").lower()
    return _BY_KEY.get(key) or ALIASES.get(key) or text


def state_for(raw: object) -> str:
    return STATUSES.order_state_for(normalise(raw))


def is_final(raw: object) -> bool:
    status = STATUSES.order_statuses.get(normalise(raw))
    return bool(status and status.final)
