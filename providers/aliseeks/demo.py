"""Demo data for Aliseeks (``manage.py seed_demo``): the account points at the sandbox.

* "Aliseeks demo shop": authorized, with a Merchant ID the sandbox knows; three draft orders
  ready to place.
* "Aliseeks pending shop": not authorized yet — in the admin run "Send authorization link"
  on it, open the link, allow on the sandbox's page, and it is authorized.

Plain data only (``demo_data``): the seeding side (``orders.demo``) creates the rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from providers.types import DemoAccount, DemoData, DemoMerchant

from .models import SandboxMerchant

CREDENTIALS = {"api_key": "demo-aliseeks-key"}
OPTIONS = {"locale": "en_US", "shipping_service": "CAINIAO_STANDARD"}
DEMO_MERCHANT_ID = "demoAliShop01"

ADDRESS: dict[str, Any] = {
    "contact_name": "John Modena",
    "contact_email": "john@example.test",
    "phone_prefix": "+1",
    "phone_number": "7137398000",
    "address_line1": "1600 Lamar St",
    "city": "Houston",
    "region": "Texas",
    "postal_code": "77010",
    "country": "US",
}

ORDERS = [
    [{"product_id": "32690828906", "name": "Clear acrylic beads 6x8mm", "quantity": 1,
      "unit_price": Decimal("4.99"), "variant": ["14:29#clear", "200000061:1454#6x8mm  70pcs"]}],
    [{"product_id": "32602496788", "name": "12V 40W cartridge heater (50 pcs)", "quantity": 2,
      "unit_price": Decimal("38.89"), "variant": []},
     {"product_id": "32811111111", "name": "PTFE tube 1m", "quantity": 1,
      "unit_price": Decimal("2.40"), "variant": {"properties": ["14:173#blue"],
                                                  "shippingService": "YANWEN_JYT"}}],
    [{"product_id": "32999000124", "name": "USB-C cable 2m", "quantity": 3,
      "unit_price": Decimal("3.10"), "variant": [{"sku": "14:193#black"}]}],
]


def demo_data() -> DemoData:
    """The sandbox knows the demo merchant (authorized); the rest is data to seed."""
    SandboxMerchant.objects.update_or_create(merchant_id=DEMO_MERCHANT_ID,
                                             defaults={"authorized": True})
    shop = DemoMerchant(name="Aliseeks demo shop", external_id=DEMO_MERCHANT_ID,
                        contact_email="shop@example.test",
                        orders=[{"items": items, **ADDRESS} for items in ORDERS])
    pending = DemoMerchant(name="Aliseeks pending shop", contact_email="pending@example.test",
                           authorized=False)
    return DemoData(
        accounts=[DemoAccount(merchants=[shop, pending])],
        note="Aliseeks: 1 authorized merchant with 3 drafts, 1 merchant to authorize "
             "(admin action “Send authorization link”); sandbox at /sandbox/aliseeks/",
    )
