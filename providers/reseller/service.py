"""White-label reseller API v3 (interworks.cloud BSS): drafts, items, checkout, execution.

The provider works in steps and our order mirrors them: a provider **Draft** (created by
``create_draft``, expiring 7 days after its order date), items added/removed only while it is
Draft, a **checkout** (our "place"), then an execution polled until final.

Editions: Free may only read (orders, items, execution status, custom fields); every other
call is refused here before any request (``refusal``) with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from providers.base import CredentialField, OptionField, ProviderService
from providers.errors import ProviderValidationError
from providers.registry import register
from providers.types import ItemSnapshot, OrderSnapshot, PlacementResult

from . import mapping, statuses
from .client import ResellerClient

if TYPE_CHECKING:
    import datetime as dt

    from providers.types import ItemRequest, MerchantRef, OrderRequest

FREE, STANDARD = "free", "standard"
# What a Free edition account may do (documented: list/detail/items, part of extra info).
# Steps 5, 6 and the reads of step 7 (custom fields, item characteristics): reads are never
# refused; "partially from 7" is read as "the GETs of step 7, not the PUTs".
FREE_OPERATIONS = frozenset({
    "check_account", "fetch_order", "iter_incoming", "reconcile_placement", "poll_execution",
    "fetch_item", "list_items", "custom_fields_get", "list_orders", "item_characteristics_get",
})
WRITE_OPERATIONS = frozenset({
    "create_draft", "add_item", "remove_item", "place_order", "custom_fields_set",
    "item_characteristics_set",
})


@register
class ResellerService(ProviderService):
    key = "reseller"
    label = "White-label reseller v3"
    statuses = statuses.STATUSES
    credential_fields = (
        CredentialField("client_id", "Client key", "OAuth client key (sent as HTTP Basic)."),
        CredentialField("client_secret", "Client secret", "OAuth client secret."),
        CredentialField("username", "API username", "The API user's username."),
        CredentialField("password", "API password", "The API user's password."),
    )
    option_fields = (
        OptionField("edition", "Edition", "standard",
                    choices=(("free", "Free (read only)"), ("standard", "Standard")),
                    help_text="Free edition accounts may only read."),
        OptionField("account_id", "Default AccountId", "",
                    help_text="The BSS account (reseller or end customer) new drafts are "
                    "created for; an order's provider option 'account_id' overrides it."),
        OptionField("field_names", "Body field names", {},
                    help_text="The API publishes no body field names: override the assumed "
                    "ones, e.g. {\"reference\": \"PONumber\"} (keys: "
                    + ", ".join(mapping.FIELD_NAMES) + ")."),
    )
    base_url_setting = "RESELLER_API_URL"
    sandbox_prefix = "/sandbox/reseller/"

    # --- plumbing ------------------------------------------------------------------------
    @property
    def client(self) -> ResellerClient:
        client = getattr(self, "_client", None)
        if client is None:
            client = self._client = ResellerClient(
                base_url=self.base_url,
                account_key=str(self.account.pk or self.account.name),
                client_id=self.credential("client_id"),
                client_secret=self.credential("client_secret"),
                username=self.credential("username"),
                password=self.credential("password"),
                recorder=self.recorder,
                rate_scope=self.rate_scope,
            )
        return client

    @property
    def edition(self) -> str:
        value = str(self.option("edition") or STANDARD).strip().lower()
        return FREE if value == FREE else STANDARD

    def refusal(self, operation: str) -> str:
        if self.edition == FREE and operation not in FREE_OPERATIONS:
            return (f"This reseller account is on the Free edition, which may only read "
                    f"orders, items and custom fields: '{operation.replace('_', ' ')}' "
                    "needs the Standard edition.")
        return ""

    def _guard(self, operation: str) -> None:
        reason = self.refusal(operation)
        if reason:
            raise ProviderValidationError(reason, operation=operation,
                                          fields={"edition": "Free edition is read only."})

    @property
    def field_names(self) -> dict[str, str]:
        return mapping.field_names(self.account.options.get("field_names"))

    def account_id_for(self, order: OrderRequest) -> str:
        options = order.provider_options or {}
        value = mapping.get(options, "account_id", "AccountId") or self.option("account_id")
        return str(value or "").strip()

    @staticmethod
    def _order_path(order: OrderRequest) -> str:
        if not order.external_id:
            raise ProviderValidationError("The order has no provider draft yet.",
                                          fields={"external_id": "No provider draft."})
        return f"api/orders/{order.external_id}"

    # --- checks ---------------------------------------------------------------------------
    def check_account(self, *, merchant: MerchantRef | None = None) -> str:
        body = self.client.call("GET", "api/orders", operation="check_account", idempotent=True,
                                params={"stage": "Draft"})
        mapping.list_of(body or [], "check_account")
        version = self.client.headers["X-Api-Version"]
        return f"Token accepted; {self.edition} edition; API v{version}."

    def validate_for_placement(self, order: OrderRequest) -> dict[str, str]:
        problems: dict[str, str] = {}
        if not order.external_id and not self.account_id_for(order):
            problems["provider_options.account_id"] = (
                "AccountId is required: set the account's default AccountId or the order's "
                "provider option 'account_id'."
            )
        for index, item in enumerate(order.items):
            if not (item.product_id or item.sku):
                problems[f"items[{index}].product_id"] = "A product id is required."
        return problems

    # --- drafts and items -------------------------------------------------------------------
    def create_draft(self, order: OrderRequest) -> PlacementResult:
        """``POST /api/orders`` (AccountId mandatory): not idempotent."""
        self._guard("create_draft")
        account_id = self.account_id_for(order)
        if not account_id:
            raise ProviderValidationError(
                "AccountId is required to create the draft.",
                fields={"provider_options.account_id": "Required."}, operation="create_draft",
            )
        body = self.client.call("POST", "api/orders", operation="create_draft",
                                idempotent=False,
                                json_body=mapping.draft_body(order, account_id, self.field_names))
        return mapping.draft_result(body, now=timezone.now())

    def add_item(self, order: OrderRequest, item: ItemRequest) -> str:
        """``POST …/items`` then read the item back (``GET …/items/{itemId}``): the id is
        only trusted once the provider shows the item."""
        self._guard("add_item")
        body = self.client.call("POST", f"{self._order_path(order)}/items", operation="add_item",
                                idempotent=False,
                                json_body=mapping.item_body(item, self.field_names))
        item_id = mapping.object_id(body, "add_item")
        self._read_item(order, item_id)
        return item_id

    def _read_item(self, order: OrderRequest, item_id: str) -> ItemSnapshot:
        body = self.client.call("GET", f"{self._order_path(order)}/items/{item_id}",
                                operation="fetch_item", idempotent=True)
        snap = mapping.item_snapshot(mapping._need_mapping(body, "fetch_item"))
        if not snap.external_id:
            snap.external_id = item_id
        return snap

    def remove_item(self, order: OrderRequest, item: ItemRequest) -> None:
        self._guard("remove_item")
        if not item.external_id:
            return  # never reached the provider
        self.client.call("DELETE", f"{self._order_path(order)}/items/{item.external_id}",
                         operation="remove_item", idempotent=True)

    def list_items(self, order: OrderRequest) -> list[ItemSnapshot]:
        body = self.client.call("GET", f"{self._order_path(order)}/items",
                                operation="list_items", idempotent=True)
        return [mapping.item_snapshot(r) for r in mapping.list_of(body or [], "list_items")]

    def fetch_item(self, order: OrderRequest, item: ItemRequest) -> ItemSnapshot:
        if not item.external_id:
            raise ProviderValidationError("This item is not at the provider yet.",
                                          fields={"external_id": "No provider item id."})
        return self._read_item(order, item.external_id)

    # --- checkout and execution --------------------------------------------------------------
    def place_order(self, order: OrderRequest) -> PlacementResult:
        """Create the draft if none yet and push items it lacks, then checkout (not
        idempotent). The domain normally builds the draft first (``order_provider_draft_create``)
        so each provider id is recorded as soon as it exists."""
        self._guard("place_order")
        draft: PlacementResult | None = None
        if not order.external_id:
            draft = self.create_draft(order)
            # a copy with the new draft's id, for the paths below (the request is never changed)
            order = dataclasses.replace(order, external_id=draft.external_ids[0])
        else:
            # Documented: checkout "can only be done when the order is in Draft status". Ask
            # the provider, not only our state: an order it already took is never checked out
            # again — its status is the result.
            current = mapping.order_snapshot(
                self.client.call("GET", self._order_path(order), operation="order_status",
                                 idempotent=True), operation="order_status")
            if current.raw_status != statuses.DRAFT:
                return PlacementResult(
                    external_ids=[order.external_id], raw_status=current.raw_status,
                    state=current.state,
                    message=f"Not checked out: the provider already has this order "
                            f"({current.raw_status or 'no status'}).",
                    raw={"order": current.raw})
        for item in order.items:
            if not item.external_id:
                self.add_item(order, item)
        body = self.client.call("POST", f"{self._order_path(order)}/checkout",
                                operation="checkout", idempotent=False)
        result = mapping.checkout_result(order.external_id, body)
        if draft is not None:
            result.raw = {"draft": draft.raw, "checkout": result.raw}
        return result

    def poll_execution(self, order: OrderRequest) -> PlacementResult:
        body = self.client.call("GET", f"{self._order_path(order)}/execute/status",
                                operation="execution_status", idempotent=True)
        return mapping.execution_result(order.external_id, body)

    # --- reads -------------------------------------------------------------------------------
    def list_orders(self, *, stage: str, page: int = 1) -> list[OrderSnapshot]:
        """One page of ``GET /api/orders?stage=…`` (the stage is always sent: the provider's
        default is Confirmed only; the page parameter is our guess, see mapping.PAGE_PARAM)."""
        if stage not in mapping.STAGES:
            raise ProviderValidationError(f"Unknown stage '{stage}'.", fields={"stage": "Unknown."})
        body = self.client.call("GET", "api/orders", operation="list_orders", idempotent=True,
                                params={"stage": stage, **mapping.page_params(page)})
        rows = mapping.list_of(body if body is not None else [], "list_orders")
        return [mapping.order_snapshot(r, operation="list_orders") for r in rows]

    def iter_pages(self, *, stage: str, start: int = 1) -> Iterator[tuple[int, list[OrderSnapshot]]]:
        """Pages until the provider returns nothing new: an empty page, or one whose ids were
        all seen already (a provider ignoring the page parameter repeats itself)."""
        seen: set[str] = set()
        for page in range(start, start + mapping.MAX_PAGES):
            snaps = self.list_orders(stage=stage, page=page)
            fresh = [s for s in snaps if s.external_id not in seen]
            if not fresh:
                return
            seen.update(s.external_id for s in fresh)
            yield page, fresh

    def fetch_order(self, order: OrderRequest) -> OrderSnapshot:
        """The order and its item list; an item of ours whose listed values changed is read
        back on its own (``GET …/items/{itemId}``, documented) and that reading is kept: the
        list gives no guarantee of carrying every field of an item."""
        path = self._order_path(order)
        body = self.client.call("GET", path, operation="fetch_order", idempotent=True)
        items = self.client.call("GET", f"{path}/items", operation="list_items", idempotent=True)
        snap = mapping.order_snapshot(body, items=mapping.list_of(items or [], "list_items"))
        ours = {i.external_id: i for i in order.items if i.external_id}
        for index, listed in enumerate(snap.items):
            known = ours.get(listed.external_id)
            if known is not None and _item_changed(known, listed):
                snap.items[index] = self._read_item(order, listed.external_id)
        return snap

    def iter_incoming(self, *, since: dt.datetime | None,
                      cursor: dict[str, Any]) -> Iterator[list[OrderSnapshot]]:
        stage = str(self.account.options.get("import_stage") or "All")
        for page, snaps in self.iter_pages(stage=stage):
            cursor["page"] = page + 1
            yield snaps
        cursor["page"] = 1

    def _find(self, order: OrderRequest, *, stage: str) -> OrderSnapshot | None:
        for _page, snaps in self.iter_pages(stage=stage):
            found = next((s for s in snaps if s.reference == order.reference), None)
            if found is not None:
                return found
        return None

    def reconcile_placement(self, order: OrderRequest) -> PlacementResult | None:
        """Was the checkout (or the draft) acted on? By id when we have it, else by our
        reference among all orders. A Draft found means the checkout never happened."""
        if order.external_id:
            body = self.client.call("GET", self._order_path(order), operation="lookup",
                                    idempotent=True)
            snap: OrderSnapshot | None = mapping.order_snapshot(body, operation="lookup")
        else:
            snap = self._find(order, stage="All")
        if snap is None or snap.raw_status == statuses.DRAFT:
            return None
        return PlacementResult(external_ids=[snap.external_id], raw_status=snap.raw_status,
                               state=snap.state, raw=snap.raw)

    def find_draft(self, order: OrderRequest) -> PlacementResult | None:
        """Our draft among the provider's drafts (by our reference), after a create whose
        outcome was unknown; None when there is none."""
        found = self._find(order, stage="Draft")
        if found is None:
            return None
        return PlacementResult(external_ids=[found.external_id], raw_status=found.raw_status,
                               state=found.state, expires_at=found.expires_at, raw=found.raw)

    # --- extra information -------------------------------------------------------------------
    def custom_fields_get(self, order: OrderRequest) -> list[dict[str, Any]]:
        body = self.client.call("GET", f"{self._order_path(order)}/customfields",
                                operation="custom_fields_get", idempotent=True)
        return mapping.values_from(body if body is not None else [], "custom_fields_get")

    def custom_fields_set(self, order: OrderRequest, values: dict[str, Any]) -> None:
        self._guard("custom_fields_set")
        self.client.call("PUT", f"{self._order_path(order)}/customfields",
                         operation="custom_fields_set", idempotent=True,
                         json_body=mapping.values_body(values, self.field_names))

    def _item_path(self, order: OrderRequest, item: ItemRequest) -> str:
        if not item.external_id:
            raise ProviderValidationError("This item is not at the provider yet.",
                                          fields={"external_id": "No provider item id."})
        return f"{self._order_path(order)}/items/{item.external_id}"

    def item_characteristics_get(self, order: OrderRequest, item: ItemRequest) -> list[dict[str, Any]]:
        """When the characteristics form opens: the item is read back first
        (``GET …/items/{itemId}``), so a form is never built for an item the provider no
        longer has."""
        self._guard("item_characteristics_get")
        self._read_item(order, self._item_path(order, item).rsplit("/", 1)[-1])
        body = self.client.call("GET", f"{self._item_path(order, item)}/characteristics",
                                operation="item_characteristics_get", idempotent=True)
        return mapping.values_from(body if body is not None else [], "item_characteristics_get")

    def item_characteristics_set(self, order: OrderRequest, item: ItemRequest,
                                 values: dict[str, Any]) -> None:
        self._guard("item_characteristics_set")
        self.client.call("PUT", f"{self._item_path(order, item)}/characteristics",
                         operation="item_characteristics_set", idempotent=True,
                         json_body=mapping.values_body(values, self.field_names))


def _item_changed(item: ItemRequest, listed: ItemSnapshot) -> bool:
    """Does the listed item differ from ours in what we keep of it?"""
    pairs = ((item.quantity, listed.quantity), (item.sku, listed.sku),
             (item.product_id, listed.product_id))
    prices = ((item.unit_price, listed.unit_price), (item.total_price, listed.total_price))
    return (any(str(a or "") != str(b or "") for a, b in pairs)
            or any(b is not None and a != b for a, b in prices))
