"""Demo data: one sandbox account and merchant per provider, and a spread of orders.

Idempotent: accounts that exist are left as they are. Each provider may contribute its own
demo data as plain data (``providers/<key>/demo.py: demo_data()``); ``orders.demo`` seeds it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from merchants import services as merchant_services
from merchants.models import ProviderAccount
from orders import services
from orders.demo import demo_seed, provider_demo
from providers.registry import PROVIDER_CHOICES

DEMO_ADDRESS: dict[str, Any] = {
    "contact_name": "Grace Hopper",
    "contact_email": "grace@example.test",
    "phone_prefix": "+1",
    "phone_number": "2025550143",
    "address_line1": "1600 Pennsylvania Ave NW",
    "city": "Washington",
    "region": "DC",
    "postal_code": "20500",
    "country": "US",
}


class Command(BaseCommand):
    help = "Create demo accounts, merchants and orders pointing at the provider sandboxes."

    def handle(self, *args: Any, **options: Any) -> None:
        base = (settings.PUBLIC_BASE_URL or "http://127.0.0.1:8000").rstrip("/")
        for key, label in PROVIDER_CHOICES:
            name = f"{label} demo"
            if ProviderAccount.objects.filter(provider=key, name=name).exists():
                moved = self._repoint_sandbox(key, f"{base}/sandbox/{key}/")
                self.stdout.write(f"  {name}: exists" + (
                    f" (sandbox base URL now {base}/sandbox/{key}/)" if moved else ""))
                continue
            with transaction.atomic():
                self._seed_provider(key, name, f"{base}/sandbox/{key}/")

    @staticmethod
    def _repoint_sandbox(key: str, base_url: str) -> int:
        """Demo accounts follow PUBLIC_BASE_URL (`make run PORT=…` on another port): their
        sandbox base URL is this server's, else every provider call is refused."""
        moved = 0
        suffix = f"/sandbox/{key}/"
        for account in ProviderAccount.objects.filter(
            provider=key, environment=ProviderAccount.Environment.SANDBOX,
            base_url__endswith=suffix,
        ).exclude(base_url=base_url):
            account.base_url = base_url
            account.save(update_fields=["base_url", "updated_at"])
            moved += 1
        return moved

    def _seed_provider(self, key: str, name: str, base_url: str) -> None:
        demo = provider_demo(key)
        account = merchant_services.account_create(
            provider=key, name=name, environment=ProviderAccount.Environment.SANDBOX,
            base_url=base_url,
            credentials=getattr(demo, "CREDENTIALS", {"api_key": f"demo-{key}-key"}),
            options=getattr(demo, "OPTIONS", {}),
        )
        if demo_seed(account=account, stdout=self.stdout):
            self.stdout.write(f"  {name}: seeded from providers.{key}.demo")
            return
        merchant = merchant_services.merchant_create(
            account=account, name=f"{name} merchant", external_id=f"demo-{key}",
            contact_email=f"{key}@example.test",
        )
        merchant_services.merchant_authorize(merchant=merchant, how="demo")
        for n in range(3):
            services.order_create(
                merchant=merchant,
                items=[{"product_id": f"{key}-P{n}", "sku": f"{key.upper()}-{n}",
                        "name": f"Demo product {n}", "quantity": n + 1,
                        "unit_price": Decimal("12.50")}],
                **DEMO_ADDRESS,
            )
        self.stdout.write(f"  {name}: 3 draft orders (no sandbox yet)")
