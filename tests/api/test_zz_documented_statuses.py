"""Every API route documents every status the test suite sees it answer.

``conftest._record_api_statuses`` records (method, path, status) for every request the API
tests make; this test (last in the directory, by name) maps each path to its schema operation
and checks the status is among the operation's documented responses. A new refusal that is
not documented fails here.
"""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from .conftest import OBSERVED_STATUSES


def _operations() -> list[tuple[re.Pattern[str], int, str, dict]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    out = []
    for template, ops in schema["paths"].items():
        regex = re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template)) + "$")
        literal = len(re.sub(r"{\w+}", "", template))
        for method, op in ops.items():
            out.append((regex, literal, method, op))
    return out


def _operation_for(operations, method: str, path: str):
    matches = [(literal, op) for regex, literal, m, op in operations
               if m == method and regex.match(path)]
    return max(matches, key=lambda pair: pair[0])[1] if matches else None


@pytest.mark.django_db
def test_every_observed_status_is_documented():
    if not OBSERVED_STATUSES:
        pytest.skip("no API requests recorded (run with the API tests)")
    operations = _operations()
    undocumented = set()
    for method, path, status in sorted(OBSERVED_STATUSES):
        op = _operation_for(operations, method, path)
        if op is None:
            continue  # not an operation (unknown path or method: 404/405 in the error shape)
        if str(status) not in op["responses"]:
            undocumented.add(f"{method.upper()} {op['operationId']} answered {status}")
    assert not undocumented, sorted(undocumented)


def test_the_recorder_maps_paths_to_operations():
    operations = _operations()
    assert _operation_for(operations, "get", "/api/v1/orders/12/")["operationId"] == (
        "orders_retrieve")
    assert _operation_for(operations, "post", "/api/v1/orders/12/items/status/")[
        "operationId"] == "orders_items_status_create"
    assert _operation_for(operations, "get", "/api/v1/orders/12/items/7/")[
        "operationId"] == "orders_items_retrieve"
    assert _operation_for(operations, "get", "/api/v1/nope/") is None
