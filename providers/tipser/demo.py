"""Demo data for Tipser (``manage.py seed_demo``): a sandbox merchant with incoming orders,
already imported, and a periodic sync so new sandbox orders show up by themselves."""

from __future__ import annotations

import json
import random
from typing import Any

from merchants import services as merchant_services
from merchants.models import ProviderAccount
from orders import snapshots

from . import mapping
from .models import SandboxMerchant
from .sandbox import orders_generate, render_order

CREDENTIALS = {"api_key": "demo-tipser-apikey-0001"}
SYNC_EVERY_SECONDS = 60
# `manage.py setup_schedules` (run by `make run` after seed_demo) creates the account's sync
# task from this option — one schedule, not a second one of our own.
OPTIONS = {"page_size": 20, "sync_interval_minutes": SYNC_EVERY_SECONDS // 60}


def seed(*, account: ProviderAccount, stdout: Any) -> None:
    merchant = merchant_services.merchant_create(
        account=account,
        name="Tipser demo shop",
        external_id="demo-tipser",
        contact_email="tipser@example.test",
    )
    merchant_services.merchant_authorize(merchant=merchant, how="demo")
    sandbox_merchant, _ = SandboxMerchant.objects.get_or_create(
        api_key=account.credentials["api_key"], defaults={"name": "Tipser demo shop"}
    )
    orders = orders_generate(merchant=sandbox_merchant, count=6, rng=random.Random(3))
    # Initial import. The web server (and with it the sandbox) is not running while
    # seed_demo runs, so the sandbox's wire documents go through the same mapping and bulk
    # upsert as a real sync; from here on the periodic sync calls the sandbox over HTTP.
    page = [mapping.parse_order(json.loads(json.dumps(render_order(o)))) for o in orders]
    snapshots.upsert_page(account=account, page=page)
    oldest = min(o.order_date for o in orders).date().isoformat()
    account.state = {**account.state, "sync": {"next_from": oldest}}
    account.save(update_fields=["state", "updated_at"])
    stdout.write(
        f"    Tipser: {len(orders)} incoming sandbox orders imported; more at "
        "/sandbox/tipser/control/ (apiKey: see providers/tipser/demo.py), "
        f"synced every {SYNC_EVERY_SECONDS}s by the worker"
    )

