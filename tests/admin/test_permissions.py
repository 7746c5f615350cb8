"""The read-only group sees everything and changes nothing — refused server-side."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.urls import reverse

from orders.models import TRANSITION_PERMISSION

from .conftest import set_state

pytestmark = pytest.mark.django_db
groups_migration = importlib.import_module("orders.migrations.0002_groups")


@pytest.fixture
def groups(db):
    groups_migration.create_groups(django_apps, None)  # idempotent; the flush of other tests
    return {g.name: g for g in Group.objects.filter(name__in=["Operators", "Read-only"])}


@pytest.fixture
def viewer(groups, django_user_model, client):
    user = django_user_model.objects.create_user("ro", password="pw", is_staff=True)
    user.groups.add(groups["Read-only"])
    client.force_login(user)
    return user


def test_groups_migration_creates_operators_and_readonly(groups):
    operators = {p.codename for p in groups["Operators"].permissions.all()}
    readonly = {p.codename for p in groups["Read-only"].permissions.all()}
    assert {"run_order_transitions", "view_order", "change_order", "add_order",
            "change_merchant", "view_merchant"} <= operators
    assert not any(c.startswith("delete_") for c in operators)
    assert {"view_order", "view_merchant", "view_orderevent"} <= readonly
    assert all(c.startswith("view_") for c in readonly)


def test_operator_group_member_may_run_transitions(groups, django_user_model):
    user = django_user_model.objects.create_user("op2", is_staff=True)
    user.groups.add(groups["Operators"])
    assert user.has_perm(TRANSITION_PERMISSION)


def test_readonly_sees_order_page_without_buttons(client, viewer, order):
    set_state(order, "placed", external_id="5", raw_status="NEW")
    html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert order.reference in html and 'id="timeline"' in html
    assert "_fsm_transition_to" not in html
    assert "dd-sync-now" not in html and "dd-note-form" not in html


def test_readonly_sees_list_and_may_export_csv(client, viewer, order):
    assert client.get(reverse("admin:orders_order_changelist")).status_code == 200
    response = client.get(reverse("admin:orders_order_export_csv"))
    assert response.status_code == 200
    assert order.reference in b"".join(response.streaming_content).decode()


def test_readonly_post_of_transition_button_is_refused(client, viewer, order, mocked):
    response = client.post(reverse("admin:orders_order_change", args=[order.pk]),
                           {"_fsm_transition_to": "place"})
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.state == "draft" and len(mocked.calls) == 0


def test_readonly_post_to_transition_form_url_is_refused(client, viewer, order):
    set_state(order, "placement_unknown")
    client.post(reverse("admin:orders_order_transition", args=[order.pk, "reconcile"]),
                {"placed": "yes", "external_id": "X"})
    order.refresh_from_db()
    assert order.state == "placement_unknown" and order.external_id == ""


@pytest.mark.parametrize("name", ["orders_order_note", "orders_order_sync",
                                  "orders_order_acknowledge_items",
                                  "orders_order_lookup"])
def test_readonly_post_to_order_buttons_is_403(client, viewer, order, name, mocked):
    set_state(order, "placement_unknown", external_id="5")
    response = client.post(reverse(f"admin:{name}", args=[order.pk]), {"text": "hi"})
    assert response.status_code == 403
    assert not order.events.filter(kind="note").exists()
    assert len(mocked.calls) == 0


def test_readonly_cannot_send_merchant_authorization_link(client, viewer, merchant, monkeypatch):
    from merchants import services

    monkeypatch.setattr(services, "merchant_authorization_link_create",
                        lambda *, merchant: "https://x.test/auth", raising=False)
    response = client.post(reverse("admin:merchants_merchant_authorization_link",
                                   args=[merchant.pk]))
    assert response.status_code == 403
