"""Operator words for states, actions and provider codes — the one table of each.

Screens, messages and timeline entries say "Placed", "Accept shortfall", "Shipped (2)", never
``placed``, ``accept_shortfall`` or a bare ``2``. State names come from the lifecycle's
choices, action names from the model transitions' ``label`` (what the buttons say), provider
codes from the provider's status table (the code shown only beside its documented name).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from orders.lifecycle import ItemLifecycle, Lifecycle
from providers.statuses import StatusTable

from .models import Order

STATE_LABELS: dict[str, str] = dict(Lifecycle.CHOICES)
ITEM_STATE_LABELS: dict[str, str] = dict(ItemLifecycle.CHOICES)

# Actions with no button (system transitions) or whose button label is too long for a message.
_ACTION_WORDS: dict[str, str] = {
    "place": "Place with provider",
    "placement_succeeded": "Placement confirmed",
    "placement_failed": "Placement failed",
    "placement_outcome_unknown": "Placement outcome unknown",
    "reconcile": "Record what the provider did",
    "accept_shortfall": "Accept shortfall",
    "sync_state": "Provider update",
    "expire": "Draft expired",
    "mark_shipped": "Mark shipped",
    "acknowledge": "Acknowledge",
    "sync": "Sync now",
}


@cache
def _button_labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for transition in Order._meta.get_field("state").get_all_transitions(Order):  # type: ignore[attr-defined]
        label = transition.custom.get("label")
        if label:
            labels.setdefault(transition.name, str(label))
    return labels


def state_label(state: str | None) -> str:
    if not state:
        return "—"
    return STATE_LABELS.get(state) or ITEM_STATE_LABELS.get(state) or state.replace("_", " ").capitalize()


def action_label(name: str) -> str:
    return _ACTION_WORDS.get(name) or _button_labels().get(name) or name.replace("_", " ").capitalize()


def moved(before: str, after: str, action: str = "") -> str:
    """Timeline wording of a state change: "Draft → Placed (Place with provider)"."""
    text = f"{state_label(before)} → {state_label(after)}"
    return f"{text} ({action_label(action)})" if action else text


def not_possible(action: str, state: str) -> str:
    return f"“{action_label(action)}” is not possible while the order is {state_label(state)}."


def provider_code(table: StatusTable, raw: object, *, items: bool = False) -> str:
    """A provider code with its documented name: "Shipped (2)"; a code the provider does not
    document: "5 (undocumented)"."""
    if raw in (None, ""):
        return ""
    statuses = table.item_statuses if items else table.order_statuses
    status = statuses.get(str(raw))
    if status is not None:
        return f"{status.label} ({raw})"
    return f"{raw} (undocumented)"


def provider_codes(table: StatusTable, codes: Iterable[object] | None, *, items: bool = True) -> str:
    if codes is None:
        return "—"
    named = [provider_code(table, c, items=items) for c in codes]
    return ", ".join(named) if named else "none"


def order_provider_status(order: Order) -> str:
    """What the provider says about the order, by name. Providers that publish no order-level
    statuses (Tipser) are described by their items' statuses: "2× New (0), 1× Shipped (2)"."""
    table = order.status_table
    if table.order_statuses or not table.item_statuses:
        return provider_code(table, order.raw_status) or "—"
    counts: dict[str, int] = {}
    for item in order.items.all():
        if item.raw_status != "":
            counts[item.raw_status] = counts.get(item.raw_status, 0) + 1
    if not counts:
        return provider_code(table, order.raw_status) or "—"
    return ", ".join(f"{n}× {provider_code(table, code, items=True)}" for code, n in sorted(counts.items()))
