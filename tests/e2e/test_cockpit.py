"""The operator cockpit in a real browser at 1440×900: provider accounts with credentials,
the dashboard, the order list's width, the order page around its decision.

Provider HTTP is mocked at the wire with `responses` (live_server runs in this process)."""

from __future__ import annotations

import json
import re

import pytest
import responses
from django.apps import apps as django_apps

from merchants.models import ProviderAccount
from providers.docsamples import sample_json

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip(
    "playwright.sync_api", reason="the python 'playwright' package is not installed"
).expect

TIPSER = "https://tipser.example.test"
TIPSER_LIST = sample_json("tipser", "order_list.json")  # the doc's own sample


@pytest.fixture
def wide(page):
    page.set_viewport_size({"width": 1440, "height": 900})
    return page


@pytest.fixture
def operator(transactional_db, django_user_model):
    import importlib

    from django.contrib.auth.models import Group

    importlib.import_module("orders.migrations.0002_groups").create_groups(django_apps, None)
    user = django_user_model.objects.create_user("olga", password="s3cret-pass", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    return user


def _login(page, live_server, username="olga", password="s3cret-pass", next_url="/admin/"):  # noqa: S107
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def test_operator_adds_a_provider_account_with_credentials_and_checks_it(
    live_server, wide, shot, operator, mocked
):
    mocked.add(responses.GET, re.compile(rf"{TIPSER}/.*"), json=TIPSER_LIST)
    page = wide
    _login(page, live_server)
    page.goto(f"{live_server.url}/admin/merchants/provideraccount/add/")
    assert page.locator("input[type=password]").count() >= 3  # every provider's, before choosing
    page.select_option("#id_provider", "tipser")
    page.wait_for_url(re.compile(r".*provider=tipser"))
    assert page.locator("input[type=password]").count() == 1
    page.fill("#id_name", "Tipser EU")
    page.select_option("#id_environment", "sandbox")
    page.fill("#id_base_url", TIPSER)
    page.fill("#id_cred__api_key", "tk_e2e_abcdefghijkl")
    page.fill("#id_opt__page_size", "25")
    page.uncheck("input[name=opt__sync_states][value='3']")  # Cancelled (3)
    shot("20-provider-account-add")
    page.click("#dd-save-check")
    page.wait_for_url(re.compile(r".*/provideraccount/\d+/change/$"))
    # the worker ran the check (eager here); the page shows its result
    expect(page.locator("#dd-check-status")).to_contain_text("Credentials work for Tipser EU")
    account = ProviderAccount.objects.get(name="Tipser EU")
    assert account.credentials == {"api_key": "tk_e2e_abcdefghijkl"}
    assert account.options == {"page_size": 25, "sync_states": "0,1,2,4,6"}
    assert "tk_e2e_abcdefghijkl" not in page.content()
    assert "apiKey=tk_e2e_abcdefghijkl" in mocked.calls[-1].request.url

    # the check button on the change page (another POST, no save)
    calls = len(mocked.calls)
    page.click("#dd-check-credentials")
    page.wait_for_load_state()
    expect(page.locator("#dd-check-status")).to_contain_text("Credentials work for Tipser EU")
    assert len(mocked.calls) == calls + 1
    shot("21-provider-account-checked")


def test_account_page_shows_checking_then_the_workers_result_without_reloading(
    live_server, wide, shot, operator, mocked, monkeypatch
):
    """Issue 14: the check is queued; the page says "Checking credentials…" and polls
    (htmx) until the worker's result is there."""
    from merchants import tasks
    from tests.factories import AccountFactory

    queued = []
    monkeypatch.setattr(tasks.account_check_task, "delay", lambda *a: queued.append(a))
    account = AccountFactory(provider="tipser", name="Tipser queued", base_url=TIPSER,
                             credentials={"api_key": "tk_e2e_queued_key"})
    page = wide
    _login(page, live_server)
    page.goto(f"{live_server.url}/admin/merchants/provideraccount/{account.pk}/change/")
    page.click("#dd-check-credentials")
    page.wait_for_load_state()
    expect(page.locator("#dd-check-status")).to_contain_text("Checking credentials with Tipser")
    assert queued == [(account.pk,)] and len(mocked.calls) == 0
    shot("22-provider-account-checking")
    mocked.add(responses.GET, re.compile(rf"{TIPSER}/.*"), json=TIPSER_LIST)
    tasks.account_check_task(account.pk)  # what the worker does
    expect(page.locator("#dd-check-status")).to_contain_text(
        "Credentials work for Tipser queued", timeout=15000)  # no reload: it polled
    assert "tk_e2e_queued_key" not in page.content()


def _set_state(order, state, **fields):
    from orders.models import Order

    Order.objects.filter(pk=order.pk).update(state=state, **fields)
    order.refresh_from_db()
    return order


def test_order_page_follows_a_running_placement_without_reloading(live_server, wide, shot, operator):
    from orders.models import OrderEvent
    from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory

    page = wide
    order = OrderFactory(merchant=MerchantFactory(name="Acme Shop"))
    OrderItemFactory(order=order, sku="SKU-1", quantity=1)
    _set_state(order, "placing")
    _login(page, live_server, next_url=f"/admin/orders/order/{order.pk}/change/")
    expect(page.locator("#dd-state")).to_have_text("Placing")
    expect(page.locator("#dd-live")).to_have_attribute("data-running", "1")
    page.evaluate("window.__sameDocument = true")
    shot("30-order-placing")

    # the worker finishes (what services.order_place's last phase writes)
    _set_state(order, "placed", external_id="E-42", raw_status="NEW")
    OrderEvent.objects.create(order=order, kind=OrderEvent.Kind.TRANSITION, from_state="placing",
                              to_state="placed", message="Placed: provider id(s) E-42")

    expect(page.locator("#dd-state")).to_have_text("Placed", timeout=10000)
    expect(page.locator("#dd-provider-status")).to_have_text("New (NEW)")
    expect(page.locator("#dd-timeline-rows")).to_contain_text("Placed: provider id(s) E-42")
    expect(page.locator("#dd-live")).to_have_attribute("data-running", "0")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert page.locator("#dd-actions button[value=ship]").count() == 1
    shot("31-order-placed-live")


def _short_order(state="placed"):
    from decimal import Decimal

    from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory

    order = OrderFactory(merchant=MerchantFactory(name="Mug Shop"), shipping_total=Decimal("5.00"))
    OrderItemFactory(order=order, name="Blue mug", quantity=4, confirmed_quantity=1, unit_price=Decimal("10.00"))
    OrderItemFactory(order=order, name="Red mug", quantity=2, confirmed_quantity=2, unit_price=Decimal("10.00"))
    from orders import services

    services.totals_recalculate(order)
    return _set_state(order, state, external_id=f"E-{order.pk}", raw_status="NEW")


def test_operator_resolves_short_quantity_both_ways(live_server, wide, shot, operator, mocked):
    from tests.fake_provider import BASE_URL

    page = wide
    accepted, cancelled = _short_order(), _short_order()
    mocked.add(responses.POST, f"{BASE_URL}/orders/{cancelled.external_id}/cancel", json={})
    _login(page, live_server, next_url=f"/admin/orders/order/{accepted.pk}/change/")
    banner = page.locator("#dd-shortfall")
    expect(banner).to_contain_text("Short quantity")
    expect(banner).to_contain_text("65.00 EUR")  # total now: 6 × 10 + 5
    expect(page.locator("#dd-total-if-accepted")).to_have_text("35.00 EUR")
    assert banner.bounding_box()["y"] < 900  # above the fold at 1440×900
    shot("40-short-quantity")
    page.click("#dd-accept-shortfall")
    page.wait_for_load_state()
    expect(page.locator("ul.messagelist")).to_contain_text("Accept shortfall — now Placed")
    assert page.locator("#dd-shortfall").count() == 0
    accepted.refresh_from_db()
    assert accepted.total == 35 and sorted(accepted.items.values_list("quantity", flat=True)) == [1, 2]

    page.goto(f"{live_server.url}/admin/orders/order/{cancelled.pk}/change/")
    page.click("#dd-shortfall-cancel")
    page.wait_for_selector("#id_reason")
    page.fill("#id_reason", "Customer does not want a partial order")
    page.click("input[type=submit][value=Apply]")
    page.wait_for_load_state()
    expect(page.locator("#dd-state")).to_have_text("Cancelled")
    assert page.locator("#dd-shortfall").count() == 0
    shot("41-short-quantity-cancelled")


def test_dashboard_counts_match_the_lists_and_the_list_fits_1440(live_server, wide, shot, operator):
    from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

    shop = MerchantFactory(name="A rather long merchant name for the list")
    tipser = MerchantFactory(account=AccountFactory(provider="tipser", name="Tipser EU"), name="Tipser shop")
    for k in range(3):
        _set_state(OrderFactory(merchant=shop, contact_name="Maximilian Alexander Longname"), "failed",
                   failure_reason="Rejected by provider: stock id 148367 does not exist")
        order = _set_state(OrderFactory(merchant=tipser), "placed", external_id=f"T-{k}", raw_status="0")
        OrderItemFactory(order=order, state="new", raw_status="0")
    for _ in range(30):
        OrderFactory(merchant=shop)
    page = wide
    _login(page, live_server)
    expect(page.locator("#dd-dashboard")).to_be_visible()
    shot("50-dashboard")
    links = page.locator("#dd-work a.dd-count-link")
    checked = 0
    for i in range(links.count()):
        link = links.nth(i)
        n = int(link.inner_text())
        if not n and checked > 4:
            continue
        href = link.get_attribute("href")
        tab = page.context.new_page()
        tab.goto(live_server.url + href)
        shown = tab.locator("#result_list tbody tr").count() if n else 0
        assert shown == n, href
        tab.close()
        checked += 1
    assert checked >= 8

    # the order list at 1440×900: no sideways scroll
    page.goto(f"{live_server.url}/admin/orders/order/")
    page.wait_for_selector("#result_list")
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    # nor inside the list's own box (the admin lets .results scroll on its own)
    assert page.evaluate("(() => { const r = document.querySelector('#changelist .results');"
                         " return r.scrollWidth <= r.clientWidth; })()")
    assert page.locator("#result_list th.column-age_cell").is_visible()
    shot("51-order-list")


def test_operator_ships_a_tipser_order_with_a_carrier_from_the_list(live_server, wide, shot, operator, mocked):
    from django.core.cache import cache

    from orders import snapshots
    from orders.models import Order
    from providers.tipser import mapping
    from tests.factories import AccountFactory, MerchantFactory
    from tests.providers.tipser.conftest import HOST, ORDERS_URL, wire_order

    cache.clear()
    account = AccountFactory(provider="tipser", name="Tipser EU", base_url=HOST,
                             credentials={"api_key": "tk_e2e_abcdefghijkl"})
    MerchantFactory(account=account, name="Tipser shop", external_id="shop-1")
    snapshots.upsert_page(account=account, page=[mapping.parse_order(wire_order(1, status=6))])
    order = Order.objects.get(external_id="ord00001")
    mocked.add(responses.GET, f"{HOST}/v3/markets",
               json=[{"shippingProviders": [{"name": "PostNord"}, {"name": "UPS"}]}])
    mocked.add(responses.POST, f"{ORDERS_URL}/ord00001/shipping", json={})
    mocked.add(responses.PUT, f"{ORDERS_URL}/ord00001", json={})

    page = wide
    _login(page, live_server, next_url=f"/admin/orders/order/{order.pk}/change/")
    expect(page.locator("#dd-provider-status")).to_have_text("1× Acknowledged (6)")
    shot("60-tipser-order-page")
    page.click("#dd-actions button[value=ship]")
    page.wait_for_selector("select#id_carrier")
    page.select_option("select#id_carrier", "PostNord")
    page.fill("#id_tracking_number", "PN123456789SE")
    shot("61-ship-with-carrier")
    page.click("input[type=submit][value=Apply]")
    page.wait_for_load_state()
    expect(page.locator("#dd-state")).to_have_text("Shipped")
    expect(page.locator("#dd-shipments")).to_contain_text("PN123456789SE")
    post = next(c for c in mocked.calls if c.request.url.split("?")[0].endswith("/shipping"))
    assert json.loads(post.request.body)["shippingProvider"] == "PostNord"


def test_read_only_user_sees_no_buttons_on_dashboard_list_order_and_account(live_server, wide, django_user_model,
                                                                            transactional_db):
    import importlib

    from django.contrib.auth.models import Group

    from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory

    importlib.import_module("orders.migrations.0002_groups").create_groups(django_apps, None)
    user = django_user_model.objects.create_user("rita", password="s3cret-pass", is_staff=True)
    user.groups.add(Group.objects.get(name="Read-only"))
    order = _set_state(OrderFactory(merchant=MerchantFactory()), "failed", failure_reason="Rejected")
    OrderItemFactory(order=order)
    page = wide
    _login(page, live_server, "rita", "s3cret-pass")
    expect(page.locator("#dd-dashboard")).to_be_visible()
    page.goto(f"{live_server.url}/admin/orders/order/")
    assert page.locator("select[name=action]").count() == 0
    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    assert page.locator("button[name=_fsm_transition_to]").count() == 0
    assert page.locator("#dd-live button, .dd-note-form, .dd-sync-now").count() == 0
    expect(page.locator("#dd-live")).to_contain_text("Read-only access")
    page.goto(f"{live_server.url}/admin/merchants/provideraccount/{order.merchant.account.pk}/change/")
    assert page.locator("#dd-check-credentials, #dd-save-check, input[type=password]").count() == 0
