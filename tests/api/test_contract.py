"""The API contract (issue 18): every error in the one shape, domain refusals by class, strict
query parameters and JSON types, and a schema that states what the server enforces."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory
from drf_spectacular.generators import SchemaGenerator

from api.query import MAX_ID
from config.urls import handler500
from merchants import services as merchant_services
from providers.errors import ProviderRejected, ProviderUnavailable
from tests.factories import OrderFactory

ORDERS = "/api/v1/orders/"


def _error(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()["error"]
    assert set(body) >= {"code", "message"}
    return body


# --- domain refusals, by class, in the one handler -------------------------------------------
def test_authorization_link_for_a_provider_without_links_is_409_not_500(api, merchant):
    # the real service: the provider has no register_merchant -> MerchantAuthorizationError
    response = api.post(f"/api/v1/merchants/{merchant.pk}/authorize/", {"mode": "link"},
                        format="json")
    body = _error(response, 409)
    assert body == {"code": "not_supported", "message": "Fake has no authorization links."}


def test_place_of_an_order_that_is_not_ready_is_409_with_fields(api, merchant):
    order = OrderFactory(merchant=merchant)  # no items
    body = _error(api.post(f"{ORDERS}{order.pk}/transitions/place/", format="json"), 409)
    assert body["code"] == "order_invalid" and "items" in body["fields"]


# --- every error in the one shape ---------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v2/orders/", "/api/schema/x/",
                                  "/api/v1/orders/abc/", "/api/v1/orders/0/",
                                  f"/api/v1/orders/{MAX_ID + 1}/", "/api/v1/orders/1/items/x/"])
def test_unknown_paths_and_malformed_ids_are_json_404(api, path):
    assert _error(api.get(path), 404)["code"] == "not_found"


def test_unknown_method_is_json_405(api):
    assert _error(api.delete(ORDERS), 405)["code"] == "method_not_allowed"


def test_server_errors_under_api_are_json():
    response = handler500(RequestFactory().get("/api/v1/orders/"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert b'"server_error"' in response.content
    assert handler500(RequestFactory().get("/admin/"))["Content-Type"].startswith("text/html")


# --- strict query parameters --------------------------------------------------------------------
@pytest.mark.parametrize("query, name", [
    ("page_size=null", "page_size"),
    ("page_size=1&page_size=2", "page_size"),
    ("page_size=0", "page_size"),
    ("page_size=101", "page_size"),
    ("page=0", "page"),
    ("page=1.0", "page"),
    ("merchant=0", "merchant"),
    ("merchant=abc", "merchant"),
    ("merchant=+1", "merchant"),
    ("created_after=", "created_after"),
    ("created_after=2026-01-01", "created_after"),  # a date, not a date-time
    ("created_after=2026-01-01%2012:00:00", "created_after"),
    ("state=bogus", "state"),
    ("provider=", "provider"),
    ("reference=a&reference=b", "reference"),
    ("ordering=nope", "ordering"),
    ("ordering=-id,%20state", "ordering"),
])
def test_order_list_refuses_what_the_schema_forbids_naming_the_parameter(api, query, name):
    body = _error(api.get(f"{ORDERS}?{query}"), 400)
    assert body["code"] == "invalid" and set(body["fields"]) == {name}


def test_merchant_list_refuses_unknown_enum_values(api, merchant):
    body = _error(api.get("/api/v1/merchants/?auth_state=bogus"), 400)
    assert set(body["fields"]) == {"auth_state"}


def test_strict_parameters_still_filter(api, merchant):
    order = OrderFactory(merchant=merchant)
    OrderFactory(merchant=merchant, state="cancelled")
    response = api.get(f"{ORDERS}?state=draft&state=placed&merchant={merchant.pk}"
                       "&created_after=2000-01-01T00:00:00Z&ordering=-created_at,id&page=1")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [order.pk]
    # instants outside Python's range clamp instead of overflowing
    assert api.get(f"{ORDERS}?created_after=0001-01-01T00:00:00%2B01:00").status_code == 200
    assert api.get(f"{ORDERS}?created_before=9999-12-31T23:59:59-01:00").status_code == 200


# --- exact JSON types in bodies -----------------------------------------------------------------
def test_bodies_are_not_coerced(api, order):
    notes = f"{ORDERS}{order.pk}/notes/"
    assert _error(api.post(notes, {"text": 5}, format="json"), 400)["fields"] == {
        "text": ["Must be a string."]}
    items = f"{ORDERS}{order.pk}/items/"
    body = _error(api.post(items, {"sku": "A", "quantity": "2", "unit_price": 1.5},
                           format="json"), 400)
    assert set(body["fields"]) == {"quantity", "unit_price"}
    nested = _error(api.post(items, {"sku": "A", "variant": {"size": {"eu": 42}}},
                             format="json"), 400)
    assert set(nested["fields"]) == {"variant.size"}
    # integral numbers are integers (JSON Schema says so)
    assert api.post(items, {"sku": "A", "quantity": 2.0}, format="json").status_code == 201


# --- account check: a result, not a gateway failure ---------------------------------------------
@pytest.mark.parametrize("error, words", [
    (ProviderUnavailable("GET http://10.0.0.1/?apiKey=s3cret: Max retries exceeded"),
     "could not be reached"),
    (ProviderRejected("401 apiKey=s3cret invalid", http_status=401), "refused the credentials"),
])
def test_account_check_failure_is_ok_false_with_a_readable_reason(staff_api, monkeypatch,
                                                                  error, words):
    from tests.factories import AccountFactory

    account = AccountFactory(provider="tipser")  # a provider with a credentials check

    def check(**kwargs):
        raise error

    monkeypatch.setattr(merchant_services, "account_check", check)
    response = staff_api.post(f"/api/v1/accounts/{account.pk}/check/", format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False and words in body["reason"] and body["detail"] == body["reason"]
    assert "s3cret" not in response.content.decode() and "Max retries" not in body["reason"]


# --- the schema states what the server enforces -------------------------------------------------
@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _params(op):
    return {p["name"]: p["schema"] for p in op.get("parameters", [])}


def test_schema_states_parameter_bounds_and_enums(schema):
    orders = schema["paths"]["/api/v1/orders/"]["get"]
    params = _params(orders)
    assert params["page"]["minimum"] == 1
    assert (params["page_size"]["minimum"], params["page_size"]["maximum"]) == (1, 100)
    assert params["merchant"] == {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    assert params["created_after"] == {"type": "string", "format": "date-time"}
    assert "draft" in params["state"]["items"]["enum"]
    merchants = _params(schema["paths"]["/api/v1/merchants/"]["get"])
    assert set(merchants["auth_state"]["enum"]) >= {"pending", "authorized"}
    detail = _params(schema["paths"]["/api/v1/orders/{id}/"]["get"])
    assert detail["id"]["type"] == "integer" and detail["id"]["minimum"] == 1
    items = schema["paths"]["/api/v1/orders/{id}/items/"]["get"]
    assert set(_params(items)) == {"id"}  # a plain list: no paging or filters


def test_schema_request_bodies_are_closed_and_combinations_are_oneof(schema):
    components = schema["components"]["schemas"]
    assert components["NoteInputRequest"]["additionalProperties"] is False
    reconcile = components["ReconcilePayloadRequest"]["oneOf"]
    assert [v["required"] for v in reconcile] == [["placed"], ["placed", "external_id"]]
    accounts = components["ProviderAccountWriteRequest"]["oneOf"]
    assert all(v["properties"]["credentials"]["additionalProperties"] is False for v in accounts)


def test_schema_links_creations_to_their_uses(schema):
    links = schema["paths"]["/api/v1/orders/"]["post"]["responses"]["201"]["links"]
    assert links["orders_retrieve"]["parameters"] == {"id": "$response.body#/id"}
    assert "orders_transitions_place_create" in links
    items = schema["paths"]["/api/v1/orders/{id}/items/"]["post"]["responses"]["201"]["links"]
    assert items["orders_items_retrieve"]["parameters"] == {
        "id": "$request.path.id", "item_pk": "$response.body#/id"}


def test_a_bug_in_an_api_view_is_a_json_500(staff_api, merchant, monkeypatch, caplog):
    from merchants import dispatch

    def check(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(dispatch, "account_check_request", check)
    response = staff_api.post(f"/api/v1/accounts/{merchant.account_id}/check/", format="json")
    assert _error(response, 500) == {"code": "server_error",
                                     "message": "Internal error; it has been logged."}
    assert "boom" in caplog.text  # with its traceback, in the log only


def test_credentials_are_printable_ascii(staff_api):
    response = staff_api.post("/api/v1/accounts/", {
        "provider": "tipser", "name": "x", "credentials": {"api_key": "clé"}}, format="json")
    assert set(_error(response, 400)["fields"]) == {"credentials.api_key"}


def test_totals_beyond_the_database_precision_are_409_and_nothing_is_stored(api, order):
    before = order.items.count()
    response = api.post(f"{ORDERS}{order.pk}/items/", {
        "sku": "X", "unit_price": "9999999999.99", "quantity": 813}, format="json")
    assert _error(response, 409)["code"] == "total_too_large"
    assert order.items.count() == before
    response = api.patch(f"{ORDERS}{order.pk}/", {"shipping_total": "9999999999.99"},
                         format="json")
    assert _error(response, 409)["fields"] == {
        "items_total": ["The order's total would be beyond 9999999999.99."]}


def test_a_validator_states_its_rule_in_the_schema():
    from rest_framework import serializers

    from api.schema import ApiAutoSchema
    from api.strict import StrictDecimalField

    def country(value):  # what a model validator function looks like
        pass

    country.openapi_schema = {"enum": ["DE", "FR"]}

    def non_negative(value):
        pass

    non_negative.openapi_schema = {"minimum": 0}

    field = serializers.CharField(validators=[country])
    schema = ApiAutoSchema()._map_serializer_field(field, "request")
    assert schema["enum"] == ["DE", "FR"]
    amount = StrictDecimalField(max_digits=12, decimal_places=2, validators=[non_negative])
    assert amount.regex == r"^\d{1,10}(?:\.\d{1,2})?$"


def test_schema_blank_strings_that_the_value_schema_takes_are_one_schema(schema):
    # "" matched both branches of drf-spectacular's oneOf [string, maxLength 0] (a credential's
    # printable ASCII, a URL's "…|^$"): oneOf refuses it, the API accepts it (blank keeps)
    account = schema["components"]["schemas"]["PatchedProviderAccountUpdateRequest"]
    api_key = account["properties"]["credentials"]["properties"]["api_key"]
    base_url = account["properties"]["base_url"]
    for field in (api_key, base_url):
        assert "oneOf" not in field and field["type"] == "string"
        assert re.search(field["pattern"], "")
    assert api_key["maxLength"] == 4000


@pytest.mark.parametrize("url, taken", [
    ("https://hooks.example.com/in?x=1#top", True), ("https://192.0.2.7/a%41b", True),
    ("http://localhost:8000/U(", True),
    ("https://192.21.250.245/0b5+,GU,LR3Y%", False),  # a "%" that escapes nothing
    ("https://hooks.example.com/a%4g", False), ("https://hooks.example.com/x#a#b", False),
])
def test_urls_taken_are_uris_as_the_schema_says(url, taken):
    # what the API takes it answers back, under a schema of format "uri" (fuzz ST108)
    import jsonschema_rs
    from rest_framework import serializers

    from api.strict import URL_PATTERN, StrictURLField
    field = StrictURLField()
    try:
        field.run_validation(url)
        accepted = True
    except serializers.ValidationError:
        accepted = False
    assert accepted is taken
    assert bool(re.match(URL_PATTERN, url)) is taken
    if taken:
        assert jsonschema_rs.validator_for({"type": "string", "format": "uri"},
                                           validate_formats=True).is_valid(url)


def test_max_length_counts_the_value_sent_not_the_trimmed_one():
    """schemathesis ST201: a note of 4,001 characters starting with \\x1f (whitespace to
    Python's strip) was trimmed to 4,000 by DRF and accepted; the schema's maxLength counts
    what was sent."""
    from api.strict import raw_length_problem
    from orders.api.serializers import NoteInputSerializer

    field = NoteInputSerializer().fields["text"]
    assert raw_length_problem(field, "\x1f" + "a" * 4000) == (
        "Ensure this field has no more than 4000 characters.")
    assert raw_length_problem(field, "a" * 4000) is None
    body = NoteInputSerializer(data={"text": "\x1f" + "a" * 4000})
    assert not body.is_valid() and "text" in body.errors
