"""Brandsdistribution / BDroppy "ghost" API: we place dropshipping orders for a merchant.

Placement (one order per request, as the docs advise), optionally reserving first:

1. read the reservation (baseline), ``lock`` the order's quantities, read it back;
2. anything short: release what we locked and stop before sending (``ProviderShortfall``:
   the order fails with requested vs held per item, the operator accepts or cancels);
3. send the order; a refusal releases what we locked. The reply lists the models *remaining*
   in the reservation (not what the order took): what the order took is the reservation read
   before sending minus what remains; only a full take is confirmed, anything unproven stays
   unconfirmed (never a shortfall invented after sending). Whatever of ours is still reserved
   afterwards is unlocked, so nothing stays reserved by us;
4. read the status by key: the authority for the provider's order id (the reply's ``order_id``
   is 0 in the doc's JSON sample) and status.

Status, reconcile and sync all use the lookup by our reference (the provider's ``ext_ref``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING, Any

from django.utils import timezone

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

from . import mapping, statuses
from .client import BrandsdistributionClient

if TYPE_CHECKING:
    from providers.types import AccountConfig, ItemRequest, MerchantRef, OrderRequest

CARRIER_CACHE_TTL = dt.timedelta(hours=12)


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
        baseline: dict[str, dict[str, int]] = {}
        held: dict[str, int] = {}
        before_send: dict[str, dict[str, int]] | None = None
        if self.reserve_first:
            baseline, held, before_send = self._reserve(client, items, wanted)
        document = mapping.order_document(order, items)
        try:
            reply = client.create_order(document)
        except (ProviderRejected, ProviderUnavailable) as exc:
            # Nothing was created: give back what we locked (a retry locks again).
            note = self._release(client, baseline, held) if held else ""
            exc.message = exc.message + note
            exc.args = (exc.message,)
            raise
        remaining = reply["models"]
        notes: list[str] = []
        confirmed: dict[int, int] = {}
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
            leftover = {sid: min(held.get(sid, 0), mapping.locked(remaining, sid)
                                 - mapping.locked(baseline, sid)) for sid in wanted}
            leftover = {sid: q for sid, q in leftover.items() if q > 0}
            if leftover:
                notes.append(self._unlock(client, leftover))
        else:
            notes.append("Sent without a reservation: Brandsdistribution takes only what is "
                         "available and does not say how much, so quantities are not confirmed.")
        # The status by key is the authority for the provider's order id and status.
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
        """Lock ``wanted``. Returns (baseline reservation, what we now hold per stock id,
        the reservation right before sending). A shortfall is found here, before anything
        is sent, and what we locked is given back."""
        before = client.reservation()
        try:
            client.reserve("lock", wanted)
        except ProviderError as exc:
            note = self._release(client, before, wanted)
            if isinstance(exc, ProviderOutcomeUnknown | ProviderBadReply):
                raise ProviderRejected(
                    f"Reservation did not complete ({exc}); the order was not sent.{note}",
                    http_status=exc.http_status, operation=exc.operation,
                ) from exc
            exc.message = f"Reservation refused: {exc.message}. The order was not sent.{note}"
            exc.args = (exc.message,)
            raise
        after = client.reservation()
        held = {
            sid: max(0, min(qty, mapping.locked(after, sid) - mapping.locked(before, sid)))
            for sid, qty in wanted.items()
        }
        if any(held[sid] < qty for sid, qty in wanted.items()):
            confirmed = mapping.held_quantities(items, held)
            note = self._release(client, before, held)
            details = "; ".join(
                f"stock {sid}: requested {qty}, locked {held[sid]}"
                f" (available {after.get(sid, {}).get('available', 0)})"
                for sid, qty in wanted.items() if held[sid] < qty
            )
            raise ProviderShortfall(
                f"Reservation shortfall — {details}. The order was not sent; accept the "
                f"available quantities or cancel.{note}",
                confirmed_quantities=confirmed,
                fields={f"stock_id.{sid}": f"requested {qty}, locked {held[sid]}"
                        for sid, qty in wanted.items() if held[sid] < qty},
                operation="reserve_lock", code="shortfall",
            )
        return before, held, after

    def _release(
        self, client: BrandsdistributionClient, before: dict[str, dict[str, int]],
        wanted: dict[str, int],
    ) -> str:
        """Unlock whatever this attempt added to the reservation. Best effort: returns a note."""
        try:
            now = client.reservation()
        except ProviderError as exc:
            return f" Could not release the locked quantities ({exc}); check the reservation."
        extra = {
            sid: min(qty, mapping.locked(now, sid) - mapping.locked(before, sid))
            for sid, qty in wanted.items()
        }
        extra = {sid: q for sid, q in extra.items() if q > 0}
        return (" " + self._unlock(client, extra)) if extra else ""

    def _unlock(self, client: BrandsdistributionClient, quantities: dict[str, int]) -> str:
        try:
            client.reserve("unlock", quantities)
        except ProviderError as exc:
            return (f"Could not release the locked quantities ({exc}); see the account's "
                    "reservation.")
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


# --- carrier list, cached on the account -----------------------------------------------------
def carrier_choices(account: AccountConfig, *, refresh: bool = False) -> dict[str, Any]:
    """``{"carriers": [{"id","name","cost"}], "fetched_at": iso, "error": str}``.

    Served from ``account.state["carriers"]`` while fresh; otherwise read from the provider
    and saved back. When the list cannot be read, the cached one (maybe empty) is returned
    with ``error`` set, and the admin falls back to a free carrier id field.
    """
    from merchants.models import ProviderAccount as Account

    cached = dict((account.state or {}).get("carriers") or {})
    fetched = cached.get("fetched_at")
    fresh = False
    if fetched and not refresh:
        try:
            fresh = timezone.now() - dt.datetime.fromisoformat(fetched) < CARRIER_CACHE_TTL
        except ValueError:
            fresh = False
    if fresh:
        return {**cached, "error": ""}
    try:
        carriers = BrandsdistributionService(account).list_carriers()
    except ProviderError as exc:
        return {"carriers": cached.get("carriers", []), "fetched_at": fetched, "error": str(exc)}
    entry = {"carriers": carriers, "fetched_at": timezone.now().isoformat()}
    # TODO(issue 14, branch truth): a provider must not write the account; the domain will.
    state = {**(account.state or {}), "carriers": entry}
    Account.objects.filter(pk=account.pk or 0).update(state=state)
    return {**entry, "error": ""}


def _quantities(items: list[ItemRequest]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for item in items:
        counts[mapping.stock_id(item)] += item.quantity
    return dict(counts)


def _safe_url(value: Any) -> str:
    text = str(value or "").strip()
    return text[:500] if text.startswith(("http://", "https://")) else ""
