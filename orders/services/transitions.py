"""The transition catalogue the admin and the API run by name."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from orders.lifecycle import Lifecycle

from ..errors import OrderActionRefused
from ..models import (
    Order,
)
from ..timeline import Actor
from .common import require_permission
from .fulfilment import order_cancel, order_complete, order_hold, order_release, order_reopen, order_ship
from .placement import order_place, order_reconcile
from .shortfall import order_shortfall_accept

logger = logging.getLogger(__name__)
S = Lifecycle



def order_run_transition(
    *, order: Order, name: str, actor: Actor = None, payload: Mapping[str, Any] | None = None
) -> Any:
    """Run an operator-visible order transition by name through its service verb."""
    payload = dict(payload or {})
    verbs: dict[str, Callable[..., Any]] = {
        "place": order_place,
        "reconcile": order_reconcile,
        "reopen": order_reopen,
        "hold": order_hold,
        "release": order_release,
        "ship": order_ship,
        "complete": order_complete,
        "cancel": order_cancel,
        "accept_shortfall": order_shortfall_accept,
    }
    verb = verbs.get(name)
    if verb is None:
        raise OrderActionRefused(f"Unknown action “{name}”.", code="unknown")
    require_permission(actor)
    return verb(order=order, actor=actor, **payload)


