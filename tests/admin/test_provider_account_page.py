"""The provider account page: credentials are write-only inputs on the rendered page, each
declared option is a typed field, and "check credentials" runs from the page."""

from __future__ import annotations

import re

import pytest
import responses
from django.urls import reverse

from merchants.models import ProviderAccount
from providers.docsamples import sample_json

pytestmark = pytest.mark.django_db

TIPSER = "https://tipser.example.test"
LIST = sample_json("tipser", "order_list.json")  # the doc's own sample


def _inputs(html: str, kind: str) -> list[str]:
    return re.findall(rf'<input type="{kind}" name="([^"]+)"', html)


def _add_url(provider: str = "") -> str:
    return reverse("admin:merchants_provideraccount_add") + (f"?provider={provider}" if provider else "")


def test_add_page_renders_the_chosen_providers_credentials_as_password_inputs(admin_client):
    html = admin_client.get(_add_url("reseller")).content.decode()
    assert _inputs(html, "password") == ["cred__client_id", "cred__client_secret", "cred__username",
                                         "cred__password"]
    assert "Credentials for White-label reseller v3" in html
    # its options as typed fields, with the provider's choices and help
    assert '<select name="opt__edition"' in html
    assert "Free (read only)" in html and "Free edition accounts may only read." in html
    assert 'name="opt__account_id"' in html


def test_add_page_without_provider_offers_every_credential_once(admin_client):
    html = admin_client.get(_add_url()).content.decode()
    names = _inputs(html, "password")
    assert "cred__api_key" in names and "cred__client_secret" in names
    assert len(names) == len(set(names))
    assert "Choose the provider first" in html


def test_tipser_item_states_are_checkboxes_named_with_their_codes(admin_client):
    html = admin_client.get(_add_url("tipser")).content.decode()
    assert _inputs(html, "password") == ["cred__api_key"]
    for label in ["New (0)", "Hold (1)", "Shipped (2)", "Cancelled (3)", "Returned (4)", "Acknowledged (6)"]:
        assert label in html
    assert 'name="opt__sync_interval_minutes"' in html  # it syncs incoming orders


def _post_tipser(admin_client, **extra):
    data = {"provider": "tipser", "name": "Tipser EU", "environment": "sandbox", "base_url": TIPSER,
            "is_active": "on", "options": "{}", "cred__api_key": "tk_live_abcdefghijkl",
            "opt__page_size": "50", "opt__sync_states": ["0", "1", "6"], "opt__initial_days": "30",
            "opt__max_days": "90", "opt__safety_days": "1", "opt__rate_limit": "",
            "opt__sync_interval_minutes": "", **extra}
    return admin_client.post(_add_url("tipser"), data)


def test_adding_an_account_stores_credentials_and_only_non_default_options(admin_client):
    response = _post_tipser(admin_client, opt__page_size="20")
    assert response.status_code == 302, response.content.decode()[:3000]
    account = ProviderAccount.objects.get(name="Tipser EU")
    assert account.credentials == {"api_key": "tk_live_abcdefghijkl"}
    assert account.options == {"page_size": 20, "sync_states": "0,1,6"}
    html = admin_client.get(reverse("admin:merchants_provideraccount_change", args=[account.pk])).content.decode()
    assert "tk_live_abcdefghijkl" not in html
    assert _inputs(html, "password") == ["cred__api_key"]
    assert 'value="20"' in html  # the stored option is shown in its field


def test_a_bad_option_value_is_refused_with_its_field_named(admin_client):
    response = _post_tipser(admin_client, opt__page_size="many", opt__sync_states=["9"])
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a whole number." in html
    assert "Select a valid choice. 9 is not one of the available choices." in html
    assert not ProviderAccount.objects.filter(name="Tipser EU").exists()


def test_advanced_json_may_not_repeat_a_typed_option(admin_client):
    response = _post_tipser(admin_client, options='{"page_size": 3}')
    assert response.status_code == 200
    assert "Set these in their own fields above, not here: Page size for the order list." in response.content.decode()


def test_blank_credential_on_change_keeps_the_stored_one(admin_client):
    _post_tipser(admin_client)
    account = ProviderAccount.objects.get(name="Tipser EU")
    url = reverse("admin:merchants_provideraccount_change", args=[account.pk])
    response = admin_client.post(url, {
        "name": "Tipser EU", "environment": "sandbox", "base_url": TIPSER, "is_active": "on",
        "options": '{"rate_burst": 4}', "cred__api_key": "", "opt__page_size": "500",
        "opt__sync_states": ["0", "1", "2", "3", "4", "6"], "opt__initial_days": "30",
        "opt__max_days": "90", "opt__safety_days": "1", "opt__rate_limit": "2.5",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    account.refresh_from_db()
    assert account.credentials == {"api_key": "tk_live_abcdefghijkl"}
    assert account.options == {"rate_burst": 4, "rate_limit": 2.5}


@responses.activate
def test_save_and_check_credentials_reports_the_providers_answer(
        admin_client, django_capture_on_commit_callbacks):
    responses.add(responses.GET, re.compile(rf"{TIPSER}/.*"), json=LIST)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = _post_tipser(admin_client, _check="Save and check credentials")
    assert len(queued) == 1  # the check is queued once the saved account is committed
    account = ProviderAccount.objects.get(name="Tipser EU")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:merchants_provideraccount_change", args=[account.pk])
    html = admin_client.get(response["Location"]).content.decode()
    assert "Credentials work for Tipser EU: apiKey accepted" in html
    assert "apiKey=tk_live_abcdefghijkl" in responses.calls[0].request.url


@responses.activate
def test_check_button_on_the_change_page_posts_and_shows_a_refusal(admin_client):
    _post_tipser(admin_client)
    account = ProviderAccount.objects.get(name="Tipser EU")
    responses.add(responses.GET, re.compile(rf"{TIPSER}/.*"), status=403,
                  json={"message": "Unauthorized"})
    page = admin_client.get(reverse("admin:merchants_provideraccount_change", args=[account.pk])).content.decode()
    check_url = reverse("admin:merchants_provideraccount_check", args=[account.pk])
    assert f'action="{check_url}"' in page and 'id="dd-check-credentials"' in page
    assert admin_client.get(check_url).status_code == 403  # state changes only on POST
    html = admin_client.post(check_url, follow=True).content.decode()
    assert "Credentials check failed for Tipser EU" in html


def test_read_only_user_sees_no_check_button_and_cannot_check(client, django_user_model, merchant):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_provideraccount"))
    client.force_login(user)
    account = merchant.account
    html = client.get(reverse("admin:merchants_provideraccount_change", args=[account.pk])).content.decode()
    assert "dd-check-credentials" not in html and "Save and check credentials" not in html
    assert _inputs(html, "password") == []
    assert client.post(reverse("admin:merchants_provideraccount_check", args=[account.pk])).status_code == 403
