"""Demo seeding: turns a provider's plain demo data (``providers/<key>/demo.py: demo_data()``)
into accounts, merchants and orders. The providers never create our rows themselves."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from merchants import services as merchant_services
from merchants.models import ProviderAccount
from providers.types import DemoData

from . import services, snapshots


def provider_demo(key: str) -> ModuleType | None:
    """``providers.<key>.demo`` when the provider has one."""
    try:
        return importlib.import_module(f"providers.{key}.demo")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"providers.{key}", f"providers.{key}.demo"):
            raise
        return None


def demo_seed(*, account: ProviderAccount, stdout: Any = None) -> bool:
    """Seed ``account`` with its provider's demo data; False when the provider has none."""
    demo = provider_demo(account.provider)
    if demo is None or not hasattr(demo, "demo_data"):
        return False
    data: DemoData = demo.demo_data()
    for entry in data.accounts:
        target = account
        if entry.name_suffix:
            target = merchant_services.account_create(
                provider=account.provider, name=f"{account.name}{entry.name_suffix}",
                environment=account.environment, base_url=account.base_url,
                credentials=entry.credentials if entry.credentials is not None
                else dict(account.credentials),
                options=entry.options if entry.options is not None else dict(account.options),
            )
        for spec in entry.merchants:
            merchant = merchant_services.merchant_create(
                account=target, name=spec.name, external_id=spec.external_id,
                contact_email=spec.contact_email,
            )
            if spec.authorized:
                merchant_services.merchant_authorize(merchant=merchant, how="demo")
            for order in spec.orders:
                services.order_create(merchant=merchant, **order)
        if entry.incoming:
            snapshots.upsert_page(account=target, page=entry.incoming)
        if entry.sync_cursor is not None:
            target.refresh_from_db(fields=["state"])
            target.state = {**target.state, "sync": entry.sync_cursor}
            target.save(update_fields=["state", "updated_at"])
    if stdout is not None and data.note:
        stdout.write(f"  {data.note}")
    return True
