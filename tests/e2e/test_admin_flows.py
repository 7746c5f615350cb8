"""An operator's day in the admin, in a real browser: log in, filter by a tab, bulk-place,
watch the orders move, ship one with a tracking number, read the timeline, export CSV.

The provider is the test-only fake provider; its HTTP is mocked at the wire with `responses`
(live_server runs in this process, so the mock sees the server thread's requests).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re

import pytest
import responses
from django.apps import apps as django_apps

from orders.models import Order
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory
from tests.fake_provider import BASE_URL

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip(
    "playwright.sync_api", reason="the python 'playwright' package is not installed"
).expect


@pytest.fixture
def operator_login(transactional_db, django_user_model):
    import importlib

    from django.contrib.auth.models import Group

    importlib.import_module("orders.migrations.0002_groups").create_groups(django_apps, None)
    user = django_user_model.objects.create_user("olga", password="s3cret-pass", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    return "olga", "s3cret-pass"


def _login(page, live_server, username, password):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/order/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/orders/order/$"))


def _row(page, order: Order):
    return page.locator("#result_list tbody tr", has_text=order.reference)


def test_operator_places_ships_and_exports_in_the_browser(
    live_server, page, shot, operator_login, mocked
):
    merchant = MerchantFactory(name="Acme Shop")
    drafts = []
    for _ in range(3):
        order = OrderFactory(merchant=merchant)
        OrderItemFactory(order=order, sku="SKU-1", quantity=1)
        drafts.append(order)
    blocked = OrderFactory(merchant=MerchantFactory(name="Pending Shop", authorized=False))
    OrderItemFactory(order=blocked)
    failed = OrderFactory(merchant=merchant)
    Order.objects.filter(pk=failed.pk).update(state="failed", failure_reason="Rejected: bad sku")

    ids = itertools.count(9001)

    def create(request):
        return 200, {}, json.dumps({"id": next(ids), "status": "NEW"})

    mocked.add_callback(responses.POST, f"{BASE_URL}/orders", callback=create,
                        content_type="application/json")
    mocked.add(responses.POST, re.compile(rf"{BASE_URL}/orders/\d+/shipping"), json={})

    # log in
    _login(page, live_server, *operator_login)
    shot("01-order-list")

    # filter by a tab
    page.click("a.dd-tab[data-tab=needs_action]")
    page.wait_for_url(re.compile(r".*tab=needs_action"))
    assert page.locator("#result_list tbody tr").count() == 1
    assert _row(page, failed).count() == 1
    assert "1" in page.locator("a.dd-tab.current .dd-count").inner_text()
    shot("02-tab-needs-action")

    # bulk place three drafts and one whose merchant is not authorized
    page.click("a.dd-tab[data-tab=all]")
    page.wait_for_load_state()
    for order in [*drafts, blocked]:
        page.check(f"input.action-select[value='{order.pk}']")
    page.select_option("select[name=action]", "place_selected")
    page.click("button[name=index]")
    page.wait_for_selector("#dd-bulk .dd-run")

    # watch them move: the run's rows finish (the fragment polls while any is queued)
    page.wait_for_function(
        "() => !document.querySelector('#dd-bulk [data-run-active=\"1\"]')"
    )
    page.wait_for_load_state()
    for order in drafts:
        assert page.locator(
            f"#dd-bulk tr[data-order='{order.reference}']").get_attribute("data-outcome") == "done"
        assert "Placed" in _row(page, order).locator(".dd-badge").inner_text()
    blocked_row = page.locator(f"#dd-bulk tr[data-order='{blocked.reference}']")
    assert blocked_row.get_attribute("data-outcome") == "skipped"
    assert "merchant not authorized" in blocked_row.inner_text()
    shot("03-bulk-place-results")

    # ship one with a tracking number
    target = drafts[0]
    _row(page, target).locator("th a").click()
    page.click("button[name=_fsm_transition_to][value=ship]")
    page.wait_for_selector("#id_tracking_number")
    page.fill("#id_carrier", "DHL")
    page.fill("#id_tracking_number", "JJD0099887766")
    shot("04-ship-form")
    page.click("input[type=submit][value=Apply]")
    page.wait_for_selector("#timeline")
    # queued for the worker (eager here: it ran when the request's transaction committed)
    assert "queued; this page shows the outcome" in page.locator("ul.messagelist").inner_text()
    assert "Shipped" in page.locator(".dd-badge").first.inner_text()
    target.refresh_from_db()
    assert target.state == "shipped"
    assert target.shipments.get().tracking_number == "JJD0099887766"

    # the timeline: state changes, provider calls with status and duration; add a note
    timeline = page.locator("#timeline")
    assert "push_shipment: 200" in timeline.inner_text()
    assert "place_order: 200" in timeline.inner_text()
    page.fill("#timeline textarea[name=text]", "Customer asked for a signature.")
    page.click("#timeline button[type=submit]")
    page.wait_for_selector("#timeline .dd-event-note")
    assert "Customer asked for a signature." in page.locator("#timeline").inner_text()
    shot("05-order-timeline")

    # export the filtered list as CSV
    page.goto(f"{live_server.url}/admin/orders/order/?state__exact=placed")
    with page.expect_download() as download_info:
        page.click("a.dd-export-csv")
    path = download_info.value.path()
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.reader(io.StringIO(fh.read())))
    assert rows[0][0] == "reference"
    assert {r[0] for r in rows[1:]} == {drafts[1].reference, drafts[2].reference}

    # the providers' status graphs
    page.goto(f"{live_server.url}/admin/orders/order/")
    page.click("a.dd-graphs-link")
    page.wait_for_selector("#provider-fake svg.dd-graph")
    assert page.locator("#provider-fake g.dd-node").count() >= 5
    shot("06-status-graphs")

    # the merchant page: authorization state and days left
    page.goto(f"{live_server.url}/admin/merchants/merchant/{merchant.pk}/change/")
    assert "Authorized" in page.locator(".dd-auth").inner_text()
    assert page.locator(".field-days_left_display .readonly").inner_text().strip() in ("29", "30")
    shot("09-merchant-page")


def test_readonly_user_sees_no_buttons_in_the_browser(live_server, page, shot,
                                                     django_user_model, transactional_db):
    import importlib

    from django.contrib.auth.models import Group

    importlib.import_module("orders.migrations.0002_groups").create_groups(django_apps, None)
    user = django_user_model.objects.create_user("rita", password="s3cret-pass", is_staff=True)
    user.groups.add(Group.objects.get(name="Read-only"))
    order = OrderFactory(merchant=MerchantFactory())
    OrderItemFactory(order=order)

    _login(page, live_server, "rita", "s3cret-pass")
    assert page.locator("select[name=action]").count() == 0
    _row(page, order).locator("th a").click()
    page.wait_for_selector("#timeline")
    assert page.locator("button[name=_fsm_transition_to]").count() == 0
    assert page.locator(".dd-note-form").count() == 0
    shot("07-readonly-order-page")


def test_operator_authorizes_merchant_through_sandbox_landing_pages(
    live_server, page, shot, operator_login, settings, monkeypatch
):
    """Merchant page → 'Send authorization link' → the merchant opens the link (a browser
    without our login) → our connect page → the Aliseeks sandbox's authorization page →
    Allow → our landing page ("Confirming your authorization…", refreshing itself) → the
    worker confirms → the page says the merchant is connected → the merchant shows
    Authorized with 29–30 days left.

    No mock: the account's base URL is the sandbox under live_server, so the provider calls
    (POST /v1/merchants, the confirming GET /v1/orders) go over loopback to the same server.
    The confirmation is held back (its ``delay`` records) and run here, as the worker would,
    once the landing page shows it is waiting."""
    from merchants import tasks
    from merchants.models import Merchant
    from tests.factories import AccountFactory

    confirmations: list[tuple] = []
    monkeypatch.setattr(tasks.merchant_authorization_confirm_task, "delay",
                        lambda *a: confirmations.append(a))

    settings.PUBLIC_BASE_URL = live_server.url
    account = AccountFactory(provider="aliseeks", name="Aliseeks e2e",
                             base_url=live_server.url + "/sandbox/aliseeks/",
                             credentials={"api_key": "ak_e2e_sandbox"})
    merchant = MerchantFactory(account=account, name="Pending Beads Shop", external_id="",
                               authorized=False)

    _login(page, live_server, *operator_login)
    page.goto(f"{live_server.url}/admin/merchants/merchant/{merchant.pk}/change/")
    assert "Pending authorization" in page.locator(".dd-auth").inner_text()
    page.click("button.dd-send-auth-link")
    link = page.locator("#dd-auth-link-status a.dd-auth-link")  # the worker's (eager here)
    expect(link).to_be_visible()
    url = link.get_attribute("href")
    assert url.startswith(f"{live_server.url}/merchants/connect/")
    shot("10-authorization-link-sent")

    # the merchant opens the link in their own browser (no dropdesk session)
    merchant_view = page.context.browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        tab = merchant_view.new_page()
        tab.set_default_timeout(15000)
        tab.goto(url)
        expect(tab.locator("h1")).to_contain_text("Allow dropdesk to place your Aliseeks")
        assert "Pending Beads Shop" in tab.inner_text("body")
        tab.screenshot(path=str(_screenshot("11-merchant-connect-page")), full_page=True)
        tab.click("button[type=submit], input[type=submit]")
        tab.wait_for_url(re.compile(r".*/sandbox/aliseeks/authorize/.+"))
        expect(tab.locator("h1")).to_contain_text("Aliseeks sandbox")
        tab.screenshot(path=str(_screenshot("12-sandbox-authorize-page")), full_page=True)
        tab.click("button.allow")
        tab.wait_for_url(re.compile(r".*/merchants/authorization/return/.+"))
        expect(tab.locator("h1")).to_contain_text("Confirming your authorization with Aliseeks")
        tab.screenshot(path=str(_screenshot("13-merchant-landing-confirming")), full_page=True)
        assert len(confirmations) == 1
        tasks.merchant_authorization_confirm_task(*confirmations[0])  # the worker
        # the page refreshes itself to its status URL and shows the outcome
        expect(tab.locator("h1")).to_contain_text("You're connected: Pending Beads Shop is "
                                                  "authorized", timeout=15000)
        assert "/merchants/authorization/status/" in tab.url
        tab.screenshot(path=str(_screenshot("13-merchant-landing-page")), full_page=True)
    finally:
        merchant_view.close()

    merchant.refresh_from_db()
    assert merchant.auth_state == Merchant.AuthState.AUTHORIZED
    assert merchant.external_id  # the provider's merchantId, kept from the registration
    page.reload()
    assert "Authorized" in page.locator(".dd-auth").inner_text()
    assert page.locator(".field-days_left_display .readonly").inner_text().strip() in ("29", "30")
    shot("14-merchant-authorized")


def test_operator_verifies_a_merchant_id_and_the_page_follows_the_worker(
    live_server, page, shot, operator_login, mocked, monkeypatch
):
    """Issue 14: "Verify Merchant ID and authorize" is queued; the merchant's page says
    "Verifying the Merchant ID with Aliseeks…" and polls (htmx) until the worker's outcome
    is there, without a reload."""
    from merchants import tasks
    from merchants.models import Merchant
    from tests.factories import AccountFactory

    queued: list[tuple] = []
    monkeypatch.setattr(tasks.merchant_verify_task, "delay", lambda *a: queued.append(a))
    account = AccountFactory(provider="aliseeks", name="Aliseeks single",
                             base_url="https://aliseeks.e2e.test/",
                             credentials={"api_key": "ak_e2e_single"})
    merchant = MerchantFactory(account=account, name="Console Shop", external_id="Console77",
                               authorized=False)
    _login(page, live_server, *operator_login)
    page.goto(f"{live_server.url}/admin/merchants/merchant/")
    page.check(f"input[name=_selected_action][value='{merchant.pk}']")
    page.select_option("select[name=action]", "verify_merchant_id")
    page.click("button[name=index]")
    page.wait_for_load_state()
    expect(page.locator("ul.messagelist")).to_contain_text(
        "Console Shop: verifying the Merchant ID with Aliseeks")
    page.locator("ul.messagelist a", has_text="the merchant's page").click()
    page.wait_for_url(re.compile(rf".*/merchant/{merchant.pk}/change/$"))
    expect(page.locator("#dd-verify-status")).to_contain_text(
        "Verifying the Merchant ID with Aliseeks")
    assert len(queued) == 1 and len(mocked.calls) == 0
    shot("15-merchant-verifying")
    mocked.add(responses.GET, "https://aliseeks.e2e.test/v1/orders", status=404,
               json=[{"code": "NotFound", "field": "orderId", "violation": "NotFound"}])
    tasks.merchant_verify_task(*queued[0])  # what the worker does
    expect(page.locator("#dd-verify-status")).to_contain_text(
        "Merchant ID Console77 verified with Aliseeks: Console Shop is authorized until",
        timeout=15000)  # no reload: it polled
    merchant.refresh_from_db()
    assert merchant.auth_state == Merchant.AuthState.AUTHORIZED
    shot("16-merchant-verified")


def _screenshot(name: str):
    from tests.e2e.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def test_progress_block_updates_until_the_worker_finishes(live_server, page, shot,
                                                          operator_login, mocked):
    """A run whose order is still queued shows as running; when the worker finishes it the
    block notices (it polls) and the list reloads with the order's new state."""
    from django.contrib.auth import get_user_model

    from orders import services
    from orders.models import BulkRun, BulkRunItem

    order = OrderFactory(merchant=MerchantFactory())
    OrderItemFactory(order=order)
    user = get_user_model().objects.get(username=operator_login[0])
    run = BulkRun.objects.create(action="place", label="Place with provider", actor=user)
    item = BulkRunItem.objects.create(run=run, order=order)  # queued, no worker yet
    mocked.add(responses.POST, f"{BASE_URL}/orders", json={"id": 4242, "status": "NEW"})

    _login(page, live_server, *operator_login)
    assert "running: 0 of 1 finished" in page.locator("#dd-bulk").inner_text()
    assert "Draft" in _row(page, order).locator(".dd-badge").inner_text()
    shot("08-bulk-run-in-progress")

    services.bulk_run_item_execute(item=item)  # what the worker does

    # no manual reload: the block polls, then reloads the list once everything finished
    expect(_row(page, order).locator(".dd-badge")).to_contain_text("Placed", timeout=15000)
    expect(page.locator(f"#dd-bulk tr[data-order='{order.reference}']")).to_have_attribute(
        "data-outcome", "done")
