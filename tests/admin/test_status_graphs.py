from __future__ import annotations

import pytest
from defusedxml import ElementTree as ET
from django.urls import reverse

from providers.graph import status_table_svg
from tests.fake_provider import STATUSES

SVG = "{http://www.w3.org/2000/svg}"


def test_svg_draws_one_box_per_status_and_one_arrow_per_allowed_move():
    root = ET.fromstring(status_table_svg(STATUSES))
    nodes = {g.get("data-code") for g in root.iter(f"{SVG}g") if g.get("class") == "dd-node"}
    edges = {(p.get("data-from"), p.get("data-to")) for p in root.iter(f"{SVG}path")
             if p.get("class") == "dd-edge"}
    assert nodes == set(STATUSES.order_statuses)
    assert edges == set(STATUSES.edges())


def test_item_svg_uses_item_table():
    root = ET.fromstring(status_table_svg(STATUSES, items=True))
    edges = {(p.get("data-from"), p.get("data-to")) for p in root.iter(f"{SVG}path")
             if p.get("class") == "dd-edge"}
    assert edges == set(STATUSES.edges(items=True))


def test_svg_escapes_labels():
    from providers.statuses import RawStatus, StatusTable

    table = StatusTable(provider="x", order_statuses={
        "A": RawStatus("A", "<script>", "placed", next=("A",))})
    svg = status_table_svg(table)
    assert "<script>" not in svg
    ET.fromstring(svg)


@pytest.mark.django_db
def test_graph_page_lists_every_registered_provider(operator_client):
    html = operator_client.get(reverse("admin:orders_order_status_graphs")).content.decode()
    assert 'id="provider-fake"' in html
    assert html.count('class="dd-graph"') >= 2  # order and item graphs
    assert 'data-code="WORKING"' in html


@pytest.mark.django_db
def test_changelist_links_to_graphs(operator_client):
    html = operator_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert reverse("admin:orders_order_status_graphs") in html


@pytest.mark.parametrize("key", ["aliseeks", "brandsdistribution", "reseller"])
def test_graph_draws_what_the_table_enforces_and_says_not_published(key):
    from providers import registry

    table = registry.get(key).statuses
    root = ET.fromstring(status_table_svg(table))
    nodes = {g.get("data-code"): g for g in root.iter(f"{SVG}g") if g.get("class") == "dd-node"}
    for code, row in table.order_statuses.items():
        node = nodes[code]
        assert node.get("data-actions") == (", ".join(sorted(row.actions or ())) or "none")
        assert (node.get("data-next") == "not-published") == (row.next is None)
    captions = [t for t in root.iter(f"{SVG}text") if t.get("class") == "dd-not-published"]
    assert bool(captions) == all(r.next is None for r in table.order_statuses.values())


@pytest.mark.django_db
def test_graph_page_shows_brandsdistribution_has_no_published_flow(operator_client):
    html = operator_client.get(reverse("admin:orders_order_status_graphs")).content.decode()
    assert "Next statuses: not published by the provider" in html
    assert 'data-code="2002"' in html and "payment was not accepted" in html
