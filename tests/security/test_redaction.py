"""core.redaction: the registry, the generic patterns, every log record, legacy stored text."""

from __future__ import annotations

import io
import logging
import time

import pytest
from django.urls import reverse

from core import redaction
from core.redaction import REDACTED, redact_text, redact_url, register_secret
from orders.models import Order
from tests.factories import AccountFactory, MerchantFactory, OrderFactory

SECRET = "Registry-S3cret/with+chars&more"


@pytest.fixture
def plain_handler():
    """A handler with no filter, on a logger that does not propagate (as Celery's are)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("celery.app.trace.redaction-test")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    yield log, stream
    log.removeHandler(handler)


def test_registered_values_are_masked_as_written_url_encoded_and_html_escaped():
    register_secret(SECRET)
    from html import escape
    from urllib.parse import quote, quote_plus

    for form in (SECRET, quote(SECRET, safe=""), quote_plus(SECRET), escape(SECRET)):
        assert redact_text(f"before {form} after") == f"before {REDACTED} after"


def test_short_values_are_not_registered():
    register_secret("demo", "abc12")
    assert redact_text("demo abc12") == "demo abc12"


@pytest.mark.parametrize("text", [
    "GET /v3/orders?apiKey=abcdef123&x=1",
    "POST data: grant_type=password&username=u&password=hunter22",
    "{'client_secret': 'topsecret1'}",
    '{"access_token": "tok-123456"}',
    "Authorization: Bearer eyJhbGciOi.abc.def",
    "headers={'X-Api-Client-Id': 'ak_live_77'}",
    "https://h/x?key=k-998877&token=t-665544",
])
def test_generic_patterns_mask_credential_looking_values(text):
    masked = redact_text(text)
    for value in ("abcdef123", "hunter22", "topsecret1", "tok-123456", "eyJhbGciOi",
                  "ak_live_77", "k-998877", "t-665544"):
        assert value not in masked
    assert REDACTED in masked


def test_redact_url_drops_userinfo_and_sensitive_params():
    url = redact_url("https://user:pw@host/path?apiKey=abc&page=2&Token=zz")
    assert url == "https://host/path?apiKey=***&page=2&Token=***"


def test_every_log_record_is_redacted_even_without_our_filter(plain_handler):
    log, stream = plain_handler
    register_secret(SECRET)
    # Celery's retry line: "%(name)s" arguments in a dict
    log.info("Task %(name)s[%(id)s] retry: %(exc)s",
             {"name": "t", "id": "1", "exc": f"Retry in 5s: Boom('{SECRET}')"})
    log.info("positional %s and %r", SECRET, {"password": "pw-in-a-dict"})
    try:
        raise RuntimeError(f"url=https://h/?apiKey={SECRET}")
    except RuntimeError:
        log.exception("failed")
    text = stream.getvalue()
    assert "retry: Retry in 5s" in text and "Traceback" in text
    assert SECRET not in text and "pw-in-a-dict" not in text


def test_log_redaction_is_cheap():
    known = set(redaction.registry._values)  # what earlier tests of this process registered
    redaction.registry.clear()
    try:
        register_secret(*[f"secret-value-{n:04d}-xyz" for n in range(200)])
        record_text = "provider call list_orders GET https://h/v3/orders?page=3 -> 200 ok in 12ms"
        started = time.perf_counter()
        for _ in range(2000):
            redact_text(record_text)
        per_call = (time.perf_counter() - started) / 2000
    finally:
        redaction.registry.clear()
        redaction.registry.add(*known)
    assert per_call < 0.0005  # half a millisecond with 200 secrets (about 20 µs measured)


@pytest.mark.django_db
def test_text_stored_by_an_older_version_is_masked_in_the_csv(admin_user, client):
    account = AccountFactory(credentials={"api_key": "legacy-key-0123456789"})
    order = OrderFactory(merchant=MerchantFactory(account=account))
    # written without the model (no pre_save), as an older version stored it
    Order.objects.filter(pk=order.pk).update(failure_reason="HTTP 401 for legacy-key-0123456789")
    known = set(redaction.registry._values)
    redaction.registry.clear()  # a fresh web process: it has decrypted nothing yet
    redaction.forget_account_secrets()
    try:
        client.force_login(admin_user)
        response = client.get(reverse("admin:orders_order_export_csv"))
        csv = b"".join(response.streaming_content).decode()
    finally:
        redaction.registry.add(*known)
    assert "HTTP 401 for ***" in csv and "legacy-key-0123456789" not in csv


@pytest.mark.django_db
def test_stored_failure_text_is_redacted_on_save():
    account = AccountFactory(credentials={"api_key": "stored-key-0123456789"})
    order = OrderFactory(merchant=MerchantFactory(account=account))
    order.failure_reason = "refused: stored-key-0123456789"
    order.save()
    order.refresh_from_db()
    assert order.failure_reason == "refused: ***"


def test_tokens_are_kept_only_while_recent():
    cap = redaction.SecretRegistry.MAX_TRANSIENT
    registry = redaction.SecretRegistry()
    registry.add("credential-value-1")
    for n in range(cap + 10):
        registry.add(f"token-{n:06d}", transient=True)
    assert "credential-value-1" in registry and f"token-{cap + 9:06d}" in registry
    assert "token-000000" not in registry and len(registry) == 1 + cap
