"""Tipser: orders arrive from the marketplace; we acknowledge, hold, ship, cancel them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from providers import ratelimit
from providers.base import CredentialField, OptionField, ProviderService
from providers.errors import ProviderBadReply, ProviderError, ProviderValidationError
from providers.registry import register
from providers.statuses import ItemLifecycle as I
from providers.types import OrderSnapshot

from . import mapping, paging
from .client import TipserClient
from .statuses import ALL_STATES, OPEN_ITEM_CODES, SHIPPED, STATUSES

if TYPE_CHECKING:
    from merchants.models import Merchant
    from orders.models import Order, OrderItem, Shipment

PRODUCTION_HOST = "https://t3-prod-api.tipser.com"
SANDBOX_HOST = "https://t3-stage-api.tipser.com"
CARRIER_CACHE_SECONDS = 6 * 3600
MAX_PAGES = 10_000  # a provider that never stops paging must not keep a worker forever


def _date(value: dt.datetime | dt.date) -> str:
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC).date() if timezone.is_aware(value) else value.date()
    return value.isoformat()


@register
class TipserService(ProviderService):
    key = "tipser"
    label = "Tipser"
    statuses = STATUSES
    credential_fields = (
        CredentialField(
            "api_key", "API key", "Tipser merchant apiKey (sent as a query parameter)."
        ),
    )
    option_fields = (
        OptionField(
            "page_size",
            "Page size for the order list",
            paging.LARGEST_PAGE_SIZE,
            help_text="Always sent: Tipser's default and largest page sizes are not published.",
        ),
        OptionField(
            "sync_states",
            "Item states to list",
            ALL_STATES,
            help_text="The list call's obligatory 'states' filter (comma separated).",
        ),
        OptionField("initial_days", "First sync reaches back (days)", 30),
        OptionField("max_days", "Periodic sync never reaches back further than (days)", 90),
        OptionField("safety_days", "Overlap with the previous run (days)", 1),
    )
    base_url_setting = "TIPSER_API_URL"
    sandbox_prefix = "/sandbox/tipser/"
    places_orders = False

    # --- account helpers -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """Account override, else TIPSER_API_URL; a sandbox account on the default production
        host talks to Tipser's stage host instead."""
        if self.account.base_url:
            return self.account.base_url
        configured = getattr(settings, self.base_url_setting, "") or PRODUCTION_HOST
        if configured.rstrip("/") == PRODUCTION_HOST and self.account.environment == "sandbox":
            return SANDBOX_HOST
        return configured

    @property
    def client(self) -> TipserClient:
        api_key = self.credential("api_key")
        if not api_key:
            raise ProviderValidationError(
                "This Tipser account has no API key.", fields={"api_key": "Required."}
            )
        return TipserClient(base_url=self.base_url, api_key=api_key, recorder=self.recorder)

    def _int_option(self, name: str) -> int:
        try:
            return max(1, int(self.option(name)))
        except (TypeError, ValueError):
            return next(int(o.default) for o in self.option_fields if o.name == name)

    # --- operations ------------------------------------------------------------------------
    def check_account(self, *, merchant: Merchant | None = None) -> str:
        body = self.client.list_orders(
            from_date=_date(timezone.now()),
            states=str(self.option("sync_states")),
            page_size=1,
            page_index=0,
        )
        _, count = mapping.parse_order_page(body)
        return f"apiKey accepted ({count if count is not None else '?'} order(s) today)"

    def fetch_order(self, order: Order) -> OrderSnapshot:
        return mapping.parse_order(self.client.get_order(order.external_id))

    def iter_incoming(
        self, *, since: dt.datetime | None, cursor: dict[str, Any]
    ) -> Iterator[list[OrderSnapshot]]:
        """Every page of ``GET /v3/merchants/orders`` from a start date.

        Tipser filters by *order date* only; an order changes after it was placed, so "what
        changed" cannot be asked. The start date is therefore the date of the oldest order
        that was still open (an item New / Hold / Acknowledged) in the previous complete run
        — everything older is settled and need not be read again — but never older than
        ``max_days``. Without open orders it is the previous run's date minus ``safety_days``
        (orders placed around midnight, clock skew). The first run reaches back
        ``initial_days``; an explicit ``since`` wins. The cursor also remembers the page
        reached, so an interrupted run resumes where it stopped.
        """
        client = self.client
        now = timezone.now()
        page_size = self._int_option("page_size")
        states = str(self.option("sync_states") or ALL_STATES)
        run = cursor.get("run") if isinstance(cursor.get("run"), dict) else None
        if since is not None:
            run = None
            start = _date(since)
        elif run and run.get("from"):
            start = str(run["from"])
        elif cursor.get("next_from"):
            floor = _date(now - dt.timedelta(days=self._int_option("max_days")))
            start = max(str(cursor["next_from"]), floor)
        else:
            start = _date(now - dt.timedelta(days=self._int_option("initial_days")))
        if run is None or run.get("from") != start:
            run = {
                "from": start,
                "page_index": 0,
                "oldest_open": None,
                "seen": 0,
                "started": now.isoformat(),
            }
        cursor["run"] = run

        first = int(run["page_index"])

        def fetch(index: int) -> Any:
            if index - first >= MAX_PAGES:
                raise ProviderBadReply(
                    f"list_orders: more than {MAX_PAGES} pages; stopped", operation="list_orders"
                )
            return client.list_orders(
                from_date=start, states=states, page_size=page_size, page_index=index
            )

        scope = ratelimit.current_scope.get()
        pages = paging.iter_pages(
            fetch,
            first_index=first,
            seen=int(run["seen"]),
            page_size=page_size,
            parallel=paging.parallel_for_rate(scope.rate if scope else None),
        )
        for index, body, last in pages:
            orders, _count = mapping.parse_order_page(body)
            for snap in orders:
                if snap.ordered_at and any(i.raw_status in OPEN_ITEM_CODES for i in snap.items):
                    day = _date(snap.ordered_at)
                    if run["oldest_open"] is None or day < run["oldest_open"]:
                        run["oldest_open"] = day
            run["seen"] += len(body["items"])
            run["page_index"] = index + 1
            if last:
                self._finish_run(cursor, run)
            if orders:
                yield orders
            if last:
                return

    def _finish_run(self, cursor: dict[str, Any], run: dict[str, Any]) -> None:
        started = dt.datetime.fromisoformat(run["started"])
        fallback = _date(started - dt.timedelta(days=self._int_option("safety_days")))
        cursor["next_from"] = run["oldest_open"] or fallback
        cursor["last_from"] = run["from"]
        cursor["last_count"] = run["seen"]
        cursor.pop("run", None)

    # --- status changes --------------------------------------------------------------------
    def _allowed(self, item: OrderItem, code: str) -> bool:
        target = STATUSES.item_state_for(code)
        return target is not None and STATUSES.item_allows(
            target, raw_status=item.raw_status, next_statuses=item.next_statuses
        )

    def set_item_status(
        self, order: Order, items: list[OrderItem], target: str, *, comment: str = ""
    ) -> None:
        code = STATUSES.item_code_for(target)
        if code is None:
            raise ProviderValidationError(f"Tipser has no item status for '{target}'.")
        refused = [i for i in items if not self._allowed(i, code)]
        if refused:
            # Refused here, before any request: Tipser would answer IncorrectInputData.
            raise ProviderValidationError(
                f"Tipser does not allow status {STATUSES.item_statuses[code].label} now "
                "for item(s) " + ", ".join(i.external_id or str(i.pk) for i in refused),
                fields={"items": "Not in the item's nextStatuses."},
            )
        ids = [i.external_id for i in items]
        self.client.set_status(order.external_id, mapping.status_body(code, ids, comment))

    def _whole_order(
        self, order: Order, target: str, *, skip: tuple[str, ...], comment: str
    ) -> None:
        """An order-level change: one request with every item that is not already past it."""
        items = [i for i in order.items.all() if i.state not in skip and i.external_id]
        if not items:
            raise ProviderValidationError("No item of this order can take this change.")
        self.set_item_status(order, items, target, comment=comment)

    def cancel_order(self, order: Order) -> None:
        self._whole_order(order, I.CANCELLED, skip=(I.CANCELLED,), comment="Cancelled by merchant")

    def hold_order(self, order: Order) -> None:
        self._whole_order(
            order,
            I.ON_HOLD,
            skip=(I.CANCELLED, I.SHIPPED, I.RETURNED, I.ON_HOLD),
            comment="On hold",
        )

    def release_order(self, order: Order) -> None:
        live = [
            i
            for i in order.items.all()
            if i.external_id and i.state not in (I.CANCELLED, I.SHIPPED, I.RETURNED)
        ]
        # The held items; when none is known as held yet (the hold was just sent and no sync
        # has run since), every live item: Tipser decides, a refusal is shown as such.
        items = [i for i in live if i.state == I.ON_HOLD] or live
        if not items:
            raise ProviderValidationError("No item of this order can be released.")
        self.set_item_status(order, items, I.ACKNOWLEDGED, comment="Hold released")

    def push_shipment(self, shipment: Shipment) -> None:
        """Post the shipping information, then mark the shipped items Shipped (which makes
        Tipser send the confirmation and invoice) — the doc keeps the two apart."""
        order = shipment.order
        items = [line.item for line in shipment.lines.select_related("item")]
        ids = [i.external_id for i in items if i.external_id]
        if not ids:
            raise ProviderValidationError(
                "The shipment carries no Tipser item.", fields={"items": "Required."}
            )
        client = self.client
        client.post_shipping(
            order.external_id,
            mapping.shipping_body(
                carrier="" if shipment.carrier == "other" else shipment.carrier,
                tracking_number=shipment.tracking_number,
                comment=shipment.comment,
                notify=shipment.notify_customer,
                item_ids=ids,
            ),
        )
        to_mark = [i.external_id for i in items if i.external_id and self._allowed(i, SHIPPED)]
        if to_mark:
            client.set_status(
                order.external_id,
                mapping.status_body(
                    SHIPPED, to_mark, shipment.comment or f"Shipped: {shipment.tracking_number}"
                ),
            )

    def order_state_after_items(self, order: Order, items: list[OrderItem]) -> str | None:
        return mapping.order_state_from_item_states([i.state for i in items])

    # --- carriers --------------------------------------------------------------------------
    def carrier_names(self, *, refresh: bool = False) -> list[str]:
        """Carrier names from ``GET /v3/markets``, cached per account (Django cache)."""
        key = f"tipser:carriers:{self.account.pk}:{self.base_url}"
        names = None if refresh else cache.get(key)
        if names is None:
            names = mapping.parse_carriers(self.client.markets())
            cache.set(key, names, CARRIER_CACHE_SECONDS)
        return list(names)

    def carrier_choices(self, order: Order | None = None) -> list[tuple[str, str]]:
        """Choices for the ship form: Tipser's carriers, the customer's preferred one, and
        "other" (sent as null). A failing markets call still leaves "other"."""
        try:
            names = self.carrier_names()
        except ProviderError:
            names = []
        preferred = ""
        if order is not None:
            prefs = (
                order.raw_data.get("shippingPreferences")
                if isinstance(order.raw_data, dict)
                else None
            )
            preferred = (
                mapping._str(prefs.get("shippingProvider")) if isinstance(prefs, dict) else ""
            )
        if preferred:  # the customer's choice first (the form's initial value)
            names = [preferred, *(n for n in names if n != preferred)]
        return [(n, n + (" (customer's choice)" if n == preferred else "")) for n in names] + [
            ("", "Other (not listed)")
        ]
