"""The interface every provider implements (``providers/<key>/service.py``).

A service is built per account by ``providers.registry.service_for(config, recorder=...)``
from a frozen ``AccountConfig``. It is handed frozen requests (``OrderRequest``,
``ItemRequest``, ``ShipmentRequest``, ``MerchantRef`` from ``providers.types``; the domain
builds them in ``orders.provider_requests`` / ``merchants.provider_requests``), returns plain
data from ``providers.types`` and raises ``providers.errors``. It never sees or writes our
models: the domain services in ``orders``/``merchants`` do that.

Every HTTP request goes through the client the service builds (``providers.http.HttpClient``)
with ``recorder`` and ``rate_scope``: the client limits, records and redacts each one, whatever
the method — nothing here wraps operations.

Operations a provider does not have raise ``ProviderNotSupported``; ``supports(op)`` tells
the admin and API which to offer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings

from . import ratelimit
from .errors import ProviderNotSupported, ProviderRejected
from .http import Recorder
from .ratelimit import RateScope
from .statuses import StatusTable
from .types import ItemSnapshot, MerchantRegistration, OrderSnapshot, PlacementResult

if TYPE_CHECKING:
    import datetime as dt

    from providers.types import AccountConfig, ItemRequest, MerchantRef, OrderRequest, ShipmentRequest


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str
    help_text: str = ""


@dataclass(frozen=True)
class OptionField:
    name: str
    label: str
    default: Any
    choices: tuple[tuple[str, str], ...] | None = None
    help_text: str = ""
    # With choices: several may be picked; stored as the comma-separated codes.
    multiple: bool = False


class ProviderService:
    key: ClassVar[str]
    label: ClassVar[str]
    statuses: ClassVar[StatusTable]
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    option_fields: ClassVar[tuple[OptionField, ...]] = ()
    base_url_setting: ClassVar[str] = ""
    sandbox_prefix: ClassVar[str] = ""  # e.g. "/sandbox/tipser/"
    # Does placement happen at all here (Tipser orders arrive placed)?
    places_orders: ClassVar[bool] = True
    # Calls per second one account may make (None: settings.PROVIDER_DEFAULT_RATE_LIMIT);
    # an account's options["rate_limit"] overrides it. Applied by the HTTP client to every
    # request (the client is built with ``rate_scope``). See providers/ratelimit.py.
    rate_limit: ClassVar[float | None] = None

    def __init__(self, account: AccountConfig, *, recorder: Recorder | None = None) -> None:
        self.account = account
        self.recorder = recorder

    # --- account helpers -----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.account.base_url or getattr(settings, self.base_url_setting, "")

    def credential(self, name: str, default: str = "") -> str:
        if not getattr(self.account, "credentials_readable", True):
            # the key was changed without keeping the old one: never call with empty values
            raise ProviderRejected(
                f"{self.account}: credentials unreadable — enter them again "
                "(FIELD_ENCRYPTION_KEY does not decrypt them)."
            )
        return str(self.account.credentials.get(name, default) or default)

    @property
    def rate_scope(self) -> RateScope | None:
        """This account's limiter scope: every client the service builds is given it, so
        each HTTP request of any operation takes a slot (``providers.http.HttpClient``)."""
        return ratelimit.scope_for(self)

    @property
    def secrets(self) -> list[str]:
        return [str(v) for v in self.account.credentials.values() if v]

    def option(self, name: str) -> Any:
        if name in self.account.options:
            return self.account.options[name]
        for opt in self.option_fields:
            if opt.name == name:
                return opt.default
        raise KeyError(name)

    @classmethod
    def supports(cls, operation: str) -> bool:
        own = getattr(cls, operation, None)
        base = getattr(ProviderService, operation, None)
        return own is not None and own is not base

    # --- operations (override what the provider has) --------------------------------------
    def check_account(self, *, merchant: MerchantRef | None = None) -> str:
        """A harmless call proving credentials (and the merchant id) work. Returns a note."""
        raise ProviderNotSupported(f"{self.label} has no account check.")

    def validate_for_placement(self, order: OrderRequest) -> dict[str, str]:
        """Field -> problem for anything the provider would refuse. Empty when fine."""
        return {}

    def place_order(self, order: OrderRequest) -> PlacementResult:
        raise ProviderNotSupported(f"{self.label} does not take orders from us.")

    def reconcile_placement(self, order: OrderRequest) -> PlacementResult | None:
        """Look the order up by our reference: the result, or None when the provider has
        no such order (it was never placed)."""
        raise ProviderNotSupported(f"{self.label} has no lookup by our reference.")

    def fetch_order(self, order: OrderRequest) -> OrderSnapshot:
        raise ProviderNotSupported(f"{self.label} cannot read an order back.")

    def iter_incoming(
        self, *, since: dt.datetime | None, cursor: dict[str, Any]
    ) -> Iterator[list[OrderSnapshot]]:
        """Pages of orders new or changed since ``since``; may update ``cursor`` in place."""
        raise ProviderNotSupported(f"{self.label} does not send orders to us.")

    def cancel_order(self, order: OrderRequest) -> None:
        raise ProviderNotSupported(f"{self.label} cannot cancel an order through its API.")

    def push_shipment(self, shipment: ShipmentRequest) -> None:
        raise ProviderNotSupported(f"{self.label} takes no shipping information from us.")

    def set_item_status(
        self, order: OrderRequest, items: list[ItemRequest], target: str, *, comment: str = ""
    ) -> None:
        raise ProviderNotSupported(f"{self.label} has no item statuses to change.")

    # --- order-level hold (Tipser: a status change for all items) -------------------------
    def hold_order(self, order: OrderRequest) -> None:
        raise ProviderNotSupported(f"{self.label} has no hold through its API.")

    def release_order(self, order: OrderRequest) -> None:
        raise ProviderNotSupported(f"{self.label} has no hold to release through its API.")

    # --- shipping form helpers -------------------------------------------------------------
    def carrier_choices(self, order: OrderRequest | None = None) -> list[tuple[str, str]] | None:
        """(value, label) carriers for the ship form; None: free text (no list known)."""
        return None

    def order_state_after_items(self, order: OrderRequest, items: list[ItemRequest]) -> str | None:
        """The canonical order state its items' states imply, for providers whose order
        state follows its items (Tipser); None: the order state is its own."""
        return None

    # --- merchant registration (Aliseeks) --------------------------------------------------
    def register_merchant(
        self, *, redirect_url: str, merchant_id: str = ""
    ) -> MerchantRegistration:
        """Ask the provider for a one-time authorization URL for a merchant; the provider
        sends the merchant back to ``redirect_url``. ``merchant_id`` re-authorizes."""
        raise ProviderNotSupported(f"{self.label} has no merchant registration through its API.")
    # --- provider-side drafts, execution and extra information (reseller v3) -------------
    # Additive verbs for providers that build an order step by step at their side.
    def refusal(self, operation: str) -> str:
        """Why this account may not run ``operation`` at all (e.g. a read-only edition);
        empty when it may. Checked by the domain before any call."""
        return ""

    def create_draft(self, order: OrderRequest) -> PlacementResult:
        """Create the provider-side draft of ``order`` (its id, raw status, expiry)."""
        raise ProviderNotSupported(f"{self.label} has no provider-side drafts.")

    def add_item(self, order: OrderRequest, item: ItemRequest) -> str:
        """Add ``item`` to the order's provider draft; the provider's item id."""
        raise ProviderNotSupported(f"{self.label} has no provider-side drafts.")

    def remove_item(self, order: OrderRequest, item: ItemRequest) -> None:
        raise ProviderNotSupported(f"{self.label} has no provider-side drafts.")

    def list_items(self, order: OrderRequest) -> list[ItemSnapshot]:
        """The items of the order's provider draft (to adopt an add whose outcome was unknown)."""
        raise ProviderNotSupported(f"{self.label} has no provider-side drafts.")

    def find_draft(self, order: OrderRequest) -> PlacementResult | None:
        """The provider draft made for ``order`` (after a create whose outcome was unknown);
        None when there is none."""
        raise ProviderNotSupported(f"{self.label} has no provider-side drafts.")

    def poll_execution(self, order: OrderRequest) -> PlacementResult:
        """The execution status of a placed order (raw status, mapped state, message)."""
        raise ProviderNotSupported(f"{self.label} has no execution status.")

    def custom_fields_get(self, order: OrderRequest) -> list[dict[str, Any]]:
        raise ProviderNotSupported(f"{self.label} has no order custom fields.")

    def custom_fields_set(self, order: OrderRequest, values: dict[str, Any]) -> None:
        raise ProviderNotSupported(f"{self.label} has no order custom fields.")

    def item_characteristics_get(self, order: OrderRequest, item: ItemRequest) -> list[dict[str, Any]]:
        raise ProviderNotSupported(f"{self.label} has no item characteristics.")

    def item_characteristics_set(self, order: OrderRequest, item: ItemRequest,
                                 values: dict[str, Any]) -> None:
        raise ProviderNotSupported(f"{self.label} has no item characteristics.")
