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

from orders.lifecycle import Action as A
from orders.lifecycle import Lifecycle as L
from providers.statuses import NOT_PUBLISHED, RawStatus, StatusTable

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

_READ = frozenset({A.SYNC})
_EXECUTING = frozenset({A.SYNC, A.EXECUTION_POLL})

STATUSES = StatusTable(
    provider="reseller",
    order_statuses={
        # documented: checkout "can only be done when the order is in Draft status"; items
        # are added and removed only in Draft. What follows a checkout is not published.
        DRAFT: RawStatus(DRAFT, "Draft", L.DRAFT, next=(SUBMITTED, PENDING_APPROVAL),
                         actions=frozenset({A.PLACE, A.SYNC})),
        SUBMITTED: RawStatus(SUBMITTED, "Submitted", L.PLACED, next=NOT_PUBLISHED,
                             actions=_EXECUTING),
        # documented: not a confirmed order, and the execution status is for confirmed
        # orders only — it is not polled here (the order read tells when it moves on)
        PENDING_APPROVAL: RawStatus(PENDING_APPROVAL, "Reseller pending approval", L.PLACED,
                                    next=NOT_PUBLISHED, actions=_READ),
        EXEC_PENDING: RawStatus(EXEC_PENDING, "Execution pending", L.IN_PROGRESS,
                                next=NOT_PUBLISHED, actions=_EXECUTING),
        EXEC_IN_PROGRESS: RawStatus(EXEC_IN_PROGRESS, "Executing", L.IN_PROGRESS,
                                    next=NOT_PUBLISHED, actions=_EXECUTING),
        EXECUTED: RawStatus(EXECUTED, "Executed", L.COMPLETED, next=NOT_PUBLISHED, final=True,
                            actions=_READ),
        CANCELED: RawStatus(CANCELED, "Canceled", L.CANCELLED, next=NOT_PUBLISHED, final=True,
                            actions=_READ),
        CANCELLED_BY_RESELLER: RawStatus(CANCELLED_BY_RESELLER, "Cancelled by reseller",
                                         L.CANCELLED, next=NOT_PUBLISHED, final=True,
                                         actions=_READ),
        EXEC_FAILED: RawStatus(EXEC_FAILED, "Execution failed", L.FAILED, next=NOT_PUBLISHED,
                               final=True, actions=_READ),
    },
    # Checkout is "place". No cancel endpoint: a provider draft simply expires.
    order_actions=frozenset({A.PLACE, A.SYNC, A.EXECUTION_POLL}),
    initial_actions=frozenset({A.PLACE, A.SYNC}),
    # organisations add their own statuses: shown raw, in progress, under "Needs action"
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


def state_for(raw: object) -> str | None:
    return STATUSES.order_state_for(normalise(raw))


def is_final(raw: object) -> bool:
    status = STATUSES.order_statuses.get(normalise(raw))
    return bool(status and status.final)
