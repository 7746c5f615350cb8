"""The live fuzz run's id hooks (tests/api/fuzz_hooks.py): which list a path id or a body
reference takes its ids from, read from the schema alone; which values they replace."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.api import fuzz_hooks

ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
PATHS: dict[str, Any] = {
    "/api/v1/orders/": {"get": {"x-model": "orders.order"}, "post": {}},
    "/api/v1/orders/{id}/": {"get": {}},
    "/api/v1/orders/{id}/items/": {"get": {}},
    "/api/v1/orders/{id}/items/{item_pk}/": {"get": {}, "delete": {}},
    "/api/v1/orders/{id}/items/status/": {"post": {"requestBody": {"content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ItemStatus"}}}}}},
    "/api/v1/orders/{id}/transitions/": {"get": {}},
    "/api/v1/orders/{id}/transitions/place/": {"post": {}},
    "/api/v1/merchants/": {"get": {"x-model": "merchants.merchant"}},
    "/api/v1/accounts/": {"get": {"x-model": "merchants.provideraccount"}},
    "/api/v1/pipeline/orders/{id}/": {"get": {}},
    "/api/v1/supplier-offers/": {"get": {}, "post": {"requestBody": {"content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Offer"}}}}}},
}
COMPONENTS = {"schemas": {
    "ItemStatus": {"type": "object", "properties": {
        "transition": {"type": "string"},
        "items": {"type": "array", "items": {**ID, "format": "int64"}}}},
    "Offer": {"type": "object", "properties": {
        "supplier": {**ID, "x-model": "merchants.merchant"},
        "sales_account": {"type": ["integer", "null"]},
        "priority": {"type": "integer"}}},
}}
LISTS = {
    "/api/v1/orders/": [101, 102, 103, 104],
    "/api/v1/orders/101/items/": [7, 8], "/api/v1/orders/102/items/": [9],
    "/api/v1/orders/103/items/": [10], "/api/v1/orders/104/items/": [11, 12],
    "/api/v1/merchants/": [5], "/api/v1/accounts/": [3],
}


def _operation(path: str, method: str = "get") -> Any:
    names = [n for n in fuzz_hooks.re.findall(r"{(\w+)}", path)]
    return SimpleNamespace(
        path=path, method=method.upper(), label=f"{method.upper()} {path}",
        schema=SimpleNamespace(raw_schema={"paths": PATHS, "components": COMPONENTS}),
        path_parameters=[SimpleNamespace(name=n, definition={"schema": ID}) for n in names],
    )


def _case(operation: Any, path: dict[str, Any], body: Any = None, phase: str = "fuzzing",
          parameter: str | None = None, headers: dict[str, str] | None = None) -> Any:
    meta = SimpleNamespace(phase=SimpleNamespace(
        name=phase, data=SimpleNamespace(parameter=parameter)))
    return SimpleNamespace(operation=operation, path_parameters=dict(path), body=body,
                           query={}, headers=dict(headers or {}),
                           media_type="application/json", meta=meta)


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(fuzz_hooks, "BASE_URL", "http://fuzz.test")
    monkeypatch.setattr(fuzz_hooks, "existing_ids", lambda path, query=None, required=(),
                        reference="", field="id": [] if query or required or reference
                        else LISTS.get(path, []))
    monkeypatch.setattr(fuzz_hooks, "_offered", lambda listing: None)
    monkeypatch.setattr(fuzz_hooks, "_refusals", {})


def test_path_ids_index_the_list_before_them():
    item = _operation("/api/v1/orders/{id}/items/{item_pk}/")
    assert fuzz_hooks.path_collection(item, "id") == "/api/v1/orders/"
    assert fuzz_hooks.path_collection(item, "item_pk") == "/api/v1/orders/{id}/items/"
    # no list at /api/v1/pipeline/orders/: the list with the same last segment
    pipeline = _operation("/api/v1/pipeline/orders/{id}/")
    assert fuzz_hooks.path_collection(pipeline, "id") == "/api/v1/orders/"


def test_body_references_by_name_nesting_or_model():
    status = _operation("/api/v1/orders/{id}/items/status/", "post")
    offers = _operation("/api/v1/supplier-offers/", "post")
    assert fuzz_hooks.body_collection(status, "items", {}) == "/api/v1/orders/{id}/items/"
    assert fuzz_hooks.body_collection(status, "item", {}) == "/api/v1/orders/{id}/items/"
    assert fuzz_hooks.body_collection(offers, "sales_account", {}) == "/api/v1/accounts/"
    assert fuzz_hooks.body_collection(offers, "merchant_id", {}) == "/api/v1/merchants/"
    # the name names no list; the schema says which model
    assert fuzz_hooks.body_collection(offers, "supplier", {"x-model": "merchants.merchant"}) == (
        "/api/v1/merchants/")
    assert fuzz_hooks.body_collection(offers, "priority", {}) is None


def test_valid_ids_become_existing_ones_mostly_and_random_ones_stay_sometimes(server):
    operation = _operation("/api/v1/orders/{id}/items/{item_pk}/")
    chosen = [fuzz_hooks.map_case(None, _case(operation, {"id": n, "item_pk": n + 1}))
              .path_parameters for n in range(1000, 1200)]
    existing = [p for p in chosen if p["id"] in LISTS["/api/v1/orders/"]]
    assert 0.6 < len(existing) / len(chosen) < 0.9
    assert any(p["id"] >= 1000 for p in chosen)  # "not found" still exercised
    # the nested id comes from the items of the order chosen for {id}
    assert any(p["item_pk"] in LISTS[f"/api/v1/orders/{p['id']}/items/"] for p in existing)
    for params in existing:
        assert params["item_pk"] >= 1000 or (
            params["item_pk"] in LISTS[f"/api/v1/orders/{params['id']}/items/"])


def test_invalid_values_linked_stateful_ids_and_probed_parameters_are_left_alone(server):
    operation = _operation("/api/v1/orders/{id}/")
    for value in (0, -3, "abc", 2.5, True):
        case = fuzz_hooks.map_case(None, _case(operation, {"id": value}))
        assert case.path_parameters == {"id": value}
    listed = LISTS["/api/v1/orders/"]
    for n in listed:  # a stateful step's id from a link (one the list knows) stays
        linked = fuzz_hooks.map_case(None, _case(operation, {"id": n}, phase="stateful"))
        assert linked.path_parameters == {"id": n}
    for n in range(1000, 1020):
        # ... one no list knows (a link that could not be resolved) becomes an existing one
        unlinked = fuzz_hooks.map_case(None, _case(operation, {"id": n}, phase="stateful"))
        assert unlinked.path_parameters["id"] in listed
        probed = fuzz_hooks.map_case(None, _case(operation, {"id": n}, phase="coverage",
                                                 parameter="id"))
        assert probed.path_parameters == {"id": n}


def test_body_item_ids_come_from_the_order_in_the_path(server):
    operation = _operation("/api/v1/orders/{id}/items/status/", "post")
    moved = 0
    for n in range(1000, 1100):
        body = {"transition": "hold", "items": [n, 2000.0, -1]}
        case = fuzz_hooks.map_case(None, _case(operation, {"id": n}, body))
        order, items = case.path_parameters["id"], case.body["items"]
        assert items[2] == -1  # not a valid id: the case stays as negative as it was
        if order in LISTS["/api/v1/orders/"] and items[0] < 1000:
            assert set(items[:2]) <= set(LISTS[f"/api/v1/orders/{order}/items/"])
            moved += 1
    assert moved > 30


def test_ids_the_listing_does_not_offer_or_that_were_refused_come_last(server, monkeypatch):
    place = _operation("/api/v1/orders/{id}/transitions/place/", "post")
    monkeypatch.setattr(fuzz_hooks, "_offered", lambda listing: (
        {"/api/v1/orders/103/transitions/place/"} if listing.startswith("/api/v1/orders/") else None))
    chosen = {fuzz_hooks.map_case(None, _case(place, {"id": n})).path_parameters["id"]
              for n in range(1000, 1100)}
    assert 103 in chosen and not chosen & {101, 102, 104}
    monkeypatch.setattr(fuzz_hooks, "_offered", lambda listing: None)
    refused = SimpleNamespace(status_code=409)
    for _ in range(fuzz_hooks.REFUSALS_TO_AVOID):
        fuzz_hooks.after_call(None, _case(place, {"id": 101}), refused)
    chosen = {fuzz_hooks.map_case(None, _case(place, {"id": n})).path_parameters["id"]
              for n in range(1000, 1100)}
    assert 101 not in chosen and {102, 103, 104} <= chosen


def test_coverage_path_values_are_text_and_stay_text(server):
    operation = _operation("/api/v1/orders/{id}/")
    chosen = [fuzz_hooks.map_case(None, _case(operation, {"id": str(n)}, phase="coverage"))
              .path_parameters["id"] for n in range(1000, 1040)]
    assert all(isinstance(value, str) for value in chosen)
    assert {"101", "102", "103", "104"} & set(chosen)


def test_a_delete_leaves_the_first_ids_to_the_other_operations(server, monkeypatch):
    monkeypatch.setitem(PATHS["/api/v1/orders/{id}/"], "delete", {})
    monkeypatch.setitem(LISTS, "/api/v1/orders/101/items/", [7, 8, 13, 14])
    operation = _operation("/api/v1/orders/{id}/", "delete")
    chosen = {fuzz_hooks.map_case(None, _case(operation, {"id": n}))
              .path_parameters["id"] for n in range(1000, 1100)}
    assert chosen & {104} and not chosen & {101, 102, 103}
    # only from a top-level list: a draft's items may all go (most drafts have one)
    operation = _operation("/api/v1/orders/{id}/items/{item_pk}/", "delete")
    params = [fuzz_hooks.map_case(None, _case(operation, {"id": n, "item_pk": n}))
              .path_parameters for n in range(1000, 1200)]
    assert {101, 102, 103} & {p["id"] for p in params}
    assert {p["item_pk"] for p in params if p["id"] == 102} & {9}


def test_repeated_idempotency_keys_become_keys_of_their_own_requests(server):
    operation = _operation("/api/v1/orders/{id}/transitions/place/", "post")
    keys = [fuzz_hooks.map_case(None, _case(operation, {"id": n}, {"n": n},
                                            headers={"Idempotency-Key": "0"}))
            .headers["Idempotency-Key"] for n in range(1000, 1100)]
    assert 50 < len(set(keys)) < 100  # mostly one per request; some keep "0" (reuse: 409)
    assert all(fuzz_hooks.re.fullmatch(r"[\x21-\x7e]{1,255}", key) for key in keys)
    invalid = fuzz_hooks.map_case(None, _case(operation, {"id": 5},
                                              headers={"Idempotency-Key": "a b"}))
    assert invalid.headers["Idempotency-Key"] == "a b"  # a negative case stays negative


def test_a_stateful_step_drops_a_linked_query_value_its_parameter_refuses(server):
    params = [{"name": "external_id", "in": "query", "schema": {"type": "string", "minLength": 1}},
              {"name": "name", "in": "query", "schema": {"type": "string"}}]
    operation = SimpleNamespace(
        path="/api/v1/merchants/", method="GET", label="GET /api/v1/merchants/",
        schema=SimpleNamespace(raw_schema={"paths": {"/api/v1/merchants/": {
            "get": {"parameters": params}}}}),
        path_parameters=[])
    case = _case(operation, {}, phase="stateful")
    case.query = {"external_id": "", "name": ""}
    mapped = fuzz_hooks.map_case(None, case)
    # external_id takes minLength 1: "" is no value for it; name may be empty and stays
    assert mapped.query == {"name": ""}


def test_operations_with_a_precondition_no_listing_shows_take_ids_that_fit(server, monkeypatch):
    # custom fields need a reseller order at the provider; a lookup a placement_unknown one;
    # an item's characteristics an item at the provider
    asked = []

    def existing_ids(path, query=None, required=(), reference="", field="id"):
        asked.append((path, dict(query or {}), tuple(required)))
        if query == {"provider": "reseller", "ordering": "id"} and required == ("external_id",):
            return [103]
        if query == {"provider": "reseller", "state": "placement_unknown"}:
            return [104]
        if path == "/api/v1/orders/103/items/" and required == ("external_id",):
            return [10]
        return LISTS.get(path, []) if not (query or required) else []

    monkeypatch.setattr(fuzz_hooks, "existing_ids", existing_ids)
    fields = _operation("/api/v1/orders/{id}/custom-fields/")
    lookup = _operation("/api/v1/orders/{id}/lookup/", "post")
    traits = _operation("/api/v1/orders/{id}/items/{item_pk}/characteristics/")
    for n in range(1000, 1100):
        for operation, fits in ((fields, {103}), (lookup, {104})):
            chosen = fuzz_hooks.map_case(None, _case(operation, {"id": n})).path_parameters
            assert chosen["id"] in fits | {n}
        chosen = fuzz_hooks.map_case(None, _case(traits, {"id": n, "item_pk": n})).path_parameters
        assert chosen["id"] in {103, n} and chosen["item_pk"] in {10, n}
    # an operation without such a need takes from the whole list
    plain = _operation("/api/v1/orders/{id}/")
    chosen = [fuzz_hooks.map_case(None, _case(plain, {"id": n})).path_parameters["id"]
              for n in range(1000, 1100)]
    assert {101, 102} & set(chosen)


def test_drafts_kept_for_placing_go_to_the_place_transition_only(server, monkeypatch):
    def existing_ids(path, query=None, required=(), reference="", field="id"):
        if reference:  # the seeded drafts kept for placing (FUZZ-PLACE-...)
            assert (path, query, reference) == (
                "/api/v1/orders/", fuzz_hooks.PLACE_LISTING, fuzz_hooks.PLACE_REFERENCE)
            return {"id": [103, 104], "merchant": [5, 5]}[field]
        return [] if query or required else LISTS.get(path, [])

    monkeypatch.setattr(fuzz_hooks, "existing_ids", existing_ids)
    monkeypatch.setitem(PATHS["/api/v1/orders/{id}/"], "patch", {})
    monkeypatch.setitem(PATHS, "/api/v1/orders/{id}/transitions/cancel/", {"post": {}})
    place = _operation("/api/v1/orders/{id}/transitions/place/", "post")
    others = [_operation("/api/v1/orders/{id}/", "patch"),
              _operation("/api/v1/orders/{id}/transitions/cancel/", "post"),
              _operation("/api/v1/orders/{id}/items/{item_pk}/", "delete")]
    placed = {fuzz_hooks.map_case(None, _case(place, {"id": n})).path_parameters["id"]
              for n in range(1000, 1100)}
    assert {103, 104} <= placed and not placed & {101, 102}
    for operation in others:
        chosen = {fuzz_hooks.map_case(None, _case(operation, {"id": n, "item_pk": n}))
                  .path_parameters["id"] for n in range(1000, 1100)}
        assert {101, 102} & chosen and not chosen & {103, 104}, operation.label
    # body references to orders leave them alone as well
    status = _operation("/api/v1/orders/{id}/items/status/", "post")
    assert fuzz_hooks.for_operation(status, None, "/api/v1/orders/", [101, 103]) == [101]
    # stateful: a link to a kept draft is replaced for any other operation, kept for place
    for n in (103, 104):
        linked = fuzz_hooks.map_case(None, _case(others[0], {"id": n}, phase="stateful"))
        assert linked.path_parameters["id"] in {101, 102}
        assert fuzz_hooks.map_case(None, _case(place, {"id": n}, phase="stateful")) \
            .path_parameters == {"id": n}
    # their merchant is not revoked (it would place nothing); other operations may take it
    monkeypatch.setitem(LISTS, "/api/v1/merchants/", [5, 6])
    monkeypatch.setitem(PATHS, "/api/v1/merchants/{id}/revoke/", {"post": {}})
    monkeypatch.setitem(PATHS, "/api/v1/merchants/{id}/", {"get": {}})
    revoke = _operation("/api/v1/merchants/{id}/revoke/", "post")
    revoked = {fuzz_hooks.map_case(None, _case(revoke, {"id": n})).path_parameters["id"]
               for n in range(1000, 1100)}
    assert 6 in revoked and 5 not in revoked
    read = _operation("/api/v1/merchants/{id}/")
    assert 5 in {fuzz_hooks.map_case(None, _case(read, {"id": n})).path_parameters["id"]
                 for n in range(1000, 1100)}
    # with none kept (another server), place takes from the whole list
    monkeypatch.setattr(fuzz_hooks, "reserved_ids", lambda collection, operation=None: [])
    placed = {fuzz_hooks.map_case(None, _case(place, {"id": n})).path_parameters["id"]
              for n in range(1000, 1100)}
    assert {101, 102} <= placed


def test_use_after_free_is_dropped_only_after_a_delete_that_was_accepted(monkeypatch):
    monkeypatch.setattr(fuzz_hooks, "_accepted_deletes", set())
    delete = _operation("/api/v1/orders/{id}/items/{item_pk}/", "delete")
    for case_id, status in (("queued", 202), ("done", 204)):
        case = _case(delete, {"id": 101, "item_pk": 7})
        case.id = case_id
        fuzz_hooks.after_call(None, case, SimpleNamespace(status_code=status))
    read = _case(_operation("/api/v1/orders/{id}/items/{item_pk}/"), {"id": 101, "item_pk": 7})

    def finding(code, deleted):
        return SimpleNamespace(code=code, deleted_case_id=deleted)

    assert not fuzz_hooks.filter_failure(None, finding("ST301", "queued"), read, None)
    assert fuzz_hooks.filter_failure(None, finding("ST301", "done"), read, None)
    assert fuzz_hooks.filter_failure(None, finding("ST301", None), read, None)
    assert fuzz_hooks.filter_failure(None, SimpleNamespace(code="ST201"), read, None)


def test_which_requests_keep_a_generated_idempotency_key_varies_by_object_not_by_run(server):
    # the fuzz run's place got only 409s (the key reused by other requests) when "no body"
    # hashed by its marker's address: a kept key was then kept for every order of that run
    class NotSet:
        pass

    place = _operation("/api/v1/orders/{id}/transitions/place/", "post")
    runs = []
    for _run in range(2):
        marker = NotSet()  # another address each run
        runs.append([fuzz_hooks.map_case(None, _case(place, {"id": n}, marker,
                                                     headers={"Idempotency-Key": "0"}))
                     .headers["Idempotency-Key"] for n in range(1000, 1100)])
    assert runs[0] == runs[1]
    kept = sum(key == "0" for key in runs[0])
    assert 5 < kept < 50  # some requests reuse "0" (a 409 exercised), most have their own


def test_a_transition_takes_orders_in_a_state_it_starts_from(server, monkeypatch):
    # the whole order list, newest first, is the run's own drafts: release must find the
    # orders on hold, not fall back on a draft another operation has deleted (404s)
    def existing_ids(path, query=None, required=(), reference="", field="id"):
        if query == {"state": "on_hold"}:
            return [102]
        if query == {"state": "placed"}:
            return [103]
        return LISTS.get(path, []) if not (query or required or reference) else []

    monkeypatch.setattr(fuzz_hooks, "existing_ids", existing_ids)
    for path, fits in (("/api/v1/orders/{id}/transitions/release/", {102}),
                       ("/api/v1/orders/{id}/transitions/hold/", {103})):
        operation = _operation(path, "post")
        chosen = {fuzz_hooks.map_case(None, _case(operation, {"id": n})).path_parameters["id"]
                  for n in range(1000, 1100)}
        assert chosen - set(range(1000, 1100)) == fits
