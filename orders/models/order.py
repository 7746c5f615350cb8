"""The order: its state machine and the transition conditions read from the provider's status table."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, transition

from core.models import FSMConcurrencyMixin
from merchants.models import Merchant
from orders.lifecycle import ItemLifecycle, Lifecycle
from providers import registry
from providers.statuses import StatusTable

from ..validators import (
    CodeField,
    code_checks,
    money_checks,
    non_negative,
    validate_country_code,
    validate_currency_code,
)

S = Lifecycle
I = ItemLifecycle  # noqa: E741
_EMPTY_TABLE = StatusTable(provider="")
TRANSITION_PERMISSION = "orders.run_order_transitions"



def new_reference() -> str:
    return "DD-" + timezone.now().strftime("%y%m%d") + "-" + secrets.token_hex(3).upper()


def status_table_for(provider_key: str) -> StatusTable:
    cls = registry.get(provider_key)
    return cls.statuses if cls is not None else _EMPTY_TABLE


# --- transition conditions (they read the provider's status table) -----------------------
def _provider_allows(action: str, target: str | None = None) -> Callable[[Any], bool]:
    def condition(order: Order) -> bool:
        return order.status_table.order_allows(action, raw_status=order.raw_status, target=target)

    condition.__name__ = f"provider_allows_{action}"
    return condition


def _cancel_allowed(order: Any) -> bool:
    if order.state in (S.DRAFT, S.FAILED) and not order.external_id:
        return True  # never reached the provider: a local cancel
    return order.status_table.order_allows("cancel", raw_status=order.raw_status, target=S.CANCELLED)


def _open_shortfall(order: Any) -> bool:
    return bool(order.has_open_shortfall)



class Order(FSMConcurrencyMixin, models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="orders")
    reference = models.CharField(max_length=64, unique=True, default=new_reference)
    external_id = models.CharField(
        max_length=120, blank=True, db_index=True, help_text="The provider's (first) order id."
    )
    external_ids = models.JSONField(default=list, blank=True)
    state = FSMField(default=S.DRAFT, choices=Lifecycle.CHOICES, protected=True, db_index=True)
    raw_status = models.CharField(max_length=120, blank=True, help_text="As the provider says.")
    failure_reason = models.TextField(blank=True)

    # shipping address
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    phone_prefix = models.CharField(max_length=8, blank=True)
    phone_number = models.CharField(max_length=32, blank=True)
    address_line1 = models.CharField(max_length=255, blank=True)
    address_line2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=120, blank=True)
    region = models.CharField(max_length=120, blank=True)
    postal_code = models.CharField(max_length=32, blank=True)
    country = CodeField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2",
                        validators=[validate_country_code])

    currency = CodeField(max_length=3, default="EUR", help_text="ISO 4217",
                         validators=[validate_currency_code])
    items_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"),
                                      validators=[non_negative])
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"),
                                         validators=[non_negative])
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"),
                                validators=[non_negative])

    # per-order choices the provider needs (carrier id, autoConfirm, locale, AccountId, …)
    provider_options = models.JSONField(default=dict, blank=True)
    raw_data = models.JSONField(default=dict, blank=True)

    ordered_at = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [(TRANSITION_PERMISSION.split(".")[1], "Can run order transitions")]
        indexes = [
            models.Index(fields=["state", "-created_at"], name="order_state_created"),
            models.Index(fields=["merchant", "state"], name="order_merchant_state"),
            # the list's default order (admin changelist, API): no sort of the whole table
            models.Index(fields=["-created_at", "-id"], name="order_created_id"),
            # the admin's tab counts seek, not scan the open states (orders.selectors)
            models.Index(fields=["state", "placed_at"], name="order_state_placed"),
            models.Index(fields=["state", "raw_status"], name="order_state_raw_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"],
                condition=~models.Q(external_id=""),
                name="uniq_order_external_id_per_merchant",
            ),
            *money_checks("order", "items_total", "shipping_total", "total"),
            *code_checks(),
        ]

    def __str__(self) -> str:
        return self.reference

    # --- derived -------------------------------------------------------------------------
    @property
    def provider(self) -> str:
        return self.merchant.account.provider

    @property
    def status_table(self) -> StatusTable:
        return status_table_for(self.provider)

    @property
    def raw_status_label(self) -> str:
        return self.status_table.order_label(self.raw_status)

    @property
    def is_editable(self) -> bool:
        return self.state == S.DRAFT

    @property
    def supplier_cost(self) -> dict[str, Any]:
        """What the supplier charges for this order, in the supplier's currency (as its
        provider reported it; e.g. AliExpress via Aliseeks) — separate from the order's own
        amounts (``currency``/``items_total``/``shipping_total``/``total``)."""
        cost = (self.raw_data or {}).get("supplier_cost")
        return cost if isinstance(cost, dict) else {}

    # --- transitions ---------------------------------------------------------------------
    @transition(
        field=state,
        source=[S.DRAFT, S.FAILED],
        target=S.PLACING,
        conditions=[_provider_allows("place")],
        permission=TRANSITION_PERMISSION,
        custom={"label": "Place with provider", "admin": True, "long": True},
    )
    def place(self) -> None:
        self.failure_reason = ""

    @transition(field=state, source=S.PLACING, target=S.PLACED, custom={"admin": False})
    def placement_succeeded(self) -> None:
        self.failure_reason = ""
        self.placed_at = timezone.now()

    @transition(field=state, source=S.PLACING, target=S.FAILED, custom={"admin": False})
    def placement_failed(self, *, reason: str) -> None:
        self.failure_reason = reason

    @transition(field=state, source=S.PLACING, target=S.PLACEMENT_UNKNOWN, custom={"admin": False})
    def placement_outcome_unknown(self, *, reason: str) -> None:
        self.failure_reason = reason

    @transition(
        field=state,
        source=S.PLACEMENT_UNKNOWN,
        target=RETURN_VALUE(S.PLACED, S.DRAFT),
        permission=TRANSITION_PERMISSION,
        custom={
            "label": "Reconcile placement",
            "admin": True,
            "form": "orders.forms.ReconcileForm",
            "help_text": "Enter the provider's order id if it was placed, or confirm it was not.",
        },
    )
    def reconcile(self, *, placed: bool, external_id: str = "") -> str:
        if placed:
            if external_id:
                self.external_id = external_id
                self.external_ids = [external_id]
            self.placed_at = self.placed_at or timezone.now()
            self.failure_reason = ""
            return S.PLACED
        self.failure_reason = ""
        return S.DRAFT

    @transition(
        field=state,
        source=S.FAILED,
        target=S.DRAFT,
        permission=TRANSITION_PERMISSION,
        custom={"label": "Back to draft (to correct)", "admin": True},
    )
    def reopen(self) -> None:
        pass

    @transition(
        field=state,
        source=[S.PLACED, S.IN_PROGRESS, S.PARTIALLY_SHIPPED],
        target=S.ON_HOLD,
        conditions=[_provider_allows("hold", S.ON_HOLD)],
        permission=TRANSITION_PERMISSION,
        custom={"label": "Put on hold", "admin": True},
    )
    def hold(self) -> None:
        pass

    @transition(
        field=state,
        source=S.ON_HOLD,
        target=S.IN_PROGRESS,
        conditions=[_provider_allows("release")],
        permission=TRANSITION_PERMISSION,
        custom={"label": "Release hold", "admin": True},
    )
    def release(self) -> None:
        pass

    @transition(
        field=state,
        source=[S.PLACED, S.IN_PROGRESS, S.PARTIALLY_SHIPPED],
        target=RETURN_VALUE(S.PARTIALLY_SHIPPED, S.SHIPPED),
        conditions=[_provider_allows("ship")],
        permission=TRANSITION_PERMISSION,
        custom={
            "label": "Ship (add tracking)",
            "admin": True,
            "form": "orders.forms.ShipForm",
        },
    )
    def ship(self, *, complete: bool) -> str:
        return S.SHIPPED if complete else S.PARTIALLY_SHIPPED

    @transition(
        field=state,
        source=S.SHIPPED,
        target=S.COMPLETED,
        conditions=[_provider_allows("complete")],
        permission=TRANSITION_PERMISSION,
        custom={"label": "Mark completed", "admin": True},
    )
    def complete(self) -> None:
        pass

    @transition(
        field=state,
        source=[S.DRAFT, S.FAILED, S.PLACED, S.IN_PROGRESS, S.ON_HOLD],
        target=S.CANCELLED,
        conditions=[_cancel_allowed],
        permission=TRANSITION_PERMISSION,
        custom={"label": "Cancel", "admin": True, "form": "orders.forms.CancelForm"},
    )
    def cancel(self, *, reason: str = "") -> None:
        if reason:
            self.failure_reason = reason

    @transition(field=state, source=S.DRAFT, target=S.EXPIRED, custom={"admin": False})
    def expire(self) -> None:
        pass

    @transition(field=state, source="*", target=RETURN_VALUE(*Lifecycle.ALL),
                custom={"admin": False})
    def sync_state(self, *, target: str) -> str:
        """Apply the state the provider reports (mapped through its status table)."""
        return target

    # --- shortfall decision (a provider took or held less than asked) ---
    @property
    def has_open_shortfall(self) -> bool:
        if (self.raw_data or {}).get("shortfall", {}).get("accepted_at"):
            return False
        return any(item.shortfall for item in self.items.all())

    @transition(
        field=state,
        source=[S.FAILED, S.PLACED, S.IN_PROGRESS, S.ON_HOLD, S.PARTIALLY_SHIPPED, S.SHIPPED],
        target=RETURN_VALUE(S.DRAFT, S.PLACED, S.IN_PROGRESS, S.ON_HOLD, S.PARTIALLY_SHIPPED,
                            S.SHIPPED),
        conditions=[_open_shortfall],  # type: ignore[list-item]
        permission=TRANSITION_PERMISSION,
        custom={"label": "Accept shortfall (partial quantities)", "admin": True},
    )
    def accept_shortfall(self) -> str:
        """Not sent yet (reservation shortfall): back to draft; else: stay where it is."""
        if self.state == S.FAILED and not self.external_id:
            self.failure_reason = ""
            return S.DRAFT
        return self.state

