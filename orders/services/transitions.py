"""The transition catalogue the admin and the API run by name."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from orders.lifecycle import Lifecycle
from providers import registry

from .. import labels
from ..errors import OrderActionRefused
from ..models import (
    Order,
)
from ..timeline import Actor
from .common import order_transitions_available, require_permission
from .fulfilment import (
    _provider_verb,
    order_cancel,
    order_complete,
    order_hold,
    order_release,
    order_reopen,
    order_ship,
    order_shipment_check,
)
from .placement import order_place, order_reconcile
from .shortfall import order_shortfall_accept, order_shortfall_summary

logger = logging.getLogger(__name__)
S = Lifecycle


def order_transition_calls_provider(*, order: Order, name: str) -> bool:
    """Whether running transition ``name`` on ``order`` now makes a provider call (then the
    worker runs it: ``orders.dispatch``). ``reconcile`` (the operator's word), ``reopen`` and
    ``complete`` never do; the others do when the order is at a provider that has the verb."""
    cls = registry.get(order.provider)
    if name == "place":
        return True
    if name == "cancel":
        return not (order.state in (S.DRAFT, S.FAILED) and not order.external_id)
    if name in ("hold", "release"):
        return _provider_verb(order, f"{name}_order") is not None
    if name == "ship":
        return bool(cls is not None and cls.supports("push_shipment"))
    if name == "accept_shortfall":
        summary = order_shortfall_summary(order=order)
        return bool(summary is not None and summary.nothing_taken
                    and order_transition_calls_provider(order=order, name="cancel"))
    return False


def order_transition_check(
    *, order: Order, name: str, actor: Actor = None, payload: Mapping[str, Any] | None = None
) -> None:
    """What can be checked before queuing transition ``name`` (no provider call): the
    permission, that the transition is allowed now, and its payload. Raises
    ``OrderActionRefused`` / ``OrderValidationError`` with the reason."""
    require_permission(actor)
    allowed = order_transitions_available(order=order, user=actor)
    if name not in allowed:
        raise OrderActionRefused(labels.not_possible(name, order.state), allowed=allowed,
                                 code="not_allowed")
    if name == "ship":
        data = payload or {}
        order_shipment_check(order=order, tracking_number=str(data.get("tracking_number", "")),
                             items=data.get("items"))
    if name == "accept_shortfall" and order_shortfall_summary(order=order) is None:
        raise OrderActionRefused("This order has no shortfall waiting for a decision.",
                                 code="not_allowed")

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


