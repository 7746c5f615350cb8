"""Brandsdistribution / BDroppy "ghost" API: we place dropshipping orders for a merchant.

Placement (one order per request, as the docs advise), inside the account's placement turn
(``reservations.placement_turn``: one placement at a time per account, across threads and,
on PostgreSQL, processes), optionally reserving first:

1. ``lock`` the order's quantities; the lock's reply lists the reservation. The baseline is the
   reservation remembered from the previous reply (read once per batch, not per order);
2. the reservation holding less than the order wants is a shortfall: what our lock added is
   released and nothing is sent (``ProviderShortfall``: requested vs held per item, the
   operator accepts or cancels);
3. send the order. The reply lists the models *remaining* in the reservation (not what the
   order took): what the order took is the reservation after the lock minus what remains;
   only a full take is confirmed, anything unproven stays unconfirmed (never a shortfall
   invented after sending). Whatever of ours is still reserved afterwards is unlocked. A
   create that fails — refused, unavailable, timed out, unreadable — is settled the same
   way: the reservation is read and what stands above the baseline is released (an order
   that was created took its quantities, so nothing of it is released);
4. read the status by key: the authority for the order's id and status (the reply's
   ``order_id`` is 0 in the doc's JSON sample and looks like the reservation's "growing"
   virtual order; it is only a fallback when the lookup cannot be read).

Steady state: three calls per order (lock, create, status by key); the reservation is read
once per batch. Status, reconcile and sync use the lookup by our reference (``ext_ref``).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from core import account_cache
from providers.base import CredentialField, OptionField, ProviderService
from providers.errors import (
    ProviderBadReply,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderShortfall,
    ProviderUnavailable,
)
from providers.registry import register
from providers.types import OrderSnapshot, PlacementResult, ShipmentSnapshot

from . import mapping, reservations, statuses
from .client import BrandsdistributionClient

if TYPE_CHECKING:
    from providers.types import AccountConfig, ItemRequest, MerchantRef, OrderRequest

CARRIER_CACHE_NAME = "bd-carriers"
CARRIER_CACHE_SECONDS = 12 * 3600


@register
class BrandsdistributionService(ProviderService):
    key = "brandsdistribution"
    label = "Brandsdistribution"
    statuses = statuses.STATUSES
    credential_fields = (
        CredentialField("api_key", "API key", "HTTP Basic user name."),
        CredentialField("password", "Password", "HTTP Basic password of the API key."),
    )
    option_fields = (
        OptionField("wire_format", "Wire format", mapping.JSON,
                    choices=((mapping.JSON, "JSON"), (mapping.XML, "XML")),
                    help_text="Some accounts must talk XML."),
        OptionField("reserve_first", "Reserve before ordering", True,
                    help_text="Lock the quantities and check them before sending the order."),
    )
    base_url_setting = "BRANDSDISTRIBUTION_API_URL"
    sandbox_prefix = "/sandbox/brandsdistribution/"

    # --- helpers -------------------------------------------------------------------------
    @property
    def wire_format(self) -> str:
        return str(self.option("wire_format") or mapping.JSON).lower()

    @property
    def reserve_first(self) -> bool:
        value = self.option("reserve_first")
        if isinstance(value, str):
            return value.strip().lower() not in ("false", "0", "no", "off")
        return bool(value)

    @property
    def client(self) -> BrandsdistributionClient:
        return BrandsdistributionClient(
            base_url=self.base_url,
            api_key=self.credential("api_key"),
            password=self.credential("password"),
            wire_format=self.wire_format,
            recorder=self.recorder,
            secrets=self.secrets,
            rate_scope=self.rate_scope,
        )

    # --- account -------------------------------------------------------------------------
    def check_account(self, *, merchant: MerchantRef | None = None) -> str:
        models = self.client.reservation()
        return (f"Credentials accepted ({self.wire_format.upper()}); "
                f"{len(models)} model(s) reserved.")

    def list_carriers(self) -> list[dict[str, Any]]:
        return self.client.carriers()

    # --- placement -----------------------------------------------------------------------
    def validate_for_placement(self, order: OrderRequest) -> dict[str, str]:
        problems: dict[str, str] = {}
        if self.wire_format not in mapping.CONTENT_TYPES:
            problems["account.wire_format"] = "Must be 'json' or 'xml'."
        for name, label in (("contact_name", "recipient"), ("address_line1", "street"),
                            ("postal_code", "zip"), ("city", "city"),
                            ("phone_number", "phone number")):
            if not str(getattr(order, name) or "").strip():
                problems[name] = f"Required by Brandsdistribution ({label})."
        if len((order.country or "").strip()) != 2 or not order.country.isalpha():
            problems["country"] = "An ISO 3166-1 alpha-2 country code is required."
        opts = order.provider_options or {}
        if not isinstance(opts, dict):
            return {**problems, "provider_options": "Must be an object."}
        carrier = str(opts.get("carrierId", "") or "").strip()
        if carrier and not carrier.isdigit():
            problems["provider_options.carrierId"] = "A numeric carrier id (see the carrier list)."
        confirm = opts.get("autoConfirm", True)
        if not isinstance(confirm, bool) and str(confirm).lower() not in ("true", "false"):
            problems["provider_options.autoConfirm"] = "true or false."
        for name in mapping.RECIPIENT_OPTIONS + mapping.ADDRESS_OPTIONS:
            if name in opts and not isinstance(opts[name], str | int):
                problems[f"provider_options.{name}"] = "Must be text."
        for index, item in enumerate(order.items):
            if not mapping.stock_id(item).isdigit():
                problems[f"items[{index}].sku"] = (
                    "Brandsdistribution needs the numeric stock_id (model id of the size/colour "
                    f"variation) as SKU; got '{item.sku}'."
                )
        return problems

    def place_order(self, order: OrderRequest) -> PlacementResult:
        items = list(order.items)
        client = self.client
        wanted = _quantities(items)
        pk = self.account.pk
        held: dict[str, int] = {}
        notes: list[str] = []
        baseline: dict[str, dict[str, int]] | None
        before_send: dict[str, dict[str, int]] | None
        with reservations.placement_turn(pk):
            if self.reserve_first:
                baseline, held, before_send = self._reserve(client, items, wanted)
            else:
                baseline, before_send = reservations.remembered(pk), None
            try:
                reply = client.create_order(mapping.order_document(order, items))
            except ProviderError as exc:
                # Rejected or unavailable: nothing was created. Unknown: if the order was
                # created it took its quantities out of the reservation. Either way, what is
                # still reserved above the baseline is ours (an aborted create may have added
                # some): release it, so nothing stays reserved by us.
                if baseline is not None and (held or not isinstance(exc, ProviderUnavailable)):
                    note = self._settle(client, baseline, wanted,
                                        cap={s: q + held.get(s, 0) for s, q in wanted.items()})
                    exc.message = exc.message + (" " + note if note else "")
                    exc.args = (exc.message,)
                raise
            remaining = reply["models"]
            reservations.remember(pk, remaining)
            taken: dict[str, int] = {}
            if before_send is not None:
                taken = mapping.taken_from_reservation(before_send, remaining, wanted)
                confirmed = mapping.confirmed_quantities(items, taken)
                unproven = [f"stock {sid}: {taken[sid]} of {qty} seen leaving the reservation"
                            for sid, qty in wanted.items() if taken[sid] < qty]
                if unproven:
                    notes.append("Quantities not confirmed (" + "; ".join(unproven) + "); check "
                                 "the order at Brandsdistribution.")
                # Whatever of ours is still reserved after the order would stay locked forever.
                base = baseline or {}  # always set when reserving first
                leftover = {sid: min(held.get(sid, 0), mapping.locked(remaining, sid)
                                     - mapping.locked(base, sid)) for sid in wanted}
                leftover = {sid: q for sid, q in leftover.items() if q > 0}
                if leftover:
                    notes.append(self._unlock(client, leftover))
            else:
                confirmed = mapping.confirmed_from_remaining(items, remaining)
                if len(confirmed) < len(items):
                    notes.append("Sent without a reservation: Brandsdistribution takes only what "
                                 "is available and says how much only when stock or reserved "
                                 "quantity of the model is left; the other quantities are not "
                                 "confirmed.")
        # The status by key is the authority for the order's id and status, read after every
        # create. The reply's ``order_id`` looks like the reservation's ("growing") virtual
        # order rather than this order: the reservation status carries the same attribute (both
        # doc samples say 1000) and Rewix's own shop plugin keeps that one as the growing
        # order's id and reads the new order's id by key right after the create. It is only a
        # fallback when the lookup cannot be read (never a 0).
        entry = None
        try:
            entry = self._lookup(order)
        except ProviderError as exc:
            notes.append(f"Status by key not read ({exc}).")
        order_id = entry["order_id"] if entry else (str(reply["order_id"])
                                                     if reply["order_id"] else "")
        if not order_id:
            raise ProviderBadReply(
                "place_order: the reply carries no order id "
                f"(order_id={reply['raw'].get('order_id')!r}) and the status by key found no "
                "order; look the order up by reference",
                operation="place_order",
            )
        raw_status = entry["status"] if entry and entry["status"] else statuses.BOOKED
        return PlacementResult(
            external_ids=[order_id],
            raw_status=raw_status,
            state=self.statuses.order_state_for(raw_status) if entry else None,
            confirmed_quantities=confirmed,
            message=" ".join(n for n in notes if n),
            raw={"order_id": order_id, "reply_order_id": reply["order_id"],
                 "remaining_in_reservation": remaining, "taken_from_reservation": taken,
                 "wire_format": self.wire_format, "reserved": held,
                 **({"status": entry} if entry else {})},
        )

    def _reserve(
        self, client: BrandsdistributionClient, items: list[ItemRequest], wanted: dict[str, int]
    ) -> tuple[dict[str, dict[str, int]], dict[str, int], dict[str, dict[str, int]]]:
        """Lock ``wanted`` (inside the account's placement turn). Returns (the reservation
        before the lock, what our lock added per stock id, the reservation after it).

        The lock's reply lists the reservation; the baseline is the remembered one (read once
        per batch). The order is short exactly when the reservation after the lock holds less
        than it wants (it takes its quantities from the reservation, and nothing else of ours
        changes it before the create) — whatever the baseline, so a stale baseline can never
        invent a shortfall. A shortfall is found here, before anything is sent, and what our
        lock added is given back."""
        pk = self.account.pk
        before = reservations.baseline(pk, client)
        try:
            after = client.reserve("lock", wanted)
        except ProviderError as exc:
            note = self._settle(client, before, wanted, cap=wanted)
            if isinstance(exc, ProviderOutcomeUnknown | ProviderBadReply):
                raise ProviderRejected(
                    f"Reservation did not complete ({exc}); the order was not sent. {note}",
                    http_status=exc.http_status, operation=exc.operation,
                ) from exc
            exc.message = f"Reservation refused: {exc.message}. The order was not sent. {note}"
            exc.args = (exc.message,)
            raise
        if after is None:  # a reply without the reservation: read it
            after = client.reservation()
        reservations.remember(pk, after)
        held = {
            sid: max(0, min(qty, mapping.locked(after, sid) - mapping.locked(before, sid)))
            for sid, qty in wanted.items()
        }
        short = {sid: mapping.locked(after, sid) for sid, qty in wanted.items()
                 if mapping.locked(after, sid) < qty}
        if short:
            confirmed = mapping.held_quantities(
                items, {sid: min(qty, mapping.locked(after, sid)) for sid, qty in wanted.items()})
            extra = {sid: q for sid, q in held.items() if q > 0}
            note = self._unlock(client, extra) if extra else ""
            details = "; ".join(
                f"stock {sid}: requested {wanted[sid]}, locked {got}"
                f" (available {after.get(sid, {}).get('available', 0)})"
                for sid, got in short.items()
            )
            raise ProviderShortfall(
                f"Reservation shortfall — {details}. The order was not sent; accept the "
                f"available quantities or cancel. {note}".rstrip(),
                confirmed_quantities=confirmed,
                fields={f"stock_id.{sid}": f"requested {wanted[sid]}, locked {got}"
                        for sid, got in short.items()},
                operation="reserve_lock", code="shortfall",
            )
        return before, held, after

    def _settle(
        self, client: BrandsdistributionClient, before: dict[str, dict[str, int]],
        wanted: dict[str, int], *, cap: dict[str, int],
    ) -> str:
        """Read the reservation and unlock what stands above ``before`` on the order's stock
        ids (at most ``cap``): ours, inside the placement turn. Best effort: returns a note."""
        try:
            now = client.reservation()
        except ProviderError as exc:
            reservations.forget(self.account.pk)
            return f"Could not check the reservation ({exc}); see the account's reservation."
        reservations.remember(self.account.pk, now)
        extra = {sid: min(cap.get(sid, 0), mapping.locked(now, sid) - mapping.locked(before, sid))
                 for sid in wanted}
        extra = {sid: q for sid, q in extra.items() if q > 0}
        return self._unlock(client, extra) if extra else ""

    def _unlock(self, client: BrandsdistributionClient, quantities: dict[str, int]) -> str:
        try:
            after = client.reserve("unlock", quantities)
        except ProviderError as exc:
            reservations.forget(self.account.pk)
            return (f"Could not release the locked quantities ({exc}); see the account's "
                    "reservation.")
        if after is None:
            reservations.forget(self.account.pk)  # read again by the next placement
        else:
            reservations.remember(self.account.pk, after)
        return "Released the locked quantities."

    # --- status --------------------------------------------------------------------------
    def _lookup(self, order: OrderRequest) -> dict[str, Any] | None:
        found = self.client.orders_by_key(order.reference)
        mine = [o for o in found if str(o.get("ext_ref", order.reference)) == order.reference]
        if not mine:
            return None
        if order.external_id:
            for entry in mine:
                if entry["order_id"] == order.external_id:
                    return entry
        return max(mine, key=lambda o: int(o["order_id"]))

    def reconcile_placement(self, order: OrderRequest) -> PlacementResult | None:
        entry = self._lookup(order)
        if entry is None:
            return None
        return PlacementResult(
            external_ids=[entry["order_id"]],
            raw_status=entry["status"],
            state=self.statuses.order_state_for(entry["status"]),
            raw={"status": entry},
        )

    def fetch_order(self, order: OrderRequest) -> OrderSnapshot:
        entry = self._lookup(order)
        if entry is None:
            raise ProviderRejected(
                f"Brandsdistribution has no order with reference {order.reference}.",
                operation="order_status", code="not_found",
            )
        shipments = []
        tracking = str(entry.get("tracking_code") or "").strip()
        if tracking:
            shipments.append(ShipmentSnapshot(
                external_id=tracking,
                carrier=str(entry.get("carrier_name") or ""),
                tracking_number=tracking,
                tracking_url=_safe_url(entry.get("tracking_url")),
                shipped=True,
                raw=entry,
            ))
        return OrderSnapshot(
            external_id=entry["order_id"],
            external_ids=[entry["order_id"]],
            raw_status=entry["status"],
            shipments=shipments,
            raw={**(order.raw_data or {}), "status": entry,
                 "status_read_at": timezone.now().isoformat()},
        )


# --- carrier list, cached per account (core.account_cache) ------------------------------------
def carrier_choices(account: AccountConfig, *, refresh: bool = False) -> dict[str, Any]:
    """``{"carriers": [{"id","name","cost"}], "fetched_at": iso, "error": str}``.

    Served from ``core.account_cache`` while fresh (``CARRIER_CACHE_SECONDS``); otherwise read
    from the provider and cached. When the list cannot be read, the last cached one (maybe
    empty) is returned with ``error`` set, and the admin falls back to a free carrier id field.
    """
    if not refresh:
        fresh = account_cache.entry(account.pk, CARRIER_CACHE_NAME)
        if fresh is not None and account_cache.age(fresh) <= CARRIER_CACHE_SECONDS:
            return {"carriers": fresh["data"], "fetched_at": fresh["stored_at"], "error": ""}
    try:
        carriers = BrandsdistributionService(account).list_carriers()
    except ProviderError as exc:
        stale = account_cache.entry(account.pk, CARRIER_CACHE_NAME)
        return {"carriers": stale["data"] if stale else [],
                "fetched_at": stale["stored_at"] if stale else None, "error": str(exc)}
    stored = account_cache.put(account.pk, CARRIER_CACHE_NAME, carriers)
    return {"carriers": carriers, "fetched_at": stored["stored_at"], "error": ""}


def _quantities(items: list[ItemRequest]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for item in items:
        counts[mapping.stock_id(item)] += item.quantity
    return dict(counts)


def _safe_url(value: Any) -> str:
    text = str(value or "").strip()
    return text[:500] if text.startswith(("http://", "https://")) else ""


# --- the operator's reservation tools (admin, API) --------------------------------------------
def reservation_read(account: AccountConfig) -> dict[str, Any]:
    """Read the reservation now: ``{"models": [{"stock_id","locked","available","since"}],
    "read_at", "error"}``; when unreadable, the last known view with ``error``."""
    try:
        models = BrandsdistributionService(account).client.reservation()
    except ProviderError as exc:
        return {**reservations.reservation_view(account.pk), "error": str(exc)}
    reservations.remember(account.pk, models)
    return {**reservations.reservation_view(account.pk), "error": ""}


def reservation_release(account: AccountConfig) -> str:
    """Unlock every model the account's reservation holds now (read first); a note. Takes the
    account's placement turn, so it never releases what a placement in progress holds."""
    client = BrandsdistributionService(account).client
    with reservations.placement_turn(account.pk):
        models = client.reservation()
        locked = {sid: m["locked"] for sid, m in models.items() if m["locked"] > 0}
        if not locked:
            reservations.remember(account.pk, models)
            return "Nothing is reserved."
        after = client.reserve("unlock", locked)
        reservations.remember(account.pk, after if after is not None else client.reservation())
    return "Released " + ", ".join(f"{q} x {sid}" for sid, q in sorted(locked.items())) + "."
