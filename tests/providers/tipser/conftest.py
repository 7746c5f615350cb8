from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.factories import AccountFactory, MerchantFactory

# the documents' own samples, shared with the sandbox (providers/docsamples.py)
FIXTURES = Path(__file__).resolve().parents[3] / "providers" / "tipser" / "fixtures"
API_KEY = "tipser_apikey_s3cr3t_value"
HOST = "https://t3-stage-api.tipser.com"  # a sandbox account without override
ORDERS_URL = f"{HOST}/v3/merchants/orders"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def wire_order(
    n: int,
    *,
    status: int = 0,
    next_statuses=None,
    items: int = 1,
    date: str = "2026-11-20T10:00:00.000Z",
) -> dict:
    """The doc's sample order with unique ids and the given item status."""
    order = copy.deepcopy(fixture("order_detail.json"))
    order["id"] = f"ord{n:05d}"
    order["orderNumber"] = str(30000 + n)
    order["orderDate"] = date
    template = order["items"][0]
    order["items"] = []
    for k in range(items):
        item = copy.deepcopy(template)
        item["id"] = f"ord{n:05d}-item{k}"
        item["status"] = status
        item["nextStatuses"] = (
            next_statuses
            if next_statuses is not None
            else {0: [1, 2, 3, 6], 1: [2, 3, 6], 6: [1, 2, 3], 2: [4], 3: [], 4: []}[status]
        )
        order["items"].append(item)
    return order


@pytest.fixture
def account(db):
    return AccountFactory(
        provider="tipser", credentials={"api_key": API_KEY}, base_url="", options={"page_size": 2}
    )


@pytest.fixture
def tipser_merchant(account):
    return MerchantFactory(account=account, name="Tipser shop", external_id="shop-1")
