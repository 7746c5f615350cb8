"""The order page is built around the decision: header with reference, state badge, provider
status by name; the actions allowed now as buttons and a reason for each other one; the
shortfall above the fold; a live region polled while the provider works."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import OrderItemFactory

from .conftest import set_state

pytestmark = pytest.mark.django_db


def _page(client, order) -> str:
    return client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()


def _buttons(html: str) -> list[str]:
    return re.findall(r'name="_fsm_transition_to" value="([a-z_]+)"', html)


def test_header_shows_reference_state_provider_status_and_allowed_actions(operator_client, order):
    set_state(order, "placed", external_id="E1", raw_status="NEW")
    html = _page(operator_client, order)
    header = html[html.index('id="dd-live"'):html.index('id="shipments"')]
    assert f'<h2 class="dd-ref">{order.reference}</h2>' in header
    assert 'class="dd-badge dd-state-placed" id="dd-state">Placed<' in header
    assert 'id="dd-provider-status">New (NEW)<' in header
    assert _buttons(html) == ["ship", "hold", "cancel"]  # once each, in the header
    assert "<strong>Place with provider</strong> — Only when Draft or Failed" in header
    assert "<strong>Release hold</strong> — Only when On hold" in header
    assert 'hx-get=' not in header  # nothing running: no polling

    set_state(order, "placed", raw_status="SENT")  # the provider's table allows no hold there
    header = _page(operator_client, order)
    assert "<strong>Put on hold</strong> — Fake does not allow it now (provider status Sent (SENT))" in header


def test_a_step_the_provider_has_not_is_explained(operator_client, merchant):
    from tests.factories import AccountFactory, MerchantFactory, OrderFactory

    tipser = MerchantFactory(account=AccountFactory(provider="tipser", name="T"))
    order = set_state(OrderFactory(merchant=tipser), "placed", external_id="T1")
    OrderItemFactory(order=order, state="new", raw_status="0", next_statuses=["1", "2", "3", "6"])
    html = _page(operator_client, order)
    assert "<strong>Place with provider</strong> — Tipser has no such step" in html
    assert 'id="dd-provider-status">1× New (0)<' in html


def test_placing_order_polls_a_live_partial_until_it_settles(operator_client, order):
    set_state(order, "placing")
    html = _page(operator_client, order)
    live_url = reverse("admin:orders_order_live", args=[order.pk])
    assert f'hx-get="{live_url}" hx-trigger="every 2s"' in html
    partial = operator_client.get(live_url).content.decode()
    assert 'data-running="1"' in partial and "Working at the provider" in partial
    set_state(order, "placed", external_id="E9", raw_status="NEW")
    partial = operator_client.get(live_url).content.decode()
    assert 'data-running="0"' in partial and "hx-trigger" not in partial
    assert 'id="dd-timeline-rows" hx-swap-oob="true"' in partial
    assert 'id="dd-shipments" hx-swap-oob="true"' in partial
    assert ">Placed<" in partial


def test_shortfall_is_above_the_fold_with_accept_and_cancel(operator_client, order):
    order.items.all().delete()
    OrderItemFactory(order=order, name="Blue mug", quantity=4, confirmed_quantity=1)
    set_state(order, "placed", external_id="E1", raw_status="NEW")
    html = _page(operator_client, order)
    banner = html.index('id="dd-shortfall"')
    assert banner < html.index('<fieldset')  # before the form's fields
    section = html[banner:html.index("</section>", banner)]
    assert "<td>Blue mug</td><td>4</td><td>1</td><td>3</td>" in section
    assert 'id="dd-accept-shortfall" name="_fsm_transition_to" value="accept_shortfall"' in section
    assert 'id="dd-shortfall-cancel" name="_fsm_transition_to" value="cancel"' in section
    assert _buttons(html).count("cancel") == 1 and _buttons(html).count("accept_shortfall") == 1


def test_read_only_user_sees_no_buttons(readonly_client, order):
    html = _page(readonly_client, order)
    assert _buttons(html) == []
    assert "Read-only access" in html


def test_no_empty_provider_actions_section(operator_client, order):
    assert "Provider actions" not in _page(operator_client, order)


def test_status_graph_counts_each_status_and_frames_the_order(operator_client, merchant):
    from tests.factories import OrderFactory

    here = set_state(OrderFactory(merchant=merchant), "placed", external_id="E1", raw_status="NEW")
    set_state(OrderFactory(merchant=merchant), "placed", external_id="E2", raw_status="NEW")
    set_state(OrderFactory(merchant=merchant), "in_progress", external_id="E3", raw_status="WORKING")
    page = operator_client.get(_page_link(operator_client, here)).content.decode()
    fake = page[page.index('id="provider-fake"'):]
    fake = fake[:fake.index("</section>")]
    assert re.search(r'<g class="dd-node dd-current" data-code="NEW" data-state="placed"[^>]* data-count="2">', fake)
    assert re.search(r'<g class="dd-node" data-code="WORKING" data-state="in_progress"[^>]* data-count="1">', fake)
    assert "NEW · placed · 2" in fake and "this order" in fake
    assert 'width="100%"' in fake and "viewBox=" in fake  # scales with the page
    assert f"where <a href=\"{reverse('admin:orders_order_change', args=[here.pk])}\">{here.reference}</a>" in fake


def _page_link(client, order) -> str:
    html = _page(client, order)
    link = re.search(r'href="([^"]*status-graphs/\?order=\d+)[^"]*" class="dd-graph-link"', html).group(1)
    return link
