"""Demo data for Tipser (``manage.py seed_demo``): a sandbox merchant with incoming orders,
already imported; its account syncs every minute (``setup_schedules``), so new sandbox orders
show up by themselves."""

from __future__ import annotations

import json
import random

from providers.types import DemoAccount, DemoData, DemoMerchant

from . import mapping
from .models import SandboxMerchant
from .sandbox import orders_generate, render_order

CREDENTIALS = {"api_key": "demo-tipser-apikey-0001"}
# The demo syncs every minute (manage.py setup_schedules reads sync_interval_minutes).
OPTIONS = {"page_size": 20, "sync_interval_minutes": 1}


def demo_data() -> DemoData:
    """The sandbox merchant and its incoming orders (as a sync would read them)."""
    sandbox_merchant, _ = SandboxMerchant.objects.get_or_create(
        api_key=CREDENTIALS["api_key"], defaults={"name": "Tipser demo shop"}
    )
    orders = orders_generate(merchant=sandbox_merchant, count=6, rng=random.Random(3))
    # Initial import. The web server (and with it the sandbox) is not running while
    # seed_demo runs, so the sandbox's wire documents go through the same mapping (and the
    # seeding side's bulk upsert) as a real sync; from here on the periodic sync calls the
    # sandbox over HTTP.
    page = [mapping.parse_order(json.loads(json.dumps(render_order(o)))) for o in orders]
    oldest = min(o.order_date for o in orders).date().isoformat()
    merchant = DemoMerchant(name="Tipser demo shop", external_id="demo-tipser",
                            contact_email="tipser@example.test")
    return DemoData(
        accounts=[DemoAccount(merchants=[merchant], incoming=page,
                              sync_cursor={"next_from": oldest})],
        note=f"  Tipser: {len(orders)} incoming sandbox orders imported; more at "
             "/sandbox/tipser/control/ (apiKey: see providers/tipser/demo.py), "
             "synced every minute by the worker",
    )
