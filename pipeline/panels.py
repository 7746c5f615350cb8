"""The pipeline on the order page: a sale shows its supplier orders and where it stands; a
supplier order links back to the sale it fulfils."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from orders.models import Order

from .models import SalesRouting, SupplierLink


def order_pipeline_panel(order: Order) -> SafeString | None:
    links = list(SupplierLink.objects.filter(sales_item__order=order).select_related(
        "sales_item", "supplier_item__order", "offer").order_by("pk"))
    routing = SalesRouting.objects.filter(order=order).first()
    fulfils = (SupplierLink.objects.filter(supplier_item__order=order, active=True)
               .select_related("sales_item__order", "supplier_item").order_by("pk"))
    fulfils_list = list(fulfils)
    if not (links or routing or fulfils_list):
        return None
    return SafeString(render_to_string("admin/pipeline/order_panel.html", {
        "routing": routing, "links": links, "fulfils": fulfils_list,
        "sale": fulfils_list[0].sales_item.order if fulfils_list else None,
    }))
