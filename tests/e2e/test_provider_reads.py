"""A provider read the admin page waits for, in a real browser (issue 14): the custom fields
page says "Reading…" and polls itself (htmx) until the worker stored the fields, then shows
the form without a reload; nothing is asked of the provider by the page."""

from __future__ import annotations

import pytest
from django.apps import apps as django_apps

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip(
    "playwright.sync_api", reason="the python 'playwright' package is not installed"
).expect


@pytest.fixture
def operator(transactional_db, django_user_model):
    import importlib

    from django.contrib.auth.models import Group

    importlib.import_module("orders.migrations.0002_groups").create_groups(django_apps, None)
    user = django_user_model.objects.create_user("rita", password="s3cret-pass", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    return user


def test_custom_fields_page_polls_until_the_worker_read_them(live_server, page, operator,
                                                             mocked, monkeypatch):
    from django.urls import reverse

    from core import provider_reads
    from orders import tasks
    from tests.factories import MerchantFactory, OrderFactory
    from tests.providers.reseller.test_sandbox import _account

    queued: list[tuple] = []
    # the worker is "slow": the read stays queued until this test stores its result
    monkeypatch.setattr(tasks.provider_read_task, "delay_on_commit",
                        lambda *args: queued.append(args))
    order = OrderFactory(merchant=MerchantFactory(account=_account()), external_id="5001")
    url = reverse("admin:orders_order_custom_fields", args=[order.pk])
    page.goto(f"{live_server.url}/admin/login/?next={url}")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_load_state()
    expect(page.locator("#dd-read")).to_contain_text(
        "Reading custom fields from White-label reseller v3…")
    assert queued == [("custom_fields", order.pk, operator.pk)]
    provider_reads.read_store_data(tasks.read_key_of("custom_fields", order.pk), [
        {"name": "PONumber", "label": "PO number", "value": "PO-1", "type": "text",
         "choices": None, "required": False}])
    expect(page.locator("input[name=PONumber]")).to_have_value("PO-1", timeout=10000)
    expect(page.locator("#dd-read")).not_to_contain_text("Reading")
    assert len(queued) == 1  # polling asked again, but queued nothing more
    assert len(mocked.calls) == 0
