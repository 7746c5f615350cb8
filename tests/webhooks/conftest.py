from __future__ import annotations

import socket

import pytest
from django.core.cache import cache

from merchants.services import integration_create
from webhooks.services import webhook_subscription_create

RECEIVER = "https://hooks.example.com/dropdesk"
PUBLIC_IP = "93.184.216.34"


@pytest.fixture(autouse=True)
def _webhook_settings(settings, monkeypatch):
    """Receivers resolve to a public address (no DNS here); caches start empty."""
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host.endswith("example.com"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port))]
        if host.endswith(".invalid"):
            raise socket.gaierror("Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr("webhooks.targets.socket.getaddrinfo", fake_getaddrinfo)
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hook_integration(db):
    integration, key = integration_create(name="storefront")
    integration.key = key
    return integration


@pytest.fixture
def subscription(hook_integration):
    sub, secret = webhook_subscription_create(integration=hook_integration, url=RECEIVER)
    sub.plain_secret = secret
    return sub


@pytest.fixture
def bare_order(merchant):
    """An order without items: a cancel is one event (items would add one each)."""
    from tests.factories import OrderFactory

    return OrderFactory(merchant=merchant)
