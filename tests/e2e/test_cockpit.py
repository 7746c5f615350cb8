"""The operator cockpit in a real browser at 1440×900: provider accounts with credentials,
the dashboard, the order list's width, the order page around its decision.

Provider HTTP is mocked at the wire with `responses` (live_server runs in this process)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import responses
from django.apps import apps as django_apps

from merchants.models import ProviderAccount

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip(
    "playwright.sync_api", reason="the python 'playwright' package is not installed"
).expect

TIPSER = "https://tipser.example.test"
TIPSER_LIST = json.loads(
    (Path(__file__).parents[1] / "providers/tipser/fixtures/order_list.json").read_text())


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
    expect(page.locator("ul.messagelist")).to_contain_text("Credentials work for Tipser EU")
    account = ProviderAccount.objects.get(name="Tipser EU")
    assert account.credentials == {"api_key": "tk_e2e_abcdefghijkl"}
    assert account.options == {"page_size": 25, "sync_states": "0,1,2,4,6"}
    assert "tk_e2e_abcdefghijkl" not in page.content()
    assert "apiKey=tk_e2e_abcdefghijkl" in mocked.calls[-1].request.url

    # the check button on the change page (another POST, no save)
    calls = len(mocked.calls)
    page.click("#dd-check-credentials")
    page.wait_for_load_state()
    expect(page.locator("ul.messagelist")).to_contain_text("Credentials work for Tipser EU")
    assert len(mocked.calls) == calls + 1
    shot("21-provider-account-checked")
