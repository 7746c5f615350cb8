"""Applying what a provider reports (``OrderSnapshot``) to our rows.

``apply_to_order`` refreshes one order (a "sync now"). ``upsert_page`` writes a whole page
of incoming orders with a fixed number of queries, whatever the page size: one read of the
existing orders, items and shipments, then bulk inserts and bulk updates.

Local work is never lost: fields only the operator sets (notes, provider options, shipments
we created) are not touched, and state moves only through the ``sync_state`` transition.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from config.gcpause import gc_paused
from merchants.models import Merchant, ProviderAccount
from providers.statuses import StatusTable
from providers.types import AddressData, ItemSnapshot, OrderSnapshot, ShipmentSnapshot

from . import validators
from .labels import moved as moved_words
from .models import Order, OrderEvent, OrderItem, Shipment, new_reference, status_table_for
from .signals import rows_created, rows_updated

ORDER_SYNC_FIELDS = [
    "external_ids", "raw_status", "currency", "total", "shipping_total", "items_total",
    "contact_name", "contact_email", "phone_prefix", "phone_number", "address_line1",
    "address_line2", "city", "region", "postal_code", "country", "ordered_at", "expires_at",
    "raw_data", "synced_at", "state",
]
ITEM_SYNC_FIELDS = [
    "product_id", "sku", "name", "variant", "quantity", "confirmed_quantity", "unit_price",
    "total_price", "tax_amount", "merchant_price", "raw_status", "next_statuses", "raw_data",
    "state",
]
SHIPMENT_SYNC_FIELDS = ["carrier", "tracking_number", "tracking_url", "raw_data", "state",
                        "shipped_at", "delivered_at", "service"]


def _address_values(address: AddressData | None) -> dict[str, Any]:
    if address is None:
        return {}
    return {
        "contact_name": address.contact_name[:200],
        "contact_email": address.email[:254],
        "phone_prefix": address.phone_prefix[:8],
        "phone_number": address.phone_number[:32],
        "address_line1": address.line1[:255],
        "address_line2": address.line2[:255],
        "city": address.city[:120],
        "region": address.region[:120],
        "postal_code": address.postal_code[:32],
        "country": validators.clean_country(address.country),
    }


def _order_values(snap: OrderSnapshot) -> dict[str, Any]:
    values: dict[str, Any] = {
        "external_ids": snap.external_ids or [snap.external_id],
        "raw_status": str(snap.raw_status)[:120],
        "raw_data": snap.raw,
        **_address_values(snap.address),
    }
    # a provider's odd value (negative amount, unknown code) stays in raw_data only
    if validators.clean_currency(snap.currency):
        values["currency"] = validators.clean_currency(snap.currency)
    if validators.clean_money(snap.total) is not None:
        values["total"] = snap.total
    if validators.clean_money(snap.shipping_total) is not None:
        values["shipping_total"] = snap.shipping_total
    if snap.ordered_at is not None:
        values["ordered_at"] = snap.ordered_at
    if snap.expires_at is not None:
        values["expires_at"] = snap.expires_at
    item_prices = [i.total_price for i in snap.items
                   if validators.clean_money(i.total_price) is not None]
    if item_prices:
        values["items_total"] = sum(item_prices)
    return values


def _item_values(snap: ItemSnapshot) -> dict[str, Any]:
    values: dict[str, Any] = {
        "product_id": snap.product_id[:120],
        "sku": snap.sku[:120],
        "name": snap.name[:255],
        "quantity": max(1, int(snap.quantity or 1)),
        "raw_status": str(snap.raw_status)[:64],
        "next_statuses": [str(s) for s in snap.next_statuses] if snap.next_statuses is not None else None,
        "raw_data": snap.raw,
    }
    if snap.variant is not None:
        values["variant"] = snap.variant
    for name in ("confirmed_quantity", "unit_price", "total_price", "tax_amount", "merchant_price"):
        value = validators.clean_money(getattr(snap, name))
        if value is not None:
            values[name] = value
    return values


def _target_state(table: StatusTable, snap: OrderSnapshot) -> str | None:
    return snap.state or table.order_state_for(snap.raw_status)


def _set(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _sync_state(obj: Order | OrderItem | Shipment, target: str | None) -> bool:
    if target is None or obj.state == target:
        return False
    obj.sync_state(target=target)
    return True


def _shipment_state(snap: ShipmentSnapshot) -> str:
    if snap.delivered:
        return Shipment.State.DELIVERED
    return Shipment.State.SHIPPED if snap.shipped else Shipment.State.PENDING


# --- one order -------------------------------------------------------------------------------
def apply_to_order(order: Order, snap: OrderSnapshot, *, actor: Any = None) -> None:
    table = order.status_table
    before = order.state
    _set(order, _order_values(snap))
    if snap.external_id and not order.external_id:
        order.external_id = snap.external_id
    order.synced_at = timezone.now()
    moved = _sync_state(order, _target_state(table, snap))
    order.save()
    _upsert_items(order, snap.items, table)
    _upsert_shipments(order, snap.shipments)
    OrderEvent.objects.create(
        order=order, kind=OrderEvent.Kind.SYNC, actor=actor,
        from_state=before, to_state=order.state,
        message=(f"Synced: {moved_words(before, order.state)}" if moved else "Synced: no state change")
        + (f" (provider status {table.order_label(snap.raw_status)})" if snap.raw_status != "" else ""),
    )


def _upsert_items(order: Order, snaps: list[ItemSnapshot], table: StatusTable) -> None:
    existing = {i.external_id: i for i in order.items.all() if i.external_id}
    create, update = [], []
    for snap in snaps:
        values = _item_values(snap)
        target = table.item_state_for(snap.raw_status)
        item = existing.get(snap.external_id)
        if item is None:
            item = OrderItem(order=order, external_id=snap.external_id, **values)
            _sync_state(item, target)
            create.append(item)
        elif _set(item, values) | _sync_state(item, target):
            update.append(item)
    OrderItem.objects.bulk_create(create)
    if update:
        OrderItem.objects.bulk_update(update, ITEM_SYNC_FIELDS)


def _upsert_shipments(order: Order, snaps: list[ShipmentSnapshot]) -> None:
    if not snaps:
        return
    existing = {s.external_id or s.tracking_number: s for s in order.shipments.all()}
    create, update = [], []
    for snap in snaps:
        key = snap.external_id or snap.tracking_number
        values = {"carrier": snap.carrier[:120], "tracking_number": snap.tracking_number[:120],
                  "tracking_url": snap.tracking_url[:500], "raw_data": snap.raw}
        if snap.service:
            values["service"] = snap.service[:120]
        shipment = existing.get(key)
        state = _shipment_state(snap)
        if shipment is None:
            shipment = Shipment(order=order, external_id=key[:120], **values)
            _sync_state(shipment, state)
            create.append(shipment)
        else:
            changed = _set(shipment, values)
            if shipment.state != Shipment.State.CANCELLED:
                changed |= _sync_state(shipment, state)
            if changed:
                update.append(shipment)
    Shipment.objects.bulk_create(create)
    rows_created.send(sender=Shipment, instances=create)
    if update:
        Shipment.objects.bulk_update(update, SHIPMENT_SYNC_FIELDS)
        rows_updated.send(sender=Shipment, instances=update)


# --- a page of incoming orders, in bulk ------------------------------------------------------
def _merchant_for(account: ProviderAccount) -> Merchant:
    merchant = account.merchants.order_by("pk").first()
    if merchant is None:
        merchant = Merchant.objects.create(account=account, name=account.name)
    return merchant


def _existing_orders(merchant: Merchant, external_ids: list[str]) -> Any:
    """The merchant's orders with these provider ids, through the partial unique index
    (merchant, external_id) — ``external_id != ""`` is its condition."""
    mine = (Order.objects.filter(merchant=merchant, external_id__in=external_ids)
            .exclude(external_id="").order_by())
    if connection.features.has_select_for_update:
        # locked, in primary-key order (no deadlock with another sync or a placement). Not on
        # SQLite (one writer at a time): there ORDER BY id made it walk all the merchant's
        # orders by the merchant index instead — 7 ms a page at 10,000 orders, growing.
        mine = mine.order_by("pk").select_for_update(of=("self",))
    return mine


def upsert_page(*, account: ProviderAccount, page: Iterable[OrderSnapshot]) -> dict[str, int]:
    """Upsert one page of incoming orders for the account's (first) merchant, in one
    transaction, with the cyclic garbage collector paused (``config.gcpause``: ~1.4× the
    orders per CPU second).

    Queries: a fixed handful per page — existing orders, items, shipments read once each,
    then bulk inserts/updates and one bulk insert of timeline events.
    """
    with gc_paused(), transaction.atomic():
        return _upsert_page(account=account, page=page)


def _upsert_page(*, account: ProviderAccount, page: Iterable[OrderSnapshot]) -> dict[str, int]:
    page = [s for s in page if s.external_id]
    if not page:
        return {"created": 0, "updated": 0, "unchanged": 0}
    merchant = _merchant_for(account)
    merchant.account = account
    table = status_table_for(account.provider)
    now = timezone.now()
    ids = [s.external_id for s in page]
    existing = {o.external_id: o for o in _existing_orders(merchant, ids)}
    new_orders, changed_orders, events = [], [], []
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    by_external: dict[str, Order] = {}
    for snap in page:
        values = _order_values(snap)
        order = existing.get(snap.external_id)
        target = _target_state(table, snap)
        if order is None:
            reference = (f"{account.provider[:3].upper()}-{snap.reference}"[:64] if snap.reference
                         else new_reference())
            # created_at given: no default (timezone.now) computed per row and thrown away
            order = Order(merchant=merchant, external_id=snap.external_id, reference=reference,
                          synced_at=now, created_at=snap.ordered_at or now, **values)
            _sync_state(order, target)
            new_orders.append(order)
            counts["created"] += 1
        else:
            before = order.state
            changed = _set(order, values) | _sync_state(order, target)
            if changed:
                order.synced_at = now
                changed_orders.append(order)
                counts["updated"] += 1
                if before != order.state:
                    events.append((order, before))
            else:
                counts["unchanged"] += 1
        by_external[snap.external_id] = order
    # Reference collisions (the provider reuses a number) fall back to our own reference.
    taken = set(
        Order.objects.filter(reference__in=[o.reference for o in new_orders]).values_list(
            "reference", flat=True
        )
    )
    seen: set[str] = set()
    generated: list[Order] = []
    for order in new_orders:
        if order.reference in taken or order.reference in seen:
            order.reference = new_reference()
            generated.append(order)
        seen.add(order.reference)
    # A generated reference has 24 random bits a day: with thousands of fallbacks (two
    # accounts whose order numbers overlap) some are taken already — draw those again.
    while generated:
        clash = set(Order.objects.filter(reference__in=[o.reference for o in generated])
                    .values_list("reference", flat=True))
        generated = [o for o in generated if o.reference in clash]
        for order in generated:
            while order.reference in seen:
                order.reference = new_reference()
            seen.add(order.reference)
    Order.objects.bulk_create(new_orders, batch_size=500)
    rows_created.send(sender=Order, instances=new_orders)
    if changed_orders:
        Order.objects.bulk_update(changed_orders, ORDER_SYNC_FIELDS, batch_size=500)
    if any(o.pk is None for o in new_orders):  # backends without RETURNING
        pks = dict(
            Order.objects.filter(merchant=merchant, external_id__in=[o.external_id for o in new_orders])
            .values_list("external_id", "pk")
        )
        for order in new_orders:
            order.pk = order.id = pks[order.external_id]

    # items
    order_ids = [o.pk for o in by_external.values()]
    items_by_order: dict[int, dict[str, OrderItem]] = defaultdict(dict)
    if changed_orders or counts["unchanged"]:
        for item in OrderItem.objects.filter(order_id__in=order_ids).exclude(external_id=""):
            items_by_order[item.order_id][item.external_id] = item
    new_items, changed_items = [], []
    for snap in page:
        order = by_external[snap.external_id]
        known = items_by_order.get(order.pk, {})
        for isnap in snap.items:
            values = _item_values(isnap)
            item_target = table.item_state_for(isnap.raw_status)
            item = known.get(isnap.external_id)
            if item is None:
                item = OrderItem(order_id=order.pk, external_id=isnap.external_id, created_at=now,
                                 **values)
                _sync_state(item, item_target)
                new_items.append(item)
            elif _set(item, values) | _sync_state(item, item_target):
                changed_items.append(item)
    OrderItem.objects.bulk_create(new_items, batch_size=1000)
    if changed_items:
        OrderItem.objects.bulk_update(changed_items, ITEM_SYNC_FIELDS, batch_size=500)

    # shipments reported by the provider (rare on incoming orders: one query when present)
    with_shipments = [s for s in page if s.shipments]
    if with_shipments:
        known_shipments: dict[tuple[int, str], Shipment] = {
            (s.order_id, s.external_id or s.tracking_number): s
            for s in Shipment.objects.filter(
                order_id__in=[by_external[s.external_id].pk for s in with_shipments]
            )
        }
        new_shipments = []
        for snap in with_shipments:
            order = by_external[snap.external_id]
            for ssnap in snap.shipments:
                key = ssnap.external_id or ssnap.tracking_number
                if (order.pk, key) in known_shipments:
                    continue
                shipment = Shipment(order_id=order.pk, external_id=key[:120], carrier=ssnap.carrier,
                                    tracking_number=ssnap.tracking_number,
                                    tracking_url=ssnap.tracking_url, raw_data=ssnap.raw)
                _sync_state(shipment, _shipment_state(ssnap))
                new_shipments.append(shipment)
        Shipment.objects.bulk_create(new_shipments)
        rows_created.send(sender=Shipment, instances=new_shipments)

    event_rows = [
        OrderEvent(order_id=o.pk, kind=OrderEvent.Kind.SYNC, to_state=o.state, created_at=now,
                   message=f"Received from {account.provider_label}")
        for o in new_orders
    ] + [
        OrderEvent(order_id=o.pk, kind=OrderEvent.Kind.SYNC, from_state=before, to_state=o.state,
                   created_at=now, message=f"Synced: {moved_words(before, o.state)}")
        for o, before in events
    ]
    OrderEvent.objects.bulk_create(event_rows, batch_size=1000)
    return counts
