"""Our orders, items and shipments as the plain requests a provider is handed.

The one place the domain's models become ``providers.types`` requests: providers read these
frozen copies and return plain results; they never see or write our models. JSON fields are
deep-copied, so nothing a provider does to a request reaches the model.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING

from merchants.provider_requests import merchant_ref, provider_service
from providers.types import ItemRequest, OrderRequest, ShipmentLineRequest, ShipmentRequest

from .timeline import CallRecorder

if TYPE_CHECKING:
    from providers.base import ProviderService
    from providers.http import Recorder

    from .models import Order, OrderItem, Shipment


def item_request(item: OrderItem) -> ItemRequest:
    nxt = item.next_statuses
    return ItemRequest(
        pk=item.pk,
        external_id=item.external_id or "",
        product_id=item.product_id or "",
        sku=item.sku or "",
        name=item.name or "",
        variant=copy.deepcopy(item.variant),
        quantity=int(item.quantity or 0),
        unit_price=item.unit_price,
        total_price=item.total_price,
        state=item.state,
        raw_status=item.raw_status or "",
        next_statuses=None if nxt is None else tuple(str(c) for c in nxt),
    )


def item_requests(items: Iterable[OrderItem]) -> list[ItemRequest]:
    return [item_request(i) for i in items]


def order_request(order: Order) -> OrderRequest:
    return OrderRequest(
        pk=order.pk,
        reference=order.reference,
        merchant=merchant_ref(order.merchant),
        items=tuple(item_request(i) for i in order.items.all()),
        external_id=order.external_id or "",
        external_ids=tuple(str(i) for i in (order.external_ids or [])),
        state=order.state,
        raw_status=order.raw_status or "",
        contact_name=order.contact_name or "",
        contact_email=order.contact_email or "",
        phone_prefix=order.phone_prefix or "",
        phone_number=order.phone_number or "",
        address_line1=order.address_line1 or "",
        address_line2=order.address_line2 or "",
        city=order.city or "",
        region=order.region or "",
        postal_code=order.postal_code or "",
        country=order.country or "",
        currency=order.currency or "",
        items_total=order.items_total,
        shipping_total=order.shipping_total,
        total=order.total,
        provider_options=copy.deepcopy(order.provider_options),
        raw_data=copy.deepcopy(order.raw_data),
        ordered_at=order.ordered_at,
        created_at=order.created_at,
    )


def shipment_request(shipment: Shipment) -> ShipmentRequest:
    return ShipmentRequest(
        pk=shipment.pk,
        order=order_request(shipment.order),
        lines=tuple(ShipmentLineRequest(item=item_request(line.item), quantity=line.quantity)
                    for line in shipment.lines.select_related("item")),
        external_id=shipment.external_id or "",
        carrier=shipment.carrier or "",
        service=shipment.service or "",
        tracking_number=shipment.tracking_number or "",
        tracking_url=shipment.tracking_url or "",
        comment=shipment.comment or "",
        notify_customer=bool(shipment.notify_customer),
    )


def order_service(order: Order, *, recorder: Recorder | None = None) -> ProviderService:
    """The provider service of the order's account."""
    return provider_service(order.merchant.account, recorder=recorder)


def order_service_recorded(order: Order) -> ProviderService:
    """The order's provider service, every call it makes recorded on the order's timeline
    (``orders.timeline.CallRecorder``): what the services use for an order's provider work."""
    return order_service(order, recorder=CallRecorder(order))
