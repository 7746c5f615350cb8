"""Aliseeks (AliExpress ordering) provider service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.base import CredentialField, OptionField, ProviderService
from providers.errors import ProviderRejected, ProviderValidationError
from providers.registry import register
from providers.types import MerchantRegistration, OrderSnapshot, PlacementResult

from . import mapping, statuses
from .client import AliseeksClient

if TYPE_CHECKING:
    from providers.types import MerchantRef, OrderRequest

# An order id no AliExpress order has: the harmless lookup of the merchant check.
PROBE_ORDER_ID = "0"


@register
class AliseeksService(ProviderService):
    key = "aliseeks"
    label = "Aliseeks"
    statuses = statuses.STATUSES
    credential_fields = (
        CredentialField("api_key", "API key", "Sent as the X-Api-Client-Id header."),
    )
    option_fields = (
        OptionField("locale", "Default locale", mapping.DEFAULT_LOCALE,
                    choices=tuple((loc, loc) for loc in mapping.LOCALES),
                    help_text="An order's provider_options.locale wins."),
        OptionField("shipping_service", "Default shipping service", "CAINIAO_STANDARD",
                    help_text="Used when neither the item (variant.shippingService) nor the "
                    "order (provider_options.shipping_service) names one."),
    )
    base_url_setting = "ALISEEKS_API_URL"
    sandbox_prefix = "/sandbox/aliseeks/"

    @property
    def client(self) -> AliseeksClient:
        return AliseeksClient(base_url=self.base_url, api_key=self.credential("api_key"),
                              recorder=self.recorder, secrets=self.secrets,
                              rate_scope=self.rate_scope)

    def _defaults(self) -> dict[str, str]:
        return {"default_shipping": str(self.option("shipping_service") or ""),
                "default_locale": str(self.option("locale") or mapping.DEFAULT_LOCALE)}

    # --- merchants ---------------------------------------------------------------------------
    def check_account(self, *, merchant: MerchantRef | None = None) -> str:
        """GET /v1/orders for order id 0 of the merchant: read-only, the only documented read.

        A real order of that id cannot exist, so "not found" about the *order* means the key
        and the merchant id were accepted; an error naming ``merchantId`` (or a 403) means
        they were not.
        """
        merchant_id = (merchant.external_id if merchant is not None else "").strip()
        if not merchant_id:
            raise ProviderValidationError("Enter the Merchant ID shown on the Aliseeks Console.",
                                          fields={"external_id": "Required."})
        try:
            self.client.get_order(merchant_id=merchant_id, order_id=PROBE_ORDER_ID)
        except ProviderRejected as exc:
            if _only_the_order_was_refused(exc):
                return f"Merchant ID {merchant_id} accepted (probe order not found, as expected)."
            raise
        return f"Merchant ID {merchant_id} accepted."

    def register_merchant(
        self, *, redirect_url: str, merchant_id: str = ""
    ) -> MerchantRegistration:
        body = self.client.register_merchant(redirect_url=redirect_url, merchant_id=merchant_id)
        return mapping.registration_from(body)

    # --- orders ------------------------------------------------------------------------------
    def validate_for_placement(self, order: OrderRequest) -> dict[str, str]:
        return mapping.validate_order(order, order.items,
                                      merchant_id=order.merchant.external_id, **self._defaults())

    def place_order(self, order: OrderRequest) -> PlacementResult:
        items = list(order.items)
        problems = mapping.validate_order(order, items, merchant_id=order.merchant.external_id,
                                          **self._defaults())
        if problems:
            raise ProviderValidationError(
                "; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems,
                operation="place_order",
            )
        body = mapping.create_body(order, items, merchant_id=order.merchant.external_id,
                                   **self._defaults())
        reply = self.client.create_order(body)
        ids = mapping.order_ids_from_create(reply)
        return PlacementResult(
            external_ids=ids,
            raw_status=statuses.AWAITING_PAYMENT,
            state=None,
            message=(
                "Awaiting the merchant's payment: Aliseeks creates the AliExpress order unpaid; "
                "the merchant pays it on AliExpress"
                + (f" (split into {len(ids)} orders by store)" if len(ids) > 1 else "")
            ),
            raw={"orderIds": ids, "merchantId": str(reply.get("merchantId") or "")},
        )

    def fetch_order(self, order: OrderRequest) -> OrderSnapshot:
        merchant_id = order.merchant.external_id
        ids = [str(i) for i in (order.external_ids or [])] or [order.external_id]
        bodies = {}
        for order_id in ids:
            body = self.client.get_order(merchant_id=merchant_id, order_id=order_id)
            mapping.check_order_reply(body, order_id)
            bodies[order_id] = body
        keep = {k: v for k, v in (order.raw_data or {}).items() if k not in ("orders", "stores")}
        return mapping.snapshot_from(bodies, keep_raw=keep)


def _only_the_order_was_refused(exc: ProviderRejected) -> bool:
    """Did the probe fail only because order 0 does not exist (key and merchant fine)?"""
    if exc.http_status not in (400, 404, 422):
        return False
    details = exc.details if isinstance(exc.details, list) else []
    fields = {str(e.get("field") or "").lower() for e in details if isinstance(e, dict)}
    if "merchantid" in fields:
        return False
    if "orderid" in fields:
        return True
    # no field named: only a plain "not found" that does not mention the merchant
    return exc.http_status == 404 and "merchant" not in str(exc).lower()
