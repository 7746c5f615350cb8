"""The domain side: provider drafts, items only while Draft, checkout and execution polling,
Free-edition refusals before any call, draft expiry, custom fields and characteristics."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
import responses
from django.utils import timezone
from responses import matchers

from orders import dispatch, services, tasks
from orders.errors import OrderActionRefused, OrderValidationError
from orders.models import Order, OrderEvent
from providers.errors import ProviderOutcomeUnknown, ProviderRejected
from tests.factories import OrderFactory, OrderItemFactory

from .conftest import ORDERS, TOKEN_URL, add_reads, add_token, fixture

pytestmark = pytest.mark.django_db


def _provider_calls(mocked) -> list[tuple[str, str]]:
    return [(c.request.method, c.request.url.split("?")[0]) for c in mocked.calls
            if c.request.url != TOKEN_URL]


def _run(worker) -> None:
    """The worker runs what the request queued (``orders.tasks.order_command_task``)."""
    for task in worker:
        task()


def _mock_draft_and_items(mocked, first_item: int = 7001):
    mocked.add(responses.POST, ORDERS, status=201, json=fixture("order_draft"))
    for n in range(2):
        mocked.add(responses.POST, f"{ORDERS}/5001/items", status=201,
                   json={"Id": first_item + n, "Status": "Draft"})


def test_provider_draft_create_records_id_expiry_and_pushes_items(mocked, local_draft):
    add_token(mocked)
    add_reads(mocked)
    _mock_draft_and_items(mocked)
    order = services.order_provider_draft_create(order=local_draft)
    assert order.state == "draft" and order.raw_status == "Draft"
    assert order.external_id == "5001"
    assert order.expires_at == dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    assert sorted(order.items.values_list("external_id", flat=True)) == ["7001", "7002"]
    bodies = [json.loads(c.request.body) for c in mocked.calls
              if c.request.url.endswith("/items")]
    assert [b["ProductId"] for b in bodies] == ["MS365-BUS", "AZ-PLAN"]
    assert order.events.filter(message__startswith="Provider draft 5001 created").exists()


def test_provider_draft_create_needs_account_id(mocked, rmerchant):
    rmerchant.account.options = {"edition": "standard"}
    rmerchant.account.save()
    order = OrderFactory(merchant=rmerchant)
    OrderItemFactory(order=order)
    with pytest.raises(OrderValidationError) as err:
        services.order_provider_draft_create(order=order)
    assert "provider_options.account_id" in err.value.fields
    assert len(mocked.calls) == 0


def test_adding_and_removing_items_on_provider_draft_goes_through_the_worker(
        mocked, provider_draft, django_capture_on_commit_callbacks):
    add_token(mocked)
    add_reads(mocked)
    mocked.add(responses.POST, f"{ORDERS}/5001/items", status=201, json={"Id": 7002})
    mocked.add(responses.POST, f"{ORDERS}/5001/items", status=201, json={"Id": 7003})
    delete = mocked.add(responses.DELETE, f"{ORDERS}/5001/items/7002", status=204)
    with django_capture_on_commit_callbacks() as worker:
        first = dispatch.order_item_add_enqueue(order=provider_draft, product_id="AZ-PLAN",
                                                quantity=1)
        second = dispatch.order_item_add_enqueue(order=provider_draft, product_id="TEAMS",
                                                 quantity=2)
    a, b = first.result, second.result
    assert first.queued and second.queued and len(worker) == 2
    assert len(mocked.calls) == 0  # nothing at the provider inside the request
    assert (a.external_id, b.external_id) == ("", "")  # saved here, not there yet
    _run(worker)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.external_id, b.external_id) == ("7002", "7003")
    adds = [c for c in mocked.calls
            if c.request.method == "POST" and c.request.url.endswith("/items")]
    assert len(adds) == 2  # the first task pushed both; the second found nothing to push

    with django_capture_on_commit_callbacks() as worker:
        removal = dispatch.order_item_remove_enqueue(item=a)
    assert removal.queued and delete.call_count == 0
    assert provider_draft.items.filter(pk=a.pk).exists()  # until the worker deleted it there
    _run(worker)
    assert delete.call_count == 1
    assert sorted(provider_draft.items.values_list("external_id", flat=True)) == ["7001", "7003"]
    messages = list(provider_draft.events.values_list("message", flat=True))
    assert f"Adding item '{a}' at the provider queued" in messages
    assert f"Removing item '{a}' queued" in messages
    assert f"Item removed: {a}" in messages
    assert not provider_draft.events.filter(kind=OrderEvent.Kind.ERROR).exists()


def test_item_changes_refused_locally_once_order_left_draft(mocked, provider_draft):
    provider_draft.sync_state(target="placed")
    provider_draft.save()
    with pytest.raises(OrderActionRefused):
        services.order_item_add(order=provider_draft, product_id="X", quantity=1)
    with pytest.raises(OrderActionRefused):
        services.order_item_remove(item=provider_draft.items.get())
    with pytest.raises(OrderActionRefused):  # the request refuses it before queuing anything
        dispatch.order_item_remove_enqueue(item=provider_draft.items.get())
    with pytest.raises(OrderActionRefused):
        dispatch.order_item_add_enqueue(order=provider_draft, product_id="X", quantity=1)
    assert len(mocked.calls) == 0
    assert provider_draft.items.count() == 1
    assert not provider_draft.events.filter(message__contains="queued").exists()


def test_provider_refusing_an_item_keeps_it_local_with_reason_and_checkout_pushes_it(
        mocked, provider_draft, django_capture_on_commit_callbacks):
    add_token(mocked)
    add_reads(mocked)
    mocked.add(responses.POST, f"{ORDERS}/5001/items", status=400,
               json={"message": "The request is invalid.",
                     "errors": {"ProductId": ["Unknown product."]}})
    with django_capture_on_commit_callbacks() as worker:
        dispatch.order_item_add_enqueue(order=provider_draft, product_id="NOPE", quantity=1)
    assert len(mocked.calls) == 0
    _run(worker)
    provider_draft.refresh_from_db()
    assert "ProductId: Unknown product." in provider_draft.failure_reason
    assert provider_draft.state == "draft"
    item = provider_draft.items.get(product_id="NOPE")
    assert item.external_id == ""
    errors = list(provider_draft.events.filter(kind=OrderEvent.Kind.ERROR)
                  .values_list("message", flat=True))
    assert len(errors) == 1 and "Unknown product." in errors[0]  # recorded once
    # at checkout the draft gets the missing item first
    mocked.add(responses.POST, f"{ORDERS}/5001/items", status=201, json={"Id": 7009})
    mocked.add(responses.POST, f"{ORDERS}/5001/checkout", json={"Id": 5001, "Status": "Submitted"})
    mocked.add(responses.GET, f"{ORDERS}/5001/execute/status",
               json=fixture("execute_status_executed"))
    tasks.order_place_task.delay(provider_draft.pk)  # the worker: places, then polls the execution
    item.refresh_from_db()
    assert item.external_id == "7009"


def test_provider_refusing_a_delete_keeps_the_item(mocked, provider_draft):
    add_token(mocked)
    mocked.add(responses.DELETE, f"{ORDERS}/5001/items/7001", status=400,
               json={"message": "Order 5001 is not in Draft status (it is Submitted)."})
    with pytest.raises(ProviderRejected):
        services.order_item_remove(item=provider_draft.items.get())
    assert provider_draft.items.count() == 1
    provider_draft.refresh_from_db()
    assert "not in Draft status" in provider_draft.failure_reason


def test_a_queued_removal_the_provider_refuses_leaves_the_item_with_the_reason(
        mocked, provider_draft, django_capture_on_commit_callbacks):
    add_token(mocked)
    delete = mocked.add(responses.DELETE, f"{ORDERS}/5001/items/7001", status=400,
                        json={"message": "Order 5001 is not in Draft status (it is Submitted)."})
    item = provider_draft.items.get()
    with django_capture_on_commit_callbacks() as worker:
        result = dispatch.order_item_remove_enqueue(item=item)
    assert result.queued and len(mocked.calls) == 0
    _run(worker)
    assert delete.call_count == 1
    assert provider_draft.items.filter(pk=item.pk, external_id="7001").exists()  # still here
    provider_draft.refresh_from_db()
    assert provider_draft.state == "draft"
    assert "not in Draft status" in provider_draft.failure_reason
    errors = list(provider_draft.events.filter(kind=OrderEvent.Kind.ERROR)
                  .values_list("message", flat=True))
    assert len(errors) == 1
    assert f"Removing item '{item}' at the provider failed" in errors[0]
    assert "not in Draft status" in errors[0]
    assert not provider_draft.events.filter(message__startswith="Item removed").exists()
    # the claim says the provider refused it (nothing happened there): a retry may be sent
    write = provider_draft.provider_writes.get()
    assert (write.operation, write.state) == ("remove_item", "refused")


def test_place_builds_draft_checks_out_and_polls_execution_to_completed(mocked, local_draft):
    add_token(mocked)
    add_reads(mocked)
    _mock_draft_and_items(mocked)
    mocked.add(responses.POST, f"{ORDERS}/5001/checkout", json={"Id": 5001, "Status": "Submitted"})
    status_url = f"{ORDERS}/5001/execute/status"
    mocked.add(responses.GET, status_url, json=fixture("execute_status_in_progress"))
    mocked.add(responses.GET, status_url, json=fixture("execute_status_in_progress"))
    mocked.add(responses.GET, status_url, json=fixture("execute_status_executed"))
    tasks.order_place_task.delay(local_draft.pk)  # the worker: places, then polls the execution
    local_draft.refresh_from_db()
    assert local_draft.state == "completed"
    assert local_draft.raw_status == "Executed"
    assert local_draft.external_id == "5001"
    assert _provider_calls(mocked) == [
        ("POST", ORDERS),
        ("POST", f"{ORDERS}/5001/items"), ("GET", f"{ORDERS}/5001/items/7001"),
        ("POST", f"{ORDERS}/5001/items"), ("GET", f"{ORDERS}/5001/items/7002"),
        ("GET", f"{ORDERS}/5001"),  # still a Draft at the provider? then check out
        ("POST", f"{ORDERS}/5001/checkout"),
        ("GET", status_url), ("GET", status_url), ("GET", status_url),
    ]
    states = list(local_draft.events.filter(kind="transition").order_by("id")
                  .values_list("to_state", flat=True))
    assert states[-3:] == ["placed", "in_progress", "completed"]


def test_execution_failure_lands_in_failed_with_reason(mocked, provider_draft):
    add_token(mocked)
    add_reads(mocked)
    mocked.add(responses.POST, f"{ORDERS}/5001/checkout", json={"Id": 5001, "Status": "Submitted"})
    mocked.add(responses.GET, f"{ORDERS}/5001/execute/status",
               json={"Status": "Failed", "Message": "Credit limit exceeded"})
    tasks.order_place_task.delay(provider_draft.pk)  # the worker: places, then polls the execution
    provider_draft.refresh_from_db()
    assert provider_draft.state == "failed"
    assert provider_draft.raw_status == "Failed"
    assert "Credit limit exceeded" in provider_draft.failure_reason


def test_poll_task_retries_after_unavailable_and_stops_at_final(mocked, provider_draft):
    provider_draft.sync_state(target="placed")
    provider_draft.raw_status = "Submitted"  # checked out: a confirmed order
    provider_draft.save()
    add_token(mocked)
    url = f"{ORDERS}/5001/execute/status"
    mocked.add(responses.GET, url, status=503, body="busy")
    mocked.add(responses.GET, url, json=fixture("execute_status_executed"))
    assert tasks.order_execution_poll_task.delay(provider_draft.pk).get() == "polling"
    provider_draft.refresh_from_db()
    assert provider_draft.state == "completed"


def test_checkout_timeout_is_outcome_unknown_with_draft_id_kept(mocked, provider_draft):
    add_token(mocked)
    add_reads(mocked)
    mocked.add(responses.POST, f"{ORDERS}/5001/checkout", body=requests.exceptions.ReadTimeout())
    services.order_place(order=provider_draft)
    provider_draft.refresh_from_db()
    assert provider_draft.state == "placement_unknown"
    assert provider_draft.external_id == "5001"
    # reconcile by lookup: still a Draft at the provider → back to draft
    mocked.add(responses.GET, f"{ORDERS}/5001", json={"Id": 5001, "Status": "Draft"})
    services.order_reconcile_from_provider(order=provider_draft)
    provider_draft.refresh_from_db()
    assert provider_draft.state == "draft"


@pytest.mark.parametrize("action", ["draft", "add", "remove", "add_request", "remove_request",
                                    "place", "fields_set", "characteristics_set"])
def test_free_edition_refuses_writes_before_any_call(mocked, free_account, action):
    from tests.factories import MerchantFactory

    merchant = MerchantFactory(account=free_account)
    local = OrderFactory(merchant=merchant)
    OrderItemFactory(order=local, product_id="P1")
    remote = OrderFactory(merchant=merchant, external_id="5001", raw_status="Draft")
    item = OrderItemFactory(order=remote, product_id="P1", external_id="7001")
    calls = {
        "draft": lambda: services.order_provider_draft_create(order=local),
        "add": lambda: services.order_item_add(order=remote, product_id="P2", quantity=1),
        "remove": lambda: services.order_item_remove(item=item),
        "add_request": lambda: dispatch.order_item_add_enqueue(order=remote, product_id="P2",
                                                               quantity=1),
        "remove_request": lambda: dispatch.order_item_remove_enqueue(item=item),
        "place": lambda: services.order_place(order=local),
        "fields_set": lambda: services.order_custom_fields_set(order=remote, values={"A": "1"}),
        "characteristics_set": lambda: services.order_item_characteristics_set(
            item=item, values={"Seats": "5"}),
    }
    with pytest.raises(OrderActionRefused) as err:
        calls[action]()
    assert "Free edition" in err.value.message
    assert len(mocked.calls) == 0
    local.refresh_from_db()
    remote.refresh_from_db()
    assert (local.state, remote.state) == ("draft", "draft")
    assert remote.items.count() == 1


def test_free_edition_may_read_item_characteristics(mocked, free_account):
    """Doc: Free may read steps 5, 6 and part of 7 — the reads are never refused."""
    from tests.factories import MerchantFactory

    add_token(mocked)
    order = OrderFactory(merchant=MerchantFactory(account=free_account), external_id="5001")
    item = OrderItemFactory(order=order, product_id="P1", external_id="7001")
    add_reads(mocked)
    mocked.add(responses.GET, f"{ORDERS}/5001/items/7001/characteristics",
               json=fixture("characteristics"))
    assert services.order_item_characteristics_get(item=item)


def test_free_edition_may_read_custom_fields(mocked, free_account):
    from tests.factories import MerchantFactory

    add_token(mocked)
    order = OrderFactory(merchant=MerchantFactory(account=free_account), external_id="5001")
    mocked.add(responses.GET, f"{ORDERS}/5001/customfields", json=fixture("customfields"))
    fields = services.order_custom_fields_get(order=order)
    assert [f["name"] for f in fields] == ["PONumber", "Region"]


def test_drafts_past_expiry_are_expired_by_the_sweep(rmerchant):
    now = timezone.now()
    past = OrderFactory(merchant=rmerchant, expires_at=now - dt.timedelta(minutes=1),
                        external_id="1")
    future = OrderFactory(merchant=rmerchant, expires_at=now + dt.timedelta(days=2),
                          external_id="2")
    no_expiry = OrderFactory(merchant=rmerchant)
    placed = OrderFactory(merchant=rmerchant, expires_at=now - dt.timedelta(days=1),
                          external_id="3")
    placed.sync_state(target="placed")
    placed.save()
    assert tasks.order_drafts_expire_task.delay().get() == 1
    states = dict(Order.objects.values_list("pk", "state"))
    assert states[past.pk] == "expired"
    assert (states[future.pk], states[no_expiry.pk], states[placed.pk]) == (
        "draft", "draft", "placed")
    assert past.events.filter(kind="transition", to_state="expired").exists()
    # a moved clock expires the rest
    assert services.order_drafts_expire(now=now + dt.timedelta(days=3)) == 1


def test_custom_fields_set_sends_values_and_notes_names(mocked, provider_draft, operator):
    add_token(mocked)
    mocked.add(responses.PUT, f"{ORDERS}/5001/customfields", json=[],
               match=[matchers.json_params_matcher([{"Name": "PONumber", "Value": "PO-1"}])])
    services.order_custom_fields_set(order=provider_draft, values={"PONumber": "PO-1"},
                                     actor=operator)
    assert provider_draft.events.filter(
        kind=OrderEvent.Kind.NOTE, message__contains="PONumber").exists()


def test_custom_fields_set_refusal_is_recorded_and_needs_values(mocked, provider_draft):
    with pytest.raises(OrderValidationError):
        services.order_custom_fields_set(order=provider_draft, values={})
    add_token(mocked)
    mocked.add(responses.PUT, f"{ORDERS}/5001/customfields", status=400,
               json={"message": "Unknown field 'Nope'."})
    with pytest.raises(ProviderRejected):
        services.order_custom_fields_set(order=provider_draft, values={"Nope": "x"})
    provider_draft.refresh_from_db()
    assert "Unknown field 'Nope'" in provider_draft.failure_reason
    assert provider_draft.state == "draft"


def test_item_characteristics_verbs(mocked, provider_draft):
    add_token(mocked)
    item = provider_draft.items.get()
    url = f"{ORDERS}/5001/items/7001/characteristics"
    add_reads(mocked)
    mocked.add(responses.GET, url, json=fixture("characteristics"))
    put = mocked.add(responses.PUT, url, status=204)
    values = services.order_item_characteristics_get(item=item)
    assert values[0]["name"] == "DomainName"
    services.order_item_characteristics_set(item=item, values={"Seats": 9})
    assert json.loads(put.calls[0].request.body) == [{"Name": "Seats", "Value": 9}]


def test_readonly_user_cannot_write_extra_info(mocked, provider_draft, readonly_user):
    with pytest.raises(OrderActionRefused):
        services.order_custom_fields_set(order=provider_draft, values={"A": "1"},
                                         actor=readonly_user)
    assert len(mocked.calls) == 0


def test_account_sync_imports_all_stages_with_raw_statuses(mocked, rmerchant):
    add_token(mocked)
    mocked.add(responses.GET, ORDERS, json=fixture("order_list"),
               match=[matchers.query_param_matcher({"stage": "All"}, strict_match=False)])
    totals = services.account_sync_incoming(account=rmerchant.account)
    assert totals["created"] == 4
    rows = dict(Order.objects.filter(merchant=rmerchant).values_list("external_id", "state"))
    assert rows == {"5001": "draft", "5002": "completed", "5003": "placed", "5004": "in_progress"}
    unknown = Order.objects.get(external_id="5004")
    assert unknown.raw_status_label == "Awaiting Provisioning (undocumented)"
    assert Order.objects.get(external_id="5001").expires_at is not None


def test_seed_demo_creates_reseller_account_and_drafts(db):
    from io import StringIO

    from django.core.management import call_command

    call_command("seed_demo", stdout=StringIO())
    from merchants.models import ProviderAccount

    account = ProviderAccount.objects.get(provider="reseller")
    assert account.base_url.endswith("/sandbox/reseller/")
    assert set(account.credentials) == {"client_id", "client_secret", "username", "password"}
    assert Order.objects.filter(merchant__account=account, state="draft").count() == 2


def test_broker_failure_when_scheduling_poll_keeps_the_placement(mocked, provider_draft,
                                                                 monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("broker down")

    monkeypatch.setattr(tasks.order_execution_poll_task, "apply_async", broken)
    add_token(mocked)
    add_reads(mocked)
    mocked.add(responses.POST, f"{ORDERS}/5001/checkout", json={"Id": 5001, "Status": "Submitted"})
    tasks.order_place_task.delay(provider_draft.pk)  # the worker: places, then polls the execution
    provider_draft.refresh_from_db()
    assert provider_draft.state == "placed"
    assert provider_draft.events.filter(kind="error",
                                        message__contains="Could not schedule").exists()


def test_draft_create_with_unknown_outcome_is_found_not_duplicated_on_retry(mocked, local_draft):
    add_token(mocked)
    add_reads(mocked)
    create = mocked.add(responses.POST, ORDERS, body=requests.exceptions.ReadTimeout())
    with pytest.raises(ProviderOutcomeUnknown):
        services.order_provider_draft_create(order=local_draft)
    local_draft.refresh_from_db()
    assert local_draft.state == "draft" and not local_draft.external_id
    assert "outcome unknown" in local_draft.failure_reason
    draft = {**fixture("order_draft"), "ExternalReference": local_draft.reference}
    mocked.add(responses.GET, ORDERS, json={"items": [draft], "totalPages": 1},
               match=[matchers.query_param_matcher({"stage": "Draft"}, strict_match=False)])
    for n in range(2):
        mocked.add(responses.POST, f"{ORDERS}/5001/items", status=201, json={"Id": 7001 + n})
    order = services.order_provider_draft_create(order=local_draft)
    assert order.external_id == "5001" and create.call_count == 1
    assert "provider_draft_outcome_unknown" not in order.raw_data


def test_item_add_with_unknown_outcome_is_adopted_not_duplicated(
        mocked, provider_draft, django_capture_on_commit_callbacks):
    add_token(mocked)
    add_reads(mocked)
    add = mocked.add(responses.POST, f"{ORDERS}/5001/items", body=requests.exceptions.ReadTimeout())
    with django_capture_on_commit_callbacks() as worker:
        dispatch.order_item_add_enqueue(order=provider_draft, product_id="AZ-PLAN", quantity=1)
    assert len(mocked.calls) == 0
    _run(worker)  # the add timed out: outcome unknown, flagged, never re-sent blindly
    provider_draft.refresh_from_db()
    assert provider_draft.raw_data.get("provider_items_outcome_unknown") is True
    assert "outcome unknown" in provider_draft.failure_reason
    mocked.add(responses.GET, f"{ORDERS}/5001/items", json=fixture("items"))
    mocked.add(responses.POST, f"{ORDERS}/5001/checkout", json={"Id": 5001, "Status": "Submitted"})
    mocked.add(responses.GET, f"{ORDERS}/5001/execute/status",
               json=fixture("execute_status_executed"))
    tasks.order_place_task.delay(provider_draft.pk)  # the worker: places, then polls the execution
    assert add.call_count == 1
    assert provider_draft.items.get(product_id="AZ-PLAN").external_id == "7002"
    provider_draft.refresh_from_db()
    assert provider_draft.state == "completed"


def test_removing_an_item_already_gone_at_provider_removes_it_locally(
        mocked, provider_draft, django_capture_on_commit_callbacks):
    add_token(mocked)
    mocked.add(responses.DELETE, f"{ORDERS}/5001/items/7001", status=404,
               json={"message": "Item 7001 of order 5001 not found."})
    with django_capture_on_commit_callbacks() as worker:
        dispatch.order_item_remove_enqueue(item=provider_draft.items.get())
    assert len(mocked.calls) == 0 and provider_draft.items.count() == 1
    _run(worker)
    assert provider_draft.items.count() == 0
    assert not provider_draft.events.filter(kind=OrderEvent.Kind.ERROR).exists()


def test_no_execution_poll_while_reseller_pending_approval(mocked, provider_draft):
    """The execution status is for confirmed orders only: an order awaiting the reseller's
    approval is not asked about (the order read tells when it moves on)."""
    add_token(mocked)
    add_reads(mocked)
    mocked.add(responses.POST, f"{ORDERS}/5001/checkout",
               json={"Id": 5001, "Status": "Reseller Pending Approval"})
    poll = mocked.add(responses.GET, f"{ORDERS}/5001/execute/status",
                      json=fixture("execute_status_executed"))
    tasks.order_place_task.delay(provider_draft.pk)  # the worker: places, then polls the execution
    provider_draft.refresh_from_db()
    assert (provider_draft.state, provider_draft.raw_status) == ("placed",
                                                                 "Reseller Pending Approval")
    assert services.order_execution_poll(order=provider_draft) is False
    assert poll.call_count == 0


def test_whether_execution_polling_is_due_is_one_read_of_the_order_as_stored(
        provider_draft, django_assert_num_queries):
    """Asked after every placement (orders.tasks.follow_execution_poll): one query, and the
    stored state decides, not the caller's copy of the order."""
    Order.objects.filter(pk=provider_draft.pk).update(state="placed", raw_status="Submitted")
    stale = Order.objects.get(pk=provider_draft.pk)  # no related rows loaded
    with django_assert_num_queries(1):
        assert services.order_execution_poll_due(order=stale) is True
    Order.objects.filter(pk=provider_draft.pk).update(state="completed")
    with django_assert_num_queries(1):
        assert services.order_execution_poll_due(order=stale) is False  # stale says placed
    other = OrderFactory(state="placed")  # a provider that does not poll executions
    assert services.order_execution_poll_due(order=other) is False
