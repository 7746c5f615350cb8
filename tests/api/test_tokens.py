"""API tokens: shown once, stored only as a hash, revocable, last use recorded; nobody issues
a token with abilities they lack (issue 21, finding 1)."""

from __future__ import annotations

import hashlib
import importlib
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import OutputWrapper
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token

from merchants import tokens
from merchants.models import ApiToken, Integration
from merchants.services import integration_create
from orders.models import Order
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db
groups_migration = importlib.import_module("orders.migrations.0002_groups")
hash_migration = importlib.import_module("merchants.migrations.0004_api_tokens_hashed")
CHANGELIST = "/admin/merchants/integration/"


@pytest.fixture
def groups(db):
    groups_migration.create_groups(django_apps, None)
    return {g.name: g for g in Group.objects.filter(name__in=["Operators", "Read-only"])}


def _staff_in(group, django_user_model, name):
    user = django_user_model.objects.create_user(name, password="pw", is_staff=True)
    user.groups.add(group)
    return user


def _all_stored_text() -> str:
    rows = ApiToken.objects.values_list("id", "prefix", "hashed_key", "name")
    return " ".join(" ".join(map(str, row)) for row in rows)


def _order_payload(merchant):
    return {"merchant": merchant.pk, "items": [{"sku": "A"}]}


# --- finding 1: a read-only operator cannot obtain a write-capable token ----------------------
def test_readonly_group_cannot_rotate_a_token(client, groups, django_user_model, integration,
                                              merchant):
    viewer = _staff_in(groups["Read-only"], django_user_model, "ro")
    client.force_login(viewer)
    before = list(ApiToken.objects.values_list("pk", "revoked"))

    page = client.get(CHANGELIST)
    assert page.status_code == 200  # the Read-only group may look at integrations
    assert "rotate_token" not in page.content.decode()  # …but is offered no action
    response = client.post(CHANGELIST, {"action": "rotate_token",
                                        "_selected_action": [integration.pk]}, follow=True)

    html = response.content.decode()
    assert "New token" not in html and "stored only as a hash" not in html
    assert list(ApiToken.objects.values_list("pk", "revoked")) == before
    assert token_client(integration.key).post(
        "/api/v1/orders/", _order_payload(merchant), format="json").status_code == 201


def test_operator_cannot_issue_a_token_with_abilities_they_lack(client, groups,
                                                                django_user_model, merchant):
    """An integration whose service user holds a permission the issuer lacks (here: deleting
    orders) cannot be re-keyed by that issuer."""
    operator = _staff_in(groups["Operators"], django_user_model, "op")
    integration, key = integration_create(name="powerful")
    integration.user.user_permissions.add(Permission.objects.get(codename="delete_order"))
    client.force_login(operator)

    response = client.post(CHANGELIST, {"action": "rotate_token",
                                        "_selected_action": [integration.pk]}, follow=True)

    html = response.content.decode()
    assert "no token issued" in html and "orders.delete_order" in html
    assert token_client(key).get("/api/v1/orders/").status_code == 200  # old one untouched
    assert ApiToken.objects.filter(user=integration.user, revoked=False).count() == 1


def test_operator_rotates_a_token_within_their_abilities(client, groups, django_user_model,
                                                         integration, merchant):
    operator = _staff_in(groups["Operators"], django_user_model, "op")
    client.force_login(operator)
    response = client.post(CHANGELIST, {"action": "rotate_token",
                                        "_selected_action": [integration.pk]}, follow=True)
    new = response.content.decode().split("stored only as a hash): ", 1)[1].split("<", 1)[0]
    assert token_client(new).get("/api/v1/orders/").status_code == 200
    assert token_client(integration.key).get("/api/v1/orders/").status_code == 401


def test_service_refuses_a_superuser_token_to_a_non_superuser(groups, django_user_model):
    operator = _staff_in(groups["Operators"], django_user_model, "op")
    root = django_user_model.objects.create_superuser("root", password="pw")
    with pytest.raises(tokens.TokenRefused, match="superuser"):
        tokens.api_token_issue(user=root, name="root", actor=operator)
    assert not ApiToken.objects.filter(user=root).exists()


def test_readonly_cannot_add_an_integration(client, groups, django_user_model):
    viewer = _staff_in(groups["Read-only"], django_user_model, "ro")
    client.force_login(viewer)
    response = client.post(f"{CHANGELIST}add/", {"name": "mine", "is_active": "on"})
    assert response.status_code == 403
    assert not Integration.objects.exists() and not ApiToken.objects.exists()


# --- hashed at rest, shown once, revocable, last used ------------------------------------------
def test_key_is_stored_only_as_a_hash(integration):
    key = integration.key
    prefix, secret = key.split(".")
    stored = ApiToken.objects.get(user=integration.user)
    assert stored.prefix == prefix and len(secret) == 32
    assert stored.hashed_key == "sha512$$" + hashlib.sha512(key.encode()).hexdigest()
    assert secret not in _all_stored_text()
    assert not Token.objects.exists()


def test_command_prints_the_key_once_and_stores_a_hash(db):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "Shop", stdout=OutputWrapper(out), stderr=OutputWrapper(err))
    key = out.getvalue().strip()
    assert "stored only as a hash" in err.getvalue() and key not in err.getvalue()
    assert key.split(".")[1] not in _all_stored_text()
    assert token_client(key).get("/api/v1/orders/").status_code == 200


def test_command_help_says_shown_once_and_hashed(capsys):
    with pytest.raises(SystemExit):
        call_command("create_api_token", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "shown only this once" in text and "only a hash" in text and "Revoke" in text


def test_wrong_secret_with_a_valid_prefix_is_refused(integration):
    prefix = integration.key.split(".")[0]
    assert token_client(f"{prefix}.{'x' * 32}").get("/api/v1/orders/").status_code == 401
    assert token_client(prefix).get("/api/v1/orders/").status_code == 401


def test_admin_revokes_a_token(admin_client, integration):
    admin_client.post(CHANGELIST, {"action": "revoke_tokens",
                                   "_selected_action": [integration.pk]})
    assert token_client(integration.key).get("/api/v1/orders/").status_code == 401
    assert ApiToken.objects.get(user=integration.user).revoked


def test_expired_token_is_refused(integration):
    import datetime as dt

    from django.utils import timezone

    ApiToken.objects.filter(user=integration.user).update(
        expiry_date=timezone.now() - dt.timedelta(seconds=1))
    assert token_client(integration.key).get("/api/v1/orders/").status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(integration, order, monkeypatch):
    import datetime as dt

    from django.utils import timezone

    assert ApiToken.objects.get(user=integration.user).last_used_at is None
    client = token_client(integration.key)
    with CaptureQueriesContext(connection) as first:
        assert client.get("/api/v1/orders/").status_code == 200
    stamp = ApiToken.objects.get(user=integration.user).last_used_at
    assert stamp is not None
    with CaptureQueriesContext(connection) as second:
        assert client.get("/api/v1/orders/").status_code == 200
    updates = [q["sql"] for q in second.captured_queries
               if q["sql"].startswith("UPDATE") and "apitoken" in q["sql"]]
    assert updates == []  # no write per request
    assert len(second.captured_queries) == len(first.captured_queries) - 1
    assert ApiToken.objects.get(user=integration.user).last_used_at == stamp
    later = timezone.now() + dt.timedelta(minutes=2)
    monkeypatch.setattr(tokens.timezone, "now", lambda: later)
    assert client.get("/api/v1/orders/").status_code == 200
    assert ApiToken.objects.get(user=integration.user).last_used_at == later


def test_integration_page_shows_prefix_and_last_use_never_the_key(admin_client, integration):
    token_client(integration.key).get("/api/v1/orders/")
    html = admin_client.get(
        reverse("admin:merchants_integration_change", args=[integration.pk])).content.decode()
    prefix, secret = integration.key.split(".")
    assert f"{prefix}…" in html and "last used" in html
    assert secret not in html


def test_migration_hashes_plaintext_tokens_and_they_keep_working(integration, merchant):
    """A token issued before hashing (a plaintext DRF token) keeps working after the data
    migration, and its plaintext is gone from the database."""
    ApiToken.objects.all().delete()
    legacy = Token.objects.create(user=integration.user).key  # 40 hex characters, no prefix
    assert token_client(legacy).get("/api/v1/orders/").status_code == 401  # before: unknown

    hash_migration.hash_plaintext_tokens(django_apps, None)

    assert not Token.objects.exists()
    assert legacy not in _all_stored_text()
    stored = ApiToken.objects.get(user=integration.user)
    assert stored.prefix == legacy[:8] and stored.name == integration.name
    client = token_client(legacy)
    assert client.get("/api/v1/orders/").status_code == 200
    assert client.post("/api/v1/orders/", _order_payload(merchant),
                       format="json").status_code == 201
    assert Order.objects.count() == 1
