"""Supplier offers (which supplier sells what a sales channel sold), the routing state of each
sales order, the links between a sales item and the supplier item that fulfils it, and the
tracking pushed back for each supplier shipment."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from merchants.models import Merchant, ProviderAccount
from orders.models import Order, OrderItem, Shipment
from orders.validators import validate_currency_code


class RouteMode(models.TextChoices):
    AUTO = "auto", "Route automatically"
    PROPOSE = "propose", "Only propose (an operator routes)"


class PlaceMode(models.TextChoices):
    AUTO = "auto", "Place automatically"
    MANUAL = "manual", "Wait for an operator to place"


class RoutingPolicy(models.Model):
    """How a sales-channel account's orders are routed to suppliers."""

    account = models.OneToOneField(ProviderAccount, on_delete=models.CASCADE, related_name="routing_policy")
    enabled = models.BooleanField(default=True, help_text="Route this account's orders to suppliers.")
    route_mode = models.CharField(max_length=10, choices=RouteMode.choices, default=RouteMode.AUTO)
    place_mode = models.CharField(max_length=10, choices=PlaceMode.choices, default=PlaceMode.AUTO)
    max_cost_share = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("0.80"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("5"))],
        help_text="Hold for approval when the supplier cost is above this share of the sale price.",
    )

    class Meta:
        verbose_name_plural = "routing policies"

    def __str__(self) -> str:
        return f"Routing of {self.account}"


class SupplierOffer(models.Model):
    """A sales-channel product (or one SKU of it) bought from a supplier merchant."""

    sales_account = models.ForeignKey(
        ProviderAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text="The sales channel account this offer applies to; empty: every one.",
    )
    sales_product_id = models.CharField(
        "sales product id", max_length=120, blank=True, db_index=True,
        help_text="The sales channel's product id; empty: match on the SKU alone.",
    )
    sales_sku = models.CharField(
        "sales SKU", max_length=120, blank=True, db_index=True,
        help_text="Only this SKU / variant; empty: every SKU of the product.",
    )
    supplier = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="supplier_offers",
        help_text="The supplier merchant (its provider account places the order).",
    )
    supplier_product_id = models.CharField(max_length=120, blank=True)
    supplier_sku = models.CharField(
        "supplier SKU", max_length=120, blank=True,
        help_text="Brandsdistribution: the stock id; reseller: the product SKU.",
    )
    supplier_variant = models.JSONField(
        default=dict, blank=True, help_text="Aliseeks: SKU properties, e.g. {\"sku\": \"14:29#red\"}.",
    )
    expected_cost = models.DecimalField(max_digits=12, decimal_places=2,
                                        validators=[MinValueValidator(Decimal("0"))])
    cost_currency = models.CharField(max_length=3, default="EUR", validators=[validate_currency_code],
                                     help_text="ISO 4217")
    priority = models.PositiveSmallIntegerField(default=1, help_text="1 = first choice; higher = fallback.")
    route_mode = models.CharField(max_length=10, choices=RouteMode.choices, blank=True,
                                  help_text="Empty: the account's routing policy.")
    place_mode = models.CharField(max_length=10, choices=PlaceMode.choices, blank=True,
                                  help_text="Empty: the account's routing policy.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sales_product_id", "sales_sku", "priority", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["sales_product_id", "sales_sku", "supplier", "priority"],
                                    name="offer_unique_choice"),
            models.CheckConstraint(condition=models.Q(expected_cost__gte=0), name="offer_cost_not_negative"),
            models.CheckConstraint(condition=~models.Q(sales_product_id="", sales_sku=""),
                                   name="offer_names_a_product_or_sku"),
        ]

    def __str__(self) -> str:
        what = " / ".join(v for v in (self.sales_product_id, self.sales_sku) if v)
        return f"{what} → {self.supplier} (#{self.priority})"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if not (self.sales_product_id or self.sales_sku):
            raise ValidationError({"sales_product_id": "Give the sales product id, the sales SKU, or both."})


class SalesRouting(models.Model):
    """Where a sales order stands in the pipeline (its own lifecycle stays the order's)."""

    class Status(models.TextChoices):
        NEEDS_MAPPING = "needs_mapping", "Needs mapping"
        HELD = "held", "Held for approval"
        PROPOSED = "proposed", "Proposed (route it)"
        ROUTED = "routed", "Routed to suppliers"
        TRACKING = "tracking", "Shipped (tracking sent)"
        PROBLEM = "problem", "Supplier problem"

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="routing")
    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    reason = models.TextField(blank=True)
    approved_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.order}: {self.get_status_display()}"


class SupplierLink(models.Model):
    """One sales item fulfilled by one supplier item. A link whose supplier order was cancelled
    is released (``active`` off) and kept, so the next routing skips that offer."""

    sales_item = models.ForeignKey(OrderItem, on_delete=models.CASCADE, related_name="supplier_links")
    supplier_item = models.OneToOneField(OrderItem, on_delete=models.CASCADE, related_name="fulfils")
    offer = models.ForeignKey(SupplierOffer, null=True, on_delete=models.SET_NULL, related_name="+")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sales_item"], condition=models.Q(active=True),
                                    name="one_active_supplier_link"),
        ]

    def __str__(self) -> str:
        return f"{self.sales_item} ← {self.supplier_item}"


class TrackingPush(models.Model):
    """A supplier shipment's tracking sent to the sales channel: claimed (one row per supplier
    shipment, committed before the call) so it is never pushed twice."""

    class State(models.TextChoices):
        CLAIMED = "claimed", "Sending"
        PUSHED = "pushed", "Sent"
        FAILED = "failed", "Failed"

    supplier_shipment = models.OneToOneField(Shipment, on_delete=models.CASCADE, related_name="tracking_push")
    sales_order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tracking_pushes")
    sales_shipment = models.ForeignKey(Shipment, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLAIMED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.supplier_shipment} → {self.sales_order} ({self.state})"
