"""Reads of the pipeline: which offers fit an item, who fulfils what, what waits."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet

from merchants.models import ProviderAccount
from orders.models import Order, OrderItem

from .models import RoutingPolicy, SalesRouting, SupplierLink, SupplierOffer

IN_USE_KEY = "pipeline:in-use:v1"


def pipeline_in_use() -> bool:
    """Whether any supplier link exists (cached): the hot paths (a sync moving thousands of
    orders) skip the pipeline's checks entirely when it is not used."""
    in_use = cache.get(IN_USE_KEY)
    if in_use is None:
        in_use = SupplierLink.objects.exists()
        cache.set(IN_USE_KEY, in_use, 60)
    return bool(in_use)


def pipeline_in_use_mark() -> None:
    cache.set(IN_USE_KEY, True, 60)


def routing_policy(account: ProviderAccount) -> RoutingPolicy | None:
    return RoutingPolicy.objects.filter(account=account, enabled=True).first()


def offers_by_item(items: list[OrderItem], account: ProviderAccount,
                   exclude: dict[int, set[int]] | None = None) -> dict[int, list[SupplierOffer]]:
    """Active offers for each item, best first: product and SKU, then SKU alone, then the
    whole product; then by priority. An offer's empty product id or SKU matches any.
    ``exclude`` maps item pk → offer pks already tried (and released)."""
    product_ids = {i.product_id for i in items if i.product_id}
    skus = {i.sku for i in items if i.sku}
    offers = list(
        SupplierOffer.objects.filter(is_active=True)
        .filter(Q(sales_product_id__in=product_ids) | Q(sales_sku__in=skus))
        .filter(Q(sales_account__isnull=True) | Q(sales_account=account))
        .select_related("supplier__account").order_by("priority", "pk")
    )
    found: dict[int, list[SupplierOffer]] = {}
    for item in items:
        tried = (exclude or {}).get(item.pk, set())
        fitting = [o for o in offers if o.pk not in tried
                   and (not o.sales_product_id or o.sales_product_id == item.product_id)
                   and (not o.sales_sku or o.sales_sku == item.sku)]
        found[item.pk] = sorted(fitting, key=lambda o: (not o.sales_sku, not o.sales_product_id,
                                                        o.priority, o.pk))
    return found


def tried_offers(items: list[OrderItem]) -> dict[int, set[int]]:
    tried: dict[int, set[int]] = defaultdict(set)
    for sales_item_id, offer_id in SupplierLink.objects.filter(
        sales_item__in=items, active=False, offer__isnull=False
    ).values_list("sales_item_id", "offer_id"):
        tried[sales_item_id].add(offer_id)
    return tried


def supplier_orders_of(order: Order) -> list[Order]:
    """The supplier orders that fulfil a sales order's items (active links)."""
    return list(Order.objects.filter(
        items__fulfils__sales_item__order=order, items__fulfils__active=True
    ).select_related("merchant__account").distinct().order_by("pk"))


def sales_order_of(order: Order) -> Order | None:
    link = (SupplierLink.objects.filter(supplier_item__order=order)
            .select_related("sales_item__order").first())
    return link.sales_item.order if link else None


WAITING_PLACEMENT_STATES = ("draft", "failed")


def routings_waiting(kind: str) -> QuerySet[SalesRouting]:
    """Routed sales orders waiting for their supplier orders to be placed ("placement": one
    is still a draft or failed), or for the suppliers' tracking ("tracking": all placed)."""
    routed = SalesRouting.objects.filter(status=SalesRouting.Status.ROUTED)
    placing = SupplierLink.objects.filter(
        active=True, supplier_item__order__state__in=WAITING_PLACEMENT_STATES).values("sales_item__order_id")
    if kind == "placement":
        return routed.filter(order_id__in=placing)
    return routed.exclude(order_id__in=placing)


# The dashboard's pipeline figures: (key, label, list filter) — each count is its list's length.
PIPELINE_CARDS = (
    ("needs_mapping", "Waiting for a mapping", "status=needs_mapping"),
    ("approval", "Waiting for approval", "status__in=held,proposed"),
    ("placement", "Waiting for supplier placement", "waiting=placement"),
    ("tracking", "Waiting for tracking", "waiting=tracking"),
    ("problem", "Supplier problem", "status=problem"),
)


def pipeline_counts() -> dict[str, int]:
    """The dashboard's pipeline figures: a few aggregate queries, whatever the number of orders."""
    by_status: dict[str, Any] = dict(
        SalesRouting.objects.order_by().values_list("status").annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    counts = {status: by_status.get(status, 0) for status in SalesRouting.Status.values}
    counts["approval"] = counts["held"] + counts["proposed"]
    counts["placement"] = routings_waiting("placement").count()
    counts["tracking"] = routings_waiting("tracking").count()
    return counts
