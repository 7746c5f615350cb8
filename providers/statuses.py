"""The status table format every provider declares in ``providers/<key>/statuses.py``.

One table per provider is the single source of truth for:

* the provider's raw order statuses, their labels, the canonical lifecycle state each maps to,
  and which raw statuses may follow (drawn as the provider's graph in the admin);
* which order actions (model transitions that touch the provider or are meaningful for it)
  the provider supports at all;
* the item status codes, their canonical item state and allowed next codes (used when the
  provider does not send per-item ``nextStatuses`` itself).

Model transition ``conditions`` ask the table (``order_allows`` / ``item_allows``), so the
admin shows only the buttons the provider would accept and the API lists the same.

Per raw order status a row states the order actions allowed there (``RawStatus.actions``):
``place`` (checkout), ``sync``, ``hold``, ``release``, ``ship``, ``complete``, ``cancel``,
``execution_poll``. ``initial_actions`` apply before the order has any raw status (it never
reached the provider), ``unknown_actions`` at a raw status the table does not know (by default
only ``sync``: the operator has to look — see ``needs_action``). ``None`` anywhere means "the
provider publishes no rule": only the provider-wide ``order_actions`` decide, and the graph
says so. Unknown raw values are data, never a crash: they map to ``unknown_state``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from orders.lifecycle import Action

NOT_PUBLISHED = None  # a rule the provider does not publish (readability in the tables)


@dataclass(frozen=True)
class RawStatus:
    code: str
    label: str
    state: str  # canonical Lifecycle / ItemLifecycle value
    next: tuple[str, ...] | None = None  # None: the provider publishes no rule
    final: bool = False
    awaiting_payment: bool = False  # placed, but the provider waits for the buyer's payment
    # Order actions allowed at this raw status; None: not published (order_actions decide).
    actions: frozenset[str] | None = None
    description: str = ""  # the provider's own words for the status, when it gives any


@dataclass(frozen=True)
class StatusTable:
    provider: str
    order_statuses: Mapping[str, RawStatus] = field(default_factory=dict)
    # Order actions (model transition names) this provider supports at all.
    order_actions: frozenset[str] = frozenset()
    item_statuses: Mapping[str, RawStatus] = field(default_factory=dict)
    # Canonical state for a raw status the table does not know; None: the order stays in the
    # state it is in (the raw value is shown, and ``needs_action`` flags it).
    unknown_state: str | None = None
    # Actions before the order has a raw status (it never reached the provider).
    initial_actions: frozenset[str] | None = frozenset({Action.PLACE})
    # Actions at a raw status not in the table; None: order statuses are not published at
    # all (e.g. Tipser: items decide), so an unknown value restricts nothing.
    unknown_actions: frozenset[str] | None = frozenset({Action.SYNC})

    # --- order level ---------------------------------------------------------------------
    def order_state_for(self, raw: object) -> str | None:
        status = self.order_statuses.get(str(raw)) if raw not in (None, "") else None
        return status.state if status else self.unknown_state

    def order_label(self, raw: object) -> str:
        status = self.order_statuses.get(str(raw))
        if status:
            return status.label
        if raw in (None, ""):
            return ""
        if not self.order_statuses:  # the provider publishes no order-level names
            return f"{raw} (order status names not published)"
        return f"{raw} (undocumented)"

    def actions_at(self, raw_status: object) -> frozenset[str] | None:
        """Order actions the table allows at ``raw_status``; None: no rule published."""
        if raw_status in (None, ""):
            return self.initial_actions
        current = self.order_statuses.get(str(raw_status))
        if current is None:
            return self.unknown_actions
        return current.actions

    def order_allows(self, action: str, *, raw_status: str = "", target: str | None = None) -> bool:
        """May ``action`` run now, by the provider's table?

        The provider must support the action at all (``order_actions``), and the row of the
        order's current raw status (``initial_actions`` before it has one, ``unknown_actions``
        for a value the table does not know) must allow it, unless that row publishes no rule.
        ``target`` is accepted for the callers' readability; the rows decide.
        """
        if action not in self.order_actions:
            return False
        allowed = self.actions_at(raw_status)
        return allowed is None or action in allowed

    def is_known(self, raw: object) -> bool:
        return raw in (None, "") or str(raw) in self.order_statuses

    def needs_action(self, raw: object) -> bool:
        """A raw status the table does not know, where the table does know statuses: the
        order is shown under "Needs action" with the raw value, never silently normal."""
        return self.unknown_actions is not None and not self.is_known(raw)

    def known_codes(self) -> list[str]:
        """Every stored raw value the table knows (the "Needs action" filter excludes them)."""
        return list(self.order_statuses)

    def awaiting_payment_codes(self) -> list[str]:
        """Raw order statuses meaning "placed, waiting for payment" (admin quick filter)."""
        return [code for code, st in self.order_statuses.items() if st.awaiting_payment]

    # --- item level ----------------------------------------------------------------------
    def item_code_for(self, state: str) -> str | None:
        for code, status in self.item_statuses.items():
            if status.state == state:
                return code
        return None

    def item_label(self, raw: object) -> str:
        """The documented name with the raw code beside it: ``"Shipped (2)"``."""
        if raw in (None, ""):
            return ""
        status = self.item_statuses.get(str(raw))
        return f"{status.label} ({raw})" if status else f"unknown ({raw})"

    def item_labels(self, codes: Iterable[object] | None) -> list[str]:
        return [self.item_label(c) for c in (codes or [])]

    def item_state_for(self, raw: object) -> str | None:
        status = self.item_statuses.get(str(raw))
        return status.state if status else None

    def item_allows(
        self, target: str, *, raw_status: str = "", next_statuses: Iterable[object] | None = None
    ) -> bool:
        """May an item move to canonical ``target``?

        The provider's own per-item ``next_statuses`` (as last received) win; without them
        the table's ``next`` for the item's raw status decides.
        """
        code = self.item_code_for(target)
        if code is None:
            return False
        if next_statuses is not None:
            return code in {str(c) for c in next_statuses}
        current = self.item_statuses.get(str(raw_status))
        if current is None or current.next is None:
            return False
        return code in current.next

    # --- drawing -------------------------------------------------------------------------
    def edges(self, *, items: bool = False) -> list[tuple[str, str]]:
        table = self.item_statuses if items else self.order_statuses
        return [(code, nxt) for code, st in table.items() for nxt in (st.next or ())]
