"""The admin home is the dashboard: work waiting per provider and in total (each number the
length of the list its link opens), orders per day by state, failed calls per provider, sync
health per account — in a constant number of queries; sandbox tables grouped apart."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from orders.models import OrderEvent
from orders.services import order_daily_counts_refresh
from tests.factories import AccountFactory, MerchantFactory, OrderFactory, OrderItemFactory

from .conftest import days_ago, set_state

pytestmark = pytest.mark.django_db
HOME = reverse("admin:index")
LIST = reverse("admin:orders_order_changelist")


def _orders(merchant, n: int = 1):
    tipser = MerchantFactory(account=AccountFactory(provider="tipser", name=f"Tipser {n}",
                                                    state={"sync": {"last_run": days_ago(0.01).isoformat()}}))
    for k in range(n):
        set_state(OrderFactory(merchant=merchant), "failed")
        set_state(OrderFactory(merchant=merchant), "placement_unknown")
        short = set_state(OrderFactory(merchant=merchant), "placed")
        OrderItemFactory(order=short, quantity=3, confirmed_quantity=1)
        new = set_state(OrderFactory(merchant=tipser), "placed", external_id=f"T{n}-{k}")
        OrderItemFactory(order=new, state="new", raw_status="0")
        ack = set_state(OrderFactory(merchant=tipser), "in_progress", external_id=f"A{n}-{k}")
        OrderItemFactory(order=ack, state="acknowledged", raw_status="6")
        OrderEvent.objects.create(order=new, kind=OrderEvent.Kind.PROVIDER_CALL, operation="list",
                                  outcome="error", http_status=500)


def _links(html: str) -> list[tuple[str, str, int]]:
    found = re.findall(r'<a href="[^"]*\?tab=([a-z_]+)(?:&amp;provider=([a-z]+))?" data-tab="[^"]+" '
                       r'data-provider="[^"]*" class="dd-count-link[^"]*">(\d+)</a>', html)
    return [(tab, provider, int(n)) for tab, provider, n in found]


def test_every_dashboard_count_is_the_length_of_the_list_it_links_to(admin_client, merchant):
    _orders(merchant, 2)
    links = _links(admin_client.get(HOME).content.decode())
    assert len(links) == 8 * 6  # 8 numbers for each of 5 providers (fake included) and the total
    assert ("needs_action", "", 10) in links and ("to_ship", "tipser", 2) in links
    for tab, provider, n in links:
        params = {"tab": tab, **({"provider": provider} if provider else {})}
        response = admin_client.get(LIST, params)
        assert response.context["cl"].result_count == n, (tab, provider)


def test_dashboard_queries_do_not_grow_with_orders(admin_client, merchant, django_assert_max_num_queries):
    _orders(merchant, 1)
    with django_assert_max_num_queries(15):  # 12 + the order pipeline's 3
        few = admin_client.get(HOME)
    _orders(merchant, 8)
    with django_assert_max_num_queries(15):
        many = admin_client.get(HOME)
    assert few.status_code == many.status_code == 200


def test_charts_and_sync_health(admin_client, merchant):
    order_daily_counts_refresh()  # a beat tick before the orders came
    _orders(merchant, 1)
    account = AccountFactory(provider="tipser", name="Tipser late", state={
        "sync": {"last_run": days_ago(2).isoformat()},
        "sync_error": {"at": days_ago(1).isoformat(), "message": "Provider unavailable: 503"}})
    html = admin_client.get(HOME).content.decode()
    assert html.count('class="dd-day"') == 30
    assert 'class="dd-seg dd-state-failed"' not in html  # not recounted since the orders came
    order_daily_counts_refresh()  # the beat's next tick
    html = admin_client.get(HOME).content.decode()
    assert 'class="dd-seg dd-state-failed"' in html
    sync = html[html.index('id="dd-sync"'):]
    assert "Tipser late" in sync and "Provider unavailable: 503" in sync
    assert reverse("admin:merchants_provideraccount_change", args=[account.pk]) in sync
    assert re.search(r"Tipser</span><span class=\"dd-track\"><span class=\"dd-fill\" style=\"width:100.0%", html)


def test_read_only_user_sees_the_dashboard_without_action_links_breaking(readonly_client):
    assert readonly_client.get(HOME).status_code == 200


def test_sandbox_tables_are_grouped_under_sandboxes(admin_client):
    html = admin_client.get(HOME).content.decode()
    assert "Sandboxes" in html
    app = html[html.index("Sandboxes"):]
    assert "Sandbox locks" in app or "Sandbox lock" in app
    before = html[:html.index("Sandboxes")]
    assert "Sandbox orders" not in before


def test_sandbox_tables_are_hidden_without_sandboxes(admin_client, settings):
    settings.SANDBOX_ENABLED = False
    html = admin_client.get(HOME).content.decode()
    assert "Sandboxes" not in html and "Sandbox orders" not in html
