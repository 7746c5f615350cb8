from __future__ import annotations

import os

import pytest
import responses as responses_lib
from django.contrib.auth.models import Group, Permission

from providers import registry

from .factories import MerchantFactory, OrderFactory, OrderItemFactory
from .fake_provider import FakeService

# A provider call from inside a web request fails the test (core/web_scope.py); the servers
# tests start in subprocesses (e2e, schemathesis, topology) inherit it.
os.environ["PROVIDER_CALL_IN_REQUEST"] = "raise"


@pytest.fixture(autouse=True, scope="session")
def _provider_calls_refused_in_requests():
    from django.test import override_settings

    with override_settings(PROVIDER_CALL_IN_REQUEST="raise"):
        yield


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):  # type: ignore[no-untyped-def]
    """Each run its own PostgreSQL test database (``test_<name>_<pid>``, after xdist's
    ``_gw<n>``): two `make test` on one server do not share, drop or deadlock each other's.
    SQLite's test database is in memory and stays so."""
    from django.conf import settings

    for db in settings.DATABASES.values():
        if "sqlite" in db["ENGINE"]:
            continue
        test = db.setdefault("TEST", {})
        test["NAME"] = f"{test.get('NAME') or 'test_' + db['NAME']}_{os.getpid()}"


@pytest.fixture(autouse=True)
def _celery_join_flag_reset():
    """Celery's "a join here would block" flag is one process-wide global that every eager
    ``apply_async`` sets and restores; threads racing each other (tests/reliability) can leave
    it set, and every later ``result.get()`` then refuses. Each test starts with it clear."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: provider data cached per account pk
    (core.account_cache) must not leak into a later test whose account reuses the pk."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fake_provider():
    registry.register(FakeService)
    yield
    registry.unregister("fake")


@pytest.fixture
def mocked():
    """Provider HTTP mocked at the wire; any unexpected request fails the test."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def merchant(db):
    return MerchantFactory()


@pytest.fixture
def order(merchant):
    order = OrderFactory(merchant=merchant)
    OrderItemFactory(order=order, sku="SKU-A", quantity=2)
    OrderItemFactory(order=order, sku="SKU-B", quantity=1)
    return order


@pytest.fixture
def operator(db, django_user_model):
    user = django_user_model.objects.create_user("operator", password="pw", is_staff=True)
    perms = Permission.objects.filter(content_type__app_label__in=["orders", "merchants"])
    user.user_permissions.set(perms)
    return user


@pytest.fixture
def readonly_user(db, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


@pytest.fixture
def operators_group(db):
    return Group.objects.get_or_create(name="Operators")[0]


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Tests with a real Celery worker and a live server (marker ``worker``) run last: their
    live server thread stays up for the session, and a later test of the provider sandboxes
    then saw its eager tasks' calls served outside the test's recording (a test order
    interaction found on the PostgreSQL pass, not a product behaviour)."""
    items.sort(key=lambda item: item.get_closest_marker("worker") is not None)
