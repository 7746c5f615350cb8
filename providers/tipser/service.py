"""Tipser: orders arrive from the marketplace; we acknowledge, hold, ship, cancel them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from core import account_cache
from orders.lifecycle import ItemLifecycle as I
from providers.base import CredentialField, OptionField, ProviderService
from providers.errors import (
    ProviderBadReply,
    ProviderError,
    ProviderRejected,
    ProviderValidationError,
)
from providers.registry import register
from providers.types import OrderSnapshot

from . import mapping, paging
from .client import TipserClient
from .statuses import ALL_STATES, OPEN_ITEM_CODES, OPEN_STATES, SHIPPED, STATUSES

if TYPE_CHECKING:
    from providers.types import ItemRequest, MerchantRef, OrderRequest, ShipmentRequest

PRODUCTION_HOST = "https://t3-prod-api.tipser.com"
SANDBOX_HOST = "https://t3-stage-api.tipser.com"
CARRIER_CACHE_SECONDS = 6 * 3600
MAX_PAGES = 10_000  # a provider that never stops paging must not keep a worker forever
# A periodic run fetches the orders that left the open states one by one; past this many open
# orders the next run walks every state from the oldest open one instead (and the cursor,
# saved after every page, stays small).
MAX_TRACKED_OPEN = 1000
CLOSED_BATCH = 50  # orders fetched by id, written as one page

logger = logging.getLogger(__name__)


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
            choices=tuple((code, f"{st.label} ({code})") for code, st in STATUSES.item_statuses.items()),
            help_text="The list call's obligatory 'states' filter: items in these states are read.",
            multiple=True,
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
        return TipserClient(base_url=self.base_url, api_key=api_key, recorder=self.recorder,
                            rate_scope=self.rate_scope)

    def _int_option(self, name: str) -> int:
        try:
            return max(1, int(self.option(name)))
        except (TypeError, ValueError):
            return next(int(o.default) for o in self.option_fields if o.name == name)

    # --- operations ------------------------------------------------------------------------
    def check_account(self, *, merchant: MerchantRef | None = None) -> str:
        body = self.client.list_orders(
            from_date=_date(timezone.now()),
            states=str(self.option("sync_states")),
            page_size=1,
            page_index=0,
        )
        _, count = mapping.parse_order_page(body)
        return f"apiKey accepted ({count if count is not None else '?'} order(s) today)"

    def fetch_order(self, order: OrderRequest) -> OrderSnapshot:
        return mapping.parse_order(self.client.get_order(order.external_id))

    def iter_incoming(
        self, *, since: dt.datetime | None, cursor: dict[str, Any]
    ) -> Iterator[list[OrderSnapshot]]:
        """Pages of orders from ``GET /v3/merchants/orders`` (and single orders by id).

        Tipser filters by *order date* and by item states only; "what changed" cannot be
        asked. A periodic run therefore costs what can have changed, not the history:

        * **open**: orders with an open item (New / Hold / Acknowledged; ``states`` filter,
          see ``statuses.OPEN_STATES``) since the oldest order open in the previous run;
        * **new**: every state since the previous run's date minus ``safety_days``;
        * **closed**: orders open in the previous run that neither query returned now
          (they moved on to a settled state) are fetched by id, one call each.

        The first run (or one whose previous run knew too many open orders, or an explicit
        ``since``) walks every state from its start date (``initial_days`` back, or
        ``since``). No query reaches back further than ``max_days``. The cursor remembers
        the step and page reached, so an interrupted run resumes where it stopped.
        """
        client = self.client
        now = timezone.now()
        page_size = self._int_option("page_size")
        states = str(self.option("sync_states") or ALL_STATES)
        floor = _date(now - dt.timedelta(days=self._int_option("max_days")))
        run = cursor.get("run") if isinstance(cursor.get("run"), dict) else None
        if since is not None or (run is not None and not isinstance(run.get("steps"), list)):
            run = None  # an explicit start, or a run saved by an older version: start afresh
        if run is None:
            if since is not None:
                steps = [["all", _date(since), states]]
            elif cursor.get("next_from") and isinstance(cursor.get("open_ids"), list):
                new_from = max(str(cursor.get("new_from") or cursor["next_from"]), floor)
                open_from = max(str(cursor["next_from"]), floor)
                steps = [["new", new_from, states]]
                if cursor["open_ids"] and open_from < new_from:
                    open_states = ",".join(c for c in states.split(",") if c in OPEN_ITEM_CODES)
                    steps.insert(0, ["open", open_from, open_states or OPEN_STATES])
                steps.append(["closed", "", ""])
            elif cursor.get("next_from"):
                steps = [["all", max(str(cursor["next_from"]), floor), states]]
            else:
                initial = _date(now - dt.timedelta(days=self._int_option("initial_days")))
                steps = [["all", initial, states]]
            run = {"steps": steps, "step": 0, "page_index": 0, "seen": 0, "oldest_open": None,
                   "open_ids": [], "seen_ids": [], "total": 0, "started": now.isoformat()}
        cursor["run"] = run
        known_open = list(cursor.get("open_ids") or [])
        tracked = set(known_open)

        def note(orders: list[OrderSnapshot]) -> None:
            run["total"] += len(orders)
            for snap in orders:
                if snap.external_id in tracked:
                    run["seen_ids"].append(snap.external_id)
                if any(i.raw_status in OPEN_ITEM_CODES for i in snap.items):
                    if run["open_ids"] is not None:
                        run["open_ids"].append(snap.external_id)
                        if len(run["open_ids"]) > MAX_TRACKED_OPEN:
                            run["open_ids"] = None
                    if snap.ordered_at:
                        day = _date(snap.ordered_at)
                        if run["oldest_open"] is None or day < run["oldest_open"]:
                            run["oldest_open"] = day

        while run["step"] < len(run["steps"]):
            kind, start, step_states = run["steps"][run["step"]]
            final = run["step"] == len(run["steps"]) - 1
            if kind == "closed":
                yield from self._closed_orders(client, run, known_open, note)
                self._finish_run(cursor, run)
                return
            for orders in self._list_pages(client, run, start, step_states, page_size):
                note(orders)
                done = run["page_index"] < 0  # the last page of this step
                if done:
                    run["step"] += 1
                    run["page_index"], run["seen"] = 0, 0
                    if final:
                        self._finish_run(cursor, run)
                if orders:
                    yield orders
            if final:
                return
        self._finish_run(cursor, run)

    def _list_pages(
        self, client: TipserClient, run: dict[str, Any], start: str, states: str, page_size: int
    ) -> Iterator[list[OrderSnapshot]]:
        """The pages of one list query from ``run["page_index"]``; after the last page,
        ``run["page_index"]`` is set to -1 before it is yielded."""
        first = int(run["page_index"])

        def fetch(index: int) -> Any:
            if index - first >= MAX_PAGES:
                raise ProviderBadReply(
                    f"list_orders: more than {MAX_PAGES} pages; stopped", operation="list_orders"
                )
            return client.list_orders(
                from_date=start, states=states, page_size=page_size, page_index=index
            )

        scope = client.rate_scope
        pages = paging.iter_pages(
            fetch,
            first_index=first,
            seen=int(run["seen"]),
            page_size=page_size,
            parallel=paging.parallel_for_rate(scope.rate if scope else None),
        )
        for index, body, last in pages:
            orders, _count = mapping.parse_order_page(body)
            run["seen"] += len(body["items"])
            run["page_index"] = -1 if last else index + 1
            yield orders
            if last:
                return

    def _closed_orders(
        self,
        client: TipserClient,
        run: dict[str, Any],
        known_open: list[str],
        note: Callable[[list[OrderSnapshot]], None],
    ) -> Iterator[list[OrderSnapshot]]:
        """Orders open in the previous run that this run's queries did not return, by id."""
        seen = set(run["seen_ids"])
        todo = [i for i in known_open if i not in seen]
        for start in range(0, len(todo), CLOSED_BATCH):
            batch = []
            for order_id in todo[start : start + CLOSED_BATCH]:
                try:
                    batch.append(mapping.parse_order(client.get_order(order_id)))
                except ProviderRejected as exc:  # gone at Tipser (404/403): stop tracking it
                    logger.warning("Tipser order %s no longer readable: %s", order_id, exc)
            note(batch)
            # asked for now (also those gone): a resumed run does not fetch them again
            run["seen_ids"].extend(i for i in todo[start : start + CLOSED_BATCH] if i not in seen)
            if batch:
                yield batch

    def _finish_run(self, cursor: dict[str, Any], run: dict[str, Any]) -> None:
        started = dt.datetime.fromisoformat(run["started"])
        fallback = _date(started - dt.timedelta(days=self._int_option("safety_days")))
        cursor["next_from"] = run["oldest_open"] or fallback
        cursor["new_from"] = fallback
        # None: too many to fetch one by one; the next run walks from the oldest open one
        ids = run["open_ids"]
        cursor["open_ids"] = None if ids is None else list(dict.fromkeys(ids))
        cursor["last_from"] = min((str(s[1]) for s in run["steps"] if s[1]), default="")
        cursor["last_count"] = run["total"]
        cursor.pop("run", None)

    # --- status changes --------------------------------------------------------------------
    def _allowed(self, item: ItemRequest, code: str) -> bool:
        target = STATUSES.item_state_for(code)
        return target is not None and STATUSES.item_allows(
            target, raw_status=item.raw_status, next_statuses=item.next_statuses
        )

    def set_item_status(
        self, order: OrderRequest, items: list[ItemRequest], target: str, *, comment: str = ""
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
        self, order: OrderRequest, target: str, *, skip: tuple[str, ...], comment: str
    ) -> None:
        """An order-level change: one request with every item that is not already past it."""
        items = [i for i in order.items if i.state not in skip and i.external_id]
        if not items:
            raise ProviderValidationError("No item of this order can take this change.")
        self.set_item_status(order, items, target, comment=comment)

    def cancel_order(self, order: OrderRequest) -> None:
        self._whole_order(order, I.CANCELLED, skip=(I.CANCELLED,), comment="Cancelled by merchant")

    def hold_order(self, order: OrderRequest) -> None:
        self._whole_order(
            order,
            I.ON_HOLD,
            skip=(I.CANCELLED, I.SHIPPED, I.RETURNED, I.ON_HOLD),
            comment="On hold",
        )

    def release_order(self, order: OrderRequest) -> None:
        live = [
            i
            for i in order.items
            if i.external_id and i.state not in (I.CANCELLED, I.SHIPPED, I.RETURNED)
        ]
        # The held items; when none is known as held yet (the hold was just sent and no sync
        # has run since), every live item: Tipser decides, a refusal is shown as such.
        items = [i for i in live if i.state == I.ON_HOLD] or live
        if not items:
            raise ProviderValidationError("No item of this order can be released.")
        self.set_item_status(order, items, I.ACKNOWLEDGED, comment="Hold released")

    def push_shipment(self, shipment: ShipmentRequest) -> None:
        """Post the shipping information, then mark the shipped items Shipped (which makes
        Tipser send the confirmation and invoice) — the doc keeps the two apart."""
        order = shipment.order
        items = [line.item for line in shipment.lines]
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

    def order_state_after_items(self, order: OrderRequest, items: list[ItemRequest]) -> str | None:
        return mapping.order_state_from_item_states([i.state for i in items])

    # --- carriers --------------------------------------------------------------------------
    def _markets(self, *, refresh: bool = False) -> dict[str, Any]:
        """``GET /v3/markets`` read into all carrier names and names per market, cached per
        account (``core.account_cache``, the one cache of provider data per account)."""

        def load() -> dict[str, Any]:
            body = self.client.markets()
            return {"all": mapping.parse_carriers(body),
                    "markets": mapping.carriers_by_market(body)}

        return dict(account_cache.read_through(
            self.account.pk, f"tipser-markets:{self.base_url}", load,
            max_age=CARRIER_CACHE_SECONDS, refresh=refresh))

    def carrier_names(self, *, refresh: bool = False, order: OrderRequest | None = None) -> list[str]:
        """Carrier names: those of the order's market ("from the proper market section"),
        every market's when the order's market is not found."""
        markets = self._markets(refresh=refresh)
        if order is not None:
            own = mapping.market_carriers(markets["markets"], country=order.country or "",
                                          currency=order.currency or "")
            if own is not None:
                return list(own)
        return list(markets["all"])

    def carrier_choices(self, order: OrderRequest | None = None) -> list[tuple[str, str]]:
        """Choices for the ship form: the carriers of the order's market, the customer's
        preferred one, and "other" (sent as null). A failing markets call still leaves
        "other"."""
        try:
            names = self.carrier_names(order=order)
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
