"""Pipeline verbs: route a sales order's items to supplier orders, approve a held routing,
send a supplier's tracking back to the sales channel, react to a supplier order that failed.

Routing runs under a row lock on the sales order and a unique active link per sales item, so
a re-sync, two syncs at once or a task run twice never create a second supplier order. Tracking
is claimed (one ``TrackingPush`` row per supplier shipment, committed) before the sales channel
is called, so it is never pushed twice. Services return what to enqueue; dispatch enqueues."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders import services as order_services
from orders.errors import OrderActionRefused, OrderValidationError
from orders.lifecycle import ItemLifecycle
from orders.lifecycle import Lifecycle as S
from orders.models import Order, OrderEvent, OrderItem, Shipment
from orders.provider_requests import order_request, order_service
from orders.timeline import Actor, actor_or_none, event_add
from providers.errors import ProviderError

from . import selectors
from .models import PlaceMode, RouteMode, SalesRouting, SupplierLink, SupplierOffer, TrackingPush

BUSY = "in_progress"  # orders.claims: another provider write to the order is in flight
OPEN_ITEM_STATES = (ItemLifecycle.NEW, ItemLifecycle.ACKNOWLEDGED, ItemLifecycle.ON_HOLD)
CLOSED_ORDER_STATES = (S.CANCELLED, S.COMPLETED, S.EXPIRED, S.SHIPPED)


@dataclass
class RouteResult:
    status: str
    reason: str = ""
    supplier_orders: list[int] = field(default_factory=list)
    to_place: list[int] = field(default_factory=list)


def _set_status(order: Order, status: str, reason: str, *, actor: Actor = None) -> None:
    routing, created = SalesRouting.objects.get_or_create(
        order=order, defaults={"status": status, "reason": reason})
    if not created and (routing.status, routing.reason) == (status, reason):
        return
    routing.status, routing.reason, routing.updated_at = status, reason, timezone.now()
    if status == SalesRouting.Status.ROUTED and actor is not None:
        routing.approved_by = actor_or_none(actor)
    routing.save()
    label = SalesRouting.Status(status).label
    event_add(order=order, kind=OrderEvent.Kind.NOTE, actor=actor,
              message=f"Pipeline: {label}" + (f" — {reason}" if reason else ""))


def _item_label(item: OrderItem) -> str:
    return item.sku or item.product_id or f"item {item.pk}"


def _cost_problems(pairs: list[tuple[OrderItem, SupplierOffer]], order: Order, share: Decimal) -> list[str]:
    problems = []
    for item, offer in pairs:
        cost = offer.expected_cost * item.quantity
        if offer.cost_currency != order.currency:
            problems.append(f"{_item_label(item)}: supplier cost {cost} {offer.cost_currency}, sale in "
                            f"{order.currency} (cannot compare)")
            continue
        sale = (item.unit_price or Decimal("0")) * item.quantity
        if sale <= 0 or cost > sale * share:
            problems.append(f"{_item_label(item)}: supplier cost {cost} {offer.cost_currency} is above "
                            f"{share:.0%} of the sale price {sale} {order.currency}")
    return problems


def _mode(offers: list[SupplierOffer], attr: str, default: str) -> str:
    chosen = {getattr(o, attr) or default for o in offers}
    return RouteMode.PROPOSE if attr == "route_mode" and RouteMode.PROPOSE in chosen else (
        PlaceMode.MANUAL if attr == "place_mode" and PlaceMode.MANUAL in chosen else default)


@transaction.atomic
def sales_order_route(*, order: Order, actor: Actor = None, approve: bool = False) -> RouteResult:
    """Route the sales order's unrouted open items to supplier orders (one per supplier
    merchant). ``approve``: an operator accepts a held or proposed routing."""
    order = Order.objects.select_for_update(of=("self",)).select_related("merchant__account").get(pk=order.pk)
    policy = selectors.routing_policy(order.merchant.account)
    if policy is None:
        return RouteResult("not_routed", "This account has no enabled routing policy.")
    if order.state in CLOSED_ORDER_STATES:
        return RouteResult("closed")
    items = list(order.items.filter(state__in=OPEN_ITEM_STATES)
                 .exclude(supplier_links__active=True).order_by("pk"))
    if not items:
        return RouteResult(getattr(getattr(order, "routing", None), "status", "nothing_to_route"))
    offers = selectors.offers_by_item(items, order.merchant.account, selectors.tried_offers(items))
    missing = [item for item in items if not offers[item.pk]]
    if missing:
        reason = "No supplier offer for " + ", ".join(
            f"{_item_label(i)} (product {i.product_id or '—'})" for i in missing)
        _set_status(order, SalesRouting.Status.NEEDS_MAPPING, reason, actor=actor)
        return RouteResult(SalesRouting.Status.NEEDS_MAPPING, reason)
    pairs = [(item, offers[item.pk][0]) for item in items]
    chosen = [offer for _, offer in pairs]
    if not approve:
        problems = _cost_problems(pairs, order, policy.max_cost_share)
        if problems:
            reason = "; ".join(problems)
            _set_status(order, SalesRouting.Status.HELD, reason, actor=actor)
            return RouteResult(SalesRouting.Status.HELD, reason)
        if _mode(chosen, "route_mode", policy.route_mode) == RouteMode.PROPOSE:
            reason = "; ".join(f"{_item_label(i)} → {o.supplier} ({o.expected_cost} {o.cost_currency})"
                               for i, o in pairs)
            _set_status(order, SalesRouting.Status.PROPOSED, reason, actor=actor)
            return RouteResult(SalesRouting.Status.PROPOSED, reason)
    result = RouteResult(SalesRouting.Status.ROUTED)
    by_supplier: dict[int, list[tuple[OrderItem, SupplierOffer]]] = defaultdict(list)
    for item, offer in pairs:
        by_supplier[offer.supplier_id].append((item, offer))
    for group in by_supplier.values():
        supplier_order = _supplier_order_create(order, group, actor=actor)
        result.supplier_orders.append(supplier_order.pk)
        if _mode([o for _, o in group], "place_mode", policy.place_mode) == PlaceMode.AUTO:
            result.to_place.append(supplier_order.pk)
    refs = ", ".join(Order.objects.filter(pk__in=result.supplier_orders).values_list("reference", flat=True))
    _set_status(order, SalesRouting.Status.ROUTED, f"Supplier orders {refs}", actor=actor)
    return result


def _supplier_address(order: Order) -> tuple[dict[str, str], list[str]]:
    """The sale's shipping address for a supplier, and what was adapted: an international
    phone number split into its country prefix and national number (Aliseeks asks for both),
    and the city as the region when the sale has none (AliExpress requires a state)."""
    address = {name: getattr(order, name) for name in order_services.ADDRESS_FIELDS}
    notes = []
    phone = (address["phone_number"] or "").strip()
    if phone.startswith("+") and not address["phone_prefix"]:
        try:
            parsed = phonenumbers.parse(phone)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is not None and parsed.country_code:
            address["phone_prefix"] = f"+{parsed.country_code}"
            address["phone_number"] = str(parsed.national_number)
            notes.append(f"phone {phone} sent as {address['phone_prefix']} {address['phone_number']}")
    if not address["region"] and address["city"]:
        address["region"] = address["city"]
        notes.append(f"no region on the sale: the city ({address['city']}) is sent as the region")
    return address, notes


def _supplier_order_create(order: Order, group: list[tuple[OrderItem, SupplierOffer]], *,
                           actor: Actor) -> Order:
    supplier = group[0][1].supplier
    address, notes = _supplier_address(order)
    supplier_order = order_services.order_create(
        merchant=supplier, actor=actor,
        items=[{"product_id": o.supplier_product_id, "sku": o.supplier_sku, "name": item.name,
                "variant": o.supplier_variant, "quantity": item.quantity, "unit_price": o.expected_cost}
               for item, o in group],
        currency=group[0][1].cost_currency, **address,
    )
    supplier_items = list(supplier_order.items.order_by("pk"))
    selectors.pipeline_in_use_mark()
    SupplierLink.objects.bulk_create([
        SupplierLink(sales_item=item, supplier_item=s_item, offer=offer)
        for (item, offer), s_item in zip(group, supplier_items, strict=True)
    ])
    event_add(order=supplier_order, kind=OrderEvent.Kind.NOTE, actor=actor,
              message=f"Fulfils sales order {order.reference}: "
                      + ", ".join(_item_label(i) for i, _ in group)
                      + (f" (address: {'; '.join(notes)})" if notes else ""))
    return supplier_order


def supplier_order_settled(*, supplier_order: Order) -> RouteResult | None:
    """A supplier order changed state. Cancelled before it was placed: release its links and
    route those items to the next offer. Failed or outcome unknown: flag the sales order."""
    sales = selectors.sales_order_of(supplier_order)
    if sales is None:
        return None
    if supplier_order.state == S.CANCELLED and not supplier_order.external_id:
        with transaction.atomic():
            SupplierLink.objects.filter(supplier_item__order=supplier_order, active=True).update(active=False)
            event_add(order=sales, kind=OrderEvent.Kind.NOTE,
                      message=f"Supplier order {supplier_order.reference} was cancelled before it was "
                              "placed: its items go to the next offer.")
        result = sales_order_route(order=sales)
        if result.status == SalesRouting.Status.NEEDS_MAPPING:
            with transaction.atomic():
                _set_status(sales, SalesRouting.Status.PROBLEM,
                            f"Supplier order {supplier_order.reference} cancelled and no other offer: "
                            + result.reason)
        return result
    if _short_before_sending(supplier_order):
        # the supplier could not supply it all (found at the reservation, before anything was
        # sent): cancel it here — nothing is at the supplier — and the cancellation sends its
        # items to the next offer (the branch above, run by the cancel's own signal)
        order_services.order_cancel(
            order=supplier_order, reason="Short at the supplier before sending: trying the next offer")
        return RouteResult("fallback")
    if supplier_order.state in (S.FAILED, S.PLACEMENT_UNKNOWN, S.CANCELLED):
        reason = (f"Supplier order {supplier_order.reference} is "
                  f"{supplier_order.get_state_display().lower()}"
                  + (f": {supplier_order.failure_reason}" if supplier_order.failure_reason else ""))
        with transaction.atomic():
            _set_status(sales, SalesRouting.Status.PROBLEM, reason)
        return RouteResult(SalesRouting.Status.PROBLEM, reason)
    if supplier_order.state in (S.PLACED, S.IN_PROGRESS):
        routing = SalesRouting.objects.filter(order=sales).first()
        settled = (S.PLACED, S.IN_PROGRESS, S.PARTIALLY_SHIPPED, S.SHIPPED, S.COMPLETED)
        if routing and routing.status == SalesRouting.Status.PROBLEM and all(
            o.state in settled for o in selectors.supplier_orders_of(sales)
        ):
            with transaction.atomic():
                _set_status(sales, SalesRouting.Status.ROUTED, "Supplier orders placed")
    return None


def _short_before_sending(supplier_order: Order) -> bool:
    """Failed with a shortfall and never taken by the supplier, with another offer to try for
    every linked item: worth falling back rather than asking the operator."""
    order = supplier_order
    if order.state != S.FAILED or order.external_id or not order.has_open_shortfall:
        return False
    links = list(SupplierLink.objects.filter(supplier_item__order=supplier_order, active=True)
                 .select_related("sales_item__order__merchant__account"))
    if not links:
        return False
    items = [link.sales_item for link in links]
    tried = selectors.tried_offers(items)
    for link in links:
        tried[link.sales_item_id].add(link.offer_id)  # type: ignore[arg-type]
    account = links[0].sales_item.order.merchant.account
    offers = selectors.offers_by_item(items, account, tried)
    return all(offers[item.pk] for item in items)


@transaction.atomic
def supplier_order_refused(*, supplier_order: Order, reason: str) -> None:
    """A supplier order could not even be queued for placement: the sale says why."""
    sales = selectors.sales_order_of(supplier_order)
    event_add(order=supplier_order, kind=OrderEvent.Kind.ERROR, message=f"Not placed: {reason}")
    if sales is not None:
        _set_status(sales, SalesRouting.Status.PROBLEM,
                    f"Supplier order {supplier_order.reference} cannot be placed: {reason}")


# --- tracking back -------------------------------------------------------------------------------
def _carrier_for(sales: Order, supplier_carrier: str) -> tuple[str, str]:
    """The sales channel's carrier matching the supplier's (its market's list), else "other"
    with the supplier's carrier named in the comment."""
    service = order_service(sales)
    names: list[str] = []
    if service.supports("carrier_choices"):
        try:
            names = [value for value, _ in service.carrier_choices(order_request(sales)) or () if value]
        except ProviderError:
            names = []
    wanted = supplier_carrier.strip().lower()
    for name in names:
        if wanted and (name.lower() == wanted or wanted in name.lower() or name.lower() in wanted):
            return name, ""
    return "", (f"Carrier: {supplier_carrier}" if supplier_carrier else "")


def _sales_quantities(shipment: Shipment, links: list[SupplierLink]) -> dict[int, int]:
    by_supplier_item = {link.supplier_item_id: link for link in links}
    lines = list(shipment.lines.all())
    if lines:  # the supplier said which items: exactly those
        return {by_supplier_item[line.item_id].sales_item_id: line.quantity
                for line in lines if line.item_id in by_supplier_item}
    # the supplier ships its order whole (Aliseeks, Brandsdistribution): all linked items
    return {link.sales_item_id: link.sales_item.quantity for link in links}


def supplier_tracking_push(*, supplier_order: Order) -> list[TrackingPush]:
    """Send each new supplier shipment's tracking to the sales order, for exactly the linked
    items; claimed first, so a re-run never pushes twice."""
    links = list(SupplierLink.objects.filter(supplier_item__order=supplier_order, active=True)
                 .select_related("sales_item__order__merchant__account"))
    if not links:
        return []
    sales = links[0].sales_item.order
    _claims_settle(supplier_order, sales)
    pushed = []
    shipments = supplier_order.shipments.exclude(state=Shipment.State.CANCELLED).exclude(
        tracking_number="").filter(tracking_push__isnull=True).prefetch_related("lines").order_by("pk")
    for shipment in shipments:
        try:
            with transaction.atomic():
                push = TrackingPush.objects.create(supplier_shipment=shipment, sales_order=sales)
        except IntegrityError:
            continue  # another worker claimed it
        pushed.append(_push(push, sales, shipment, links))
    return pushed


def _claims_settle(supplier_order: Order, sales: Order) -> None:
    """A claim whose worker died after Tipser took the push (its sales shipment carries the
    tracking and was pushed) is recorded as sent; nothing is sent again."""
    for push in TrackingPush.objects.filter(supplier_shipment__order=supplier_order,
                                            state=TrackingPush.State.CLAIMED).select_related("supplier_shipment"):
        taken = sales.shipments.filter(tracking_number=push.supplier_shipment.tracking_number,
                                       pushed_at__isnull=False).first()
        if taken is not None:
            TrackingPush.objects.filter(pk=push.pk).update(
                state=TrackingPush.State.PUSHED, sales_shipment=taken)


def _push(push: TrackingPush, sales: Order, shipment: Shipment, links: list[SupplierLink]) -> TrackingPush:
    quantities = _sales_quantities(shipment, links)
    remaining = _remaining(sales)
    wanted = {pk: min(qty, remaining[pk]) for pk, qty in quantities.items() if remaining.get(pk)}
    carrier, comment = _carrier_for(sales, shipment.carrier)
    try:
        if not wanted:
            raise OrderValidationError("These items are already shipped on the sales order.", fields={})
        sales_shipment = order_services.order_ship(
            order=sales, carrier=carrier, tracking_number=shipment.tracking_number,
            tracking_url=shipment.tracking_url, items=wanted, comment=comment,
        )
    except OrderActionRefused as exc:
        if exc.code != BUSY:
            return _push_failed(push, sales, shipment, exc)
        # another write to the sale is in flight (e.g. the other supplier's tracking): this
        # one was not sent; release the claim so it is sent again shortly
        TrackingPush.objects.filter(pk=push.pk).delete()
        push.pk = None
        return push
    except ProviderError as exc:
        return _push_failed(push, sales, shipment, exc)
    push.state, push.sales_shipment = TrackingPush.State.PUSHED, sales_shipment
    with transaction.atomic():
        push.save(update_fields=["state", "sales_shipment"])
        done = not _remaining(sales)
        _set_status(sales, SalesRouting.Status.TRACKING if done else SalesRouting.Status.ROUTED,
                    f"Tracking {shipment.tracking_number} sent for "
                    + ", ".join(_item_label(link.sales_item) for link in links
                                if link.sales_item_id in wanted))
    return push


def _push_failed(push: TrackingPush, sales: Order, shipment: Shipment, exc: Exception) -> TrackingPush:
    push.state, push.error = TrackingPush.State.FAILED, str(exc)[:2000]
    with transaction.atomic():
        push.save(update_fields=["state", "error"])
        _set_status(sales, SalesRouting.Status.PROBLEM,
                    f"Tracking {shipment.tracking_number} could not be sent: {exc}")
    return push


def _remaining(sales: Order) -> dict[int, int]:
    from django.db.models import Sum

    from orders.models import ShipmentLine

    shipped = dict(ShipmentLine.objects.filter(item__order=sales).exclude(
        shipment__state=Shipment.State.CANCELLED).values_list("item_id").annotate(q=Sum("quantity")))
    return {i.pk: i.quantity - shipped.get(i.pk, 0) for i in sales.items.all()
            if i.quantity - shipped.get(i.pk, 0) > 0}


def pipeline_pending_orders() -> list[int]:
    """Sales orders of routed accounts with open items not yet routed (and not waiting for an
    operator): what the periodic sweep routes."""
    waiting = [SalesRouting.Status.HELD, SalesRouting.Status.PROPOSED, SalesRouting.Status.NEEDS_MAPPING]
    return list(
        Order.objects.filter(merchant__account__routing_policy__enabled=True,
                             items__state__in=OPEN_ITEM_STATES)
        .exclude(state__in=CLOSED_ORDER_STATES).exclude(routing__status__in=waiting)
        .exclude(items__supplier_links__active=True).values_list("pk", flat=True).distinct()[:500]
    )


def offers_changed_reroute() -> list[int]:
    """Orders waiting for a mapping: worth routing again after offers were added."""
    return list(SalesRouting.objects.filter(status=SalesRouting.Status.NEEDS_MAPPING)
                .values_list("order_id", flat=True)[:1000])


def supplier_orders_with_unpushed_tracking() -> list[int]:
    """Supplier orders with a shipment not pushed yet, or whose push claim was left by a worker
    that died (settled from the sale's own shipments, never sent again)."""
    unpushed = set(
        Shipment.objects.filter(order__items__fulfils__active=True, tracking_push__isnull=True)
        .exclude(tracking_number="").exclude(state=Shipment.State.CANCELLED)
        .values_list("order_id", flat=True).distinct()[:500]
    )
    claimed = set(TrackingPush.objects.filter(state=TrackingPush.State.CLAIMED)
                  .values_list("supplier_shipment__order_id", flat=True)[:500])
    return sorted(unpushed | claimed)
