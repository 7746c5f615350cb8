"""What the reliability helper needs to drive Aliseeks placement faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

# the documents' own samples, shared with the sandbox (providers/docsamples.py)
FIXTURES = Path(__file__).resolve().parents[3] / "providers" / "aliseeks" / "fixtures"
API_KEY = "ak_live_secret_4242"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_order(**order_fields: Any):  # type: ignore[no-untyped-def]
    """A draft matching the docs' sample request, for an authorized merchant (needs the db)."""
    from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

    sample = fixture("create_order_request.json")
    account = AccountFactory(provider="aliseeks", base_url="",
                             credentials={"api_key": API_KEY})
    merchant = MerchantFactory(account=account, external_id=sample["merchantId"])
    fields = {
        "contact_name": "John Modena", "phone_prefix": "+1", "phone_number": "7137398000",
        "address_line1": "1600 Lamar St", "address_line2": "", "city": "Houston",
        "region": "Texas", "country": "US", "postal_code": "77010", "currency": "USD",
        "provider_options": {"shipping_service": "YANWEN_JYT"},
        **order_fields,
    }
    order = OrderFactory(merchant=merchant, **fields)
    OrderItemFactory(order=order, product_id="32690828906", sku="", quantity=1,
                     variant=["14:29#clear", "200000061:1454#6x8mm  70pcs"])
    return order


def mock_success(rsps: Any, order: Any) -> None:
    """Aliseeks placement is one call: nothing else to register."""


def create_url() -> str:
    return settings.ALISEEKS_API_URL.rstrip("/") + "/v1/orders"


FAULT_SPEC = {
    "make_order": make_order,
    "mock_success": mock_success,
    "create": ("POST", create_url()),
    "create_success_json": fixture("create_order_reply.json"),
    # documented: 429 is the subscription's call quota — final, never retried
    "fault_kinds": {"HTTP 429 without Retry-After": "rejected"},
}
