"""The 13 order endpoints at the wire (method, path, query, headers, body) and their mapping."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import responses
from responses import matchers

from merchants.provider_requests import provider_service
from orders.provider_requests import item_request, order_request
from providers.errors import ProviderBadReply, ProviderRejected
from providers.reseller import mapping
from providers.reseller.statuses import STATUSES, normalise, state_for

from .conftest import ORDERS, add_reads, add_token, fixture

pytestmark = pytest.mark.django_db
BEARER = {"Authorization": "Bearer tok-abc123456789", "X-Api-Version": "3.0"}


@pytest.fixture
def svc(mocked, account):
    add_token(mocked)
    return provider_service(account)


def _json(call):
    return json.loads(call.request.body)


def test_create_draft_posts_account_id_and_maps_id_and_expiry(mocked, svc, local_draft):
    mocked.add(responses.POST, ORDERS, status=201, json=fixture("order_draft"),
               match=[matchers.header_matcher(BEARER),
                      matchers.json_params_matcher({"AccountId": "ACC-1001",
                                                    "ExternalReference": local_draft.reference})])
    result = svc.create_draft(order_request(local_draft))
    assert result.external_ids == ["5001"]
    assert result.raw_status == "Draft" and result.state == "draft"
    assert result.expires_at == dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)


def test_create_draft_without_expiration_date_expires_order_date_plus_7_days(
        mocked, svc, local_draft):
    mocked.add(responses.POST, ORDERS, status=201,
               json={"id": 9, "status": "Draft", "orderDate": "2026-11-20T10:00:00Z"})
    result = svc.create_draft(order_request(local_draft))
    assert result.expires_at == dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)


def test_create_draft_uses_order_account_id_override(mocked, svc, local_draft):
    local_draft.provider_options = {"account_id": "ACC-2002"}
    mocked.add(responses.POST, ORDERS, status=201, json={"Id": 1},
               match=[matchers.json_params_matcher({"AccountId": "ACC-2002"}, strict_match=False)])
    assert svc.create_draft(order_request(local_draft)).external_ids == ["1"]


def test_create_draft_reply_without_id_is_bad_reply(mocked, svc, local_draft):
    mocked.add(responses.POST, ORDERS, status=201, json={"Status": "Draft"})
    with pytest.raises(ProviderBadReply):
        svc.create_draft(order_request(local_draft))


def test_add_item_posts_item_reads_it_back_and_returns_provider_item_id(mocked, svc,
                                                                        provider_draft):
    item = provider_draft.items.get()
    mocked.add(responses.POST, f"{ORDERS}/5001/items", status=201, json=fixture("item"),
               match=[matchers.header_matcher(BEARER), matchers.json_params_matcher({
                   "ProductId": "MS365-BUS", "Sku": "MS365-BUS", "Description": "Widget",
                   "Quantity": 5, "UnitPrice": "9.50"})])
    read = mocked.add(responses.GET, f"{ORDERS}/5001/items/7001", json=fixture("item"),
                      match=[matchers.header_matcher(BEARER)])
    assert svc.add_item(order_request(provider_draft), item_request(item)) == "7001"
    assert read.call_count == 1  # GET /api/orders/{orderId}/items/{itemId}


def test_added_item_the_provider_does_not_show_is_an_error_not_an_id(mocked, svc,
                                                                     provider_draft):
    item = provider_draft.items.get()
    mocked.add(responses.POST, f"{ORDERS}/5001/items", status=201, json={"Id": 7001})
    mocked.add(responses.GET, f"{ORDERS}/5001/items/7001", status=404,
               json={"message": "Item not found"})
    with pytest.raises(ProviderRejected, match="Item not found"):
        svc.add_item(order_request(provider_draft), item_request(item))


def test_account_can_override_assumed_body_field_names(mocked, account, local_draft):
    account.options = {**account.options, "field_names": {"reference": "PONumber",
                                                          "account_id": "accountId",
                                                          "bogus": "x"}}
    account.save()
    add_token(mocked)
    mocked.add(responses.POST, ORDERS, status=201, json={"Id": 9},
               match=[matchers.json_params_matcher({"accountId": "ACC-1001",
                                                    "PONumber": local_draft.reference})])
    assert provider_service(account).create_draft(order_request(local_draft)).external_ids == ["9"]


def test_remove_item_deletes_by_ids(mocked, svc, provider_draft):
    item = provider_draft.items.get()
    call = mocked.add(responses.DELETE, f"{ORDERS}/5001/items/7001", status=204,
                      match=[matchers.header_matcher(BEARER)])
    svc.remove_item(order_request(provider_draft), item_request(item))
    assert call.call_count == 1


def test_checkout_reads_the_provider_status_first_then_posts_and_maps_submitted(
        mocked, svc, provider_draft):
    add_reads(mocked)
    mocked.add(responses.POST, f"{ORDERS}/5001/checkout", json={"Id": 5001, "Status": "Submitted"},
               match=[matchers.header_matcher(BEARER)])
    result = svc.place_order(order_request(provider_draft))
    assert result.external_ids == ["5001"]
    assert (result.raw_status, result.state) == ("Submitted", "placed")
    assert mocked.calls[-1].request.body in (None, b"", "")
    assert [(c.request.method, c.request.url) for c in mocked.calls][-2:] == [
        ("GET", f"{ORDERS}/5001"), ("POST", f"{ORDERS}/5001/checkout")]


@pytest.mark.parametrize("status", ["Submitted", "Reseller Pending Approval", "Executed",
                                    "Awaiting Provisioning"])
def test_an_order_the_provider_already_took_is_never_checked_out_again(
        mocked, svc, provider_draft, status):
    add_reads(mocked, status=status)
    checkout = mocked.add(responses.POST, f"{ORDERS}/5001/checkout", json={})
    result = svc.place_order(order_request(provider_draft))
    assert checkout.call_count == 0
    assert result.external_ids == ["5001"] and result.raw_status == status
    assert "Not checked out" in result.message


def test_checkout_empty_202_reply_means_submitted(mocked, svc, provider_draft):
    add_reads(mocked)
    mocked.add(responses.POST, f"{ORDERS}/5001/checkout", status=202, body="")
    assert svc.place_order(order_request(provider_draft)).raw_status == "Submitted"


def test_checkout_refused_when_not_draft_gives_provider_reason(mocked, svc, provider_draft):
    add_reads(mocked)
    mocked.add(responses.POST, f"{ORDERS}/5001/checkout", status=400,
               json={"message": "Order 5001 is not in Draft status (it is Submitted)."})
    with pytest.raises(ProviderRejected) as err:
        svc.place_order(order_request(provider_draft))
    assert "not in Draft status" in str(err.value)


def test_execution_status_maps_in_progress_and_executed(mocked, svc, provider_draft):
    url = f"{ORDERS}/5001/execute/status"
    mocked.add(responses.GET, url, json=fixture("execute_status_in_progress"),
               match=[matchers.header_matcher(BEARER)])
    mocked.add(responses.GET, url, json=fixture("execute_status_executed"))
    first = svc.poll_execution(order_request(provider_draft))
    second = svc.poll_execution(order_request(provider_draft))
    assert (first.raw_status, first.state, first.message) == ("InProgress", "in_progress",
                                                              "Executing (1/3)")
    assert (second.raw_status, second.state) == ("Executed", "completed")


def test_list_orders_asks_the_stage_explicitly_and_maps_rows(mocked, svc):
    mocked.add(responses.GET, ORDERS, json=fixture("order_list"), match=[
        matchers.header_matcher(BEARER),
        # only the stage is documented; the page parameter is the one guess (mapping)
        matchers.query_param_matcher({"stage": "All", "page": "1"}),
    ])
    snaps = svc.list_orders(stage="All")
    assert [s.external_id for s in snaps] == ["5001", "5002", "5003", "5004"]
    assert [s.state for s in snaps] == ["draft", "completed", "placed", "in_progress"]
    assert snaps[0].expires_at == dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    assert snaps[1].expires_at is None and snaps[1].total == Decimal("99.00")
    assert snaps[3].raw_status == "Awaiting Provisioning"
    assert STATUSES.order_label(snaps[3].raw_status) == "Awaiting Provisioning (undocumented)"


def test_iter_incoming_reads_until_an_empty_page(mocked, svc):
    rows = fixture("order_list")["items"]
    for page, chunk in ((1, rows[:2]), (2, rows[2:]), (3, [])):
        mocked.add(responses.GET, ORDERS, json={"items": chunk},
                   match=[matchers.query_param_matcher({"stage": "All", "page": str(page)})])
    cursor: dict = {}
    pages = list(svc.iter_incoming(since=None, cursor=cursor))
    assert [[s.external_id for s in p] for p in pages] == [["5001", "5002"], ["5003", "5004"]]
    assert cursor["page"] == 1
    assert len([c for c in mocked.calls if c.request.url.startswith(ORDERS + "?")]) == 3


def test_iter_incoming_stops_on_a_repeated_page_when_paging_is_ignored(mocked, svc):
    """A provider that ignores the guessed page parameter answers everything every time."""
    mocked.add(responses.GET, ORDERS, json=fixture("order_list"))
    pages = list(svc.iter_incoming(since=None, cursor={}))
    assert [[s.external_id for s in p] for p in pages] == [["5001", "5002", "5003", "5004"]]
    assert len([c for c in mocked.calls if c.request.url.startswith(ORDERS + "?")]) == 2


def test_get_order_and_items_map_case_tolerant_fields(mocked, svc, provider_draft):
    mocked.add(responses.GET, f"{ORDERS}/5001", json=fixture("order_detail"),
               match=[matchers.header_matcher(BEARER)])
    mocked.add(responses.GET, f"{ORDERS}/5001/items", json=fixture("items"),
               match=[matchers.header_matcher(BEARER)])
    # ours is 9.50 and the list says 10.50: the changed item is read back on its own
    # (documented ``GET /api/orders/{orderId}/items/{itemId}``), and that reading is kept
    single = mocked.add(responses.GET, f"{ORDERS}/5001/items/7001",
                        json={**fixture("item"), "UnitPrice": "10.75"},
                        match=[matchers.header_matcher(BEARER)])
    snap = svc.fetch_order(order_request(provider_draft))
    assert (snap.external_id, snap.raw_status, snap.state) == ("5001", "Submitted", "placed")
    assert snap.total == Decimal("52.50") and snap.currency == "EUR"
    assert [(i.external_id, i.product_id, i.quantity, i.unit_price) for i in snap.items] == [
        ("7001", "MS365-BUS", 5, Decimal("10.75")), ("7002", "AZ-PLAN", 1, None)]
    assert single.call_count == 1  # 7002 is not ours: the list row is enough


def test_sync_reads_no_single_item_when_nothing_changed(mocked, svc, provider_draft):
    provider_draft.items.update(unit_price=Decimal("10.50"))
    mocked.add(responses.GET, f"{ORDERS}/5001", json=fixture("order_detail"))
    mocked.add(responses.GET, f"{ORDERS}/5001/items", json=fixture("items"))
    single = mocked.add(responses.GET, f"{ORDERS}/5001/items/7001", json=fixture("item"))
    svc.fetch_order(order_request(provider_draft))
    assert single.call_count == 0


def test_sync_of_an_order_reads_a_changed_item_back_and_stores_that_reading(
        mocked, svc, provider_draft):
    from orders import services

    provider_draft.raw_status = "Submitted"
    provider_draft.save()
    mocked.add(responses.GET, f"{ORDERS}/5001", json=fixture("order_detail"))
    mocked.add(responses.GET, f"{ORDERS}/5001/items", json=[
        {**fixture("items")[0], "Quantity": 7}])
    mocked.add(responses.GET, f"{ORDERS}/5001/items/7001",
               json={**fixture("item"), "Quantity": 8})
    services.order_sync(order=provider_draft)
    assert provider_draft.items.get(external_id="7001").quantity == 8


def test_get_one_item(mocked, svc, provider_draft):
    mocked.add(responses.GET, f"{ORDERS}/5001/items/7001", json=fixture("item"),
               match=[matchers.header_matcher(BEARER)])
    snap = svc.fetch_item(order_request(provider_draft), item_request(provider_draft.items.get()))
    assert (snap.external_id, snap.name, snap.quantity) == ("7001", "Microsoft 365 Business", 5)


def test_custom_fields_get_and_put(mocked, svc, provider_draft):
    url = f"{ORDERS}/5001/customfields"
    mocked.add(responses.GET, url, json=fixture("customfields"),
               match=[matchers.header_matcher(BEARER)])
    put = mocked.add(responses.PUT, url, json=[], match=[
        matchers.header_matcher(BEARER),
        matchers.json_params_matcher([{"Name": "PONumber", "Value": "PO-77"}]),
    ])
    fields = svc.custom_fields_get(order_request(provider_draft))
    assert fields[1] == {"name": "Region", "label": "Region", "value": "EU", "type": "choice",
                         "choices": ["EU", "US"], "required": True}
    svc.custom_fields_set(order_request(provider_draft), {"PONumber": "PO-77"})
    assert put.call_count == 1


def test_characteristics_get_and_put(mocked, svc, provider_draft):
    item = provider_draft.items.get()
    url = f"{ORDERS}/5001/items/7001/characteristics"
    read = mocked.add(responses.GET, f"{ORDERS}/5001/items/7001", json=fixture("item"))
    mocked.add(responses.GET, url, json=fixture("characteristics"),
               match=[matchers.header_matcher(BEARER)])
    put = mocked.add(responses.PUT, url, status=204, match=[
        matchers.header_matcher(BEARER),
        matchers.json_params_matcher([{"Name": "Seats", "Value": "7"}]),
    ])
    values = svc.item_characteristics_get(order_request(provider_draft), item_request(item))
    assert [(v["name"], v["value"]) for v in values] == [("DomainName", "example.test"),
                                                         ("Seats", "5")]
    assert read.call_count == 1  # the item is read back when its form opens
    svc.item_characteristics_set(order_request(provider_draft), item_request(item), {"Seats": "7"})
    assert put.call_count == 1


def test_characteristics_of_an_item_the_provider_no_longer_has_say_so(mocked, svc,
                                                                      provider_draft):
    mocked.add(responses.GET, f"{ORDERS}/5001/items/7001", status=404,
               json={"message": "Order item 7001 not found"})
    with pytest.raises(ProviderRejected, match="7001 not found"):
        svc.item_characteristics_get(order_request(provider_draft), item_request(provider_draft.items.get()))


def test_reconcile_finds_checked_out_order_and_ignores_drafts(mocked, svc, provider_draft):
    mocked.add(responses.GET, f"{ORDERS}/5001", json={"Id": 5001, "Status": "Draft"})
    assert svc.reconcile_placement(order_request(provider_draft)) is None
    mocked.add(responses.GET, f"{ORDERS}/5001", json={"Id": 5001, "Status": "Submitted"})
    found = svc.reconcile_placement(order_request(provider_draft))
    assert found.external_ids == ["5001"] and found.state == "placed"


def test_reconcile_without_id_searches_all_stages_by_our_reference(mocked, svc, local_draft):
    rows = fixture("order_list")["items"]
    rows[1]["ExternalReference"] = local_draft.reference
    mocked.add(responses.GET, ORDERS, json={"items": rows},
               match=[matchers.query_param_matcher({"stage": "All"}, strict_match=False)])
    assert svc.reconcile_placement(order_request(local_draft)).external_ids == ["5002"]


def test_status_table_has_the_documented_statuses_and_tolerates_spelling():
    for raw in ("Draft", "Submitted", "Executed", "Canceled", "Reseller Pending Approval",
                "Cancelled by Reseller"):
        assert raw in STATUSES.order_statuses
    assert normalise("reseller pending approval") == "Reseller Pending Approval"
    assert normalise("CANCELLED") == "Canceled"
    assert state_for("Cancelled by Reseller") == "cancelled"
    assert state_for("Something New") == "in_progress"
    assert STATUSES.needs_action("Something New") and not STATUSES.needs_action("Submitted")


def test_mapping_reads_camel_and_pascal_case():
    assert mapping.get({"accountId": "a"}, "AccountId") == "a"
    assert mapping.get({"ACCOUNT_ID": "b"}, "AccountId") == "b"
    with pytest.raises(ProviderBadReply):
        mapping.list_of({"unexpected": 1}, "list_orders")
