"""The order lifecycle vocabulary: canonical order and item states and the order actions.

The domain (``orders``) owns these names; providers map their raw statuses onto them
(``providers/<key>/statuses.py``). A pure module: no Django models, no provider imports.
"""

from __future__ import annotations


class Lifecycle:
    """Canonical order states (DESIGN.md)."""

    DRAFT = "draft"
    PLACING = "placing"
    PLACED = "placed"
    IN_PROGRESS = "in_progress"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    PLACEMENT_UNKNOWN = "placement_unknown"
    FAILED = "failed"
    ON_HOLD = "on_hold"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    CHOICES = [
        (DRAFT, "Draft"),
        (PLACING, "Placing"),
        (PLACED, "Placed"),
        (IN_PROGRESS, "In progress"),
        (PARTIALLY_SHIPPED, "Partially shipped"),
        (SHIPPED, "Shipped"),
        (COMPLETED, "Completed"),
        (PLACEMENT_UNKNOWN, "Placement unknown"),
        (FAILED, "Failed"),
        (ON_HOLD, "On hold"),
        (CANCELLED, "Cancelled"),
        (EXPIRED, "Expired"),
    ]
    ALL = tuple(s for s, _ in CHOICES)
    FINAL = (COMPLETED, CANCELLED, EXPIRED)


class ItemLifecycle:
    """Canonical order item states."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ON_HOLD = "on_hold"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    RETURNED = "returned"

    CHOICES = [
        (NEW, "New"),
        (ACKNOWLEDGED, "Acknowledged"),
        (ON_HOLD, "On hold"),
        (SHIPPED, "Shipped"),
        (CANCELLED, "Cancelled"),
        (RETURNED, "Returned"),
    ]
    ALL = tuple(s for s, _ in CHOICES)


class Action:
    """Order actions a status table allows or refuses (model transition names, plus the
    provider reads ``sync`` and ``execution_poll``)."""

    PLACE = "place"
    SYNC = "sync"
    HOLD = "hold"
    RELEASE = "release"
    SHIP = "ship"
    COMPLETE = "complete"
    CANCEL = "cancel"
    EXECUTION_POLL = "execution_poll"
    ALL = (PLACE, SYNC, HOLD, RELEASE, SHIP, COMPLETE, CANCEL, EXECUTION_POLL)
