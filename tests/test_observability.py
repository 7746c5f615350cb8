"""Structured logs carry request, task, order and account ids (and stay redacted); Sentry
starts only with a DSN and scrubs events with the logs' redaction."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from config.logformat import json_formatter
from config.sentry import scrubber
from orders import services, tasks

SECRET = "sk_live_dont_leak_42"


@pytest.fixture
def json_log():
    """The production handler (LOGGING's json formatter + redaction filter) on the root."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(import_string(settings.LOGGING["filters"]["redact"]["()"])())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_production_log_format_is_json_and_make_run_is_plain():
    assert settings.LOG_FORMAT == "json"  # DEBUG off, as in production
    assert settings.LOGGING["handlers"]["console"]["formatter"] == settings.LOG_FORMAT
    assert "redact" in settings.LOGGING["handlers"]["console"]["filters"]
    out = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.LOG_FORMAT)"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "true"},
        capture_output=True, text=True, check=True, cwd=settings.BASE_DIR,
    )
    assert out.stdout.strip() == "plain"


@pytest.mark.django_db
def test_request_records_carry_the_request_id(client, json_log, monkeypatch):
    from config.celery import app

    monkeypatch.setattr(app.control, "ping", lambda **kw: [])  # health logs its failed check
    response = client.get("/healthz?format=json", HTTP_X_REQUEST_ID="req-abc-123")
    assert response["X-Request-ID"] == "req-abc-123"
    records = [r for r in json_log() if r.get("logger") == "health_check"]
    assert records and all(r["request_id"] == "req-abc-123" for r in records)
    assert records[0]["level"] == "warning" and "timestamp" in records[0]

    other = client.get("/healthz?format=json", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert other["X-Request-ID"] != "bad id\nwith newline" and len(other["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_task_records_carry_task_id_order_and_account_then_nothing_leaks(order, json_log,
                                                                         monkeypatch):
    def place(*, order):  # type: ignore[no-untyped-def]
        logging.getLogger("orders.services").info("calling provider with %s",
                                                  f"/orders?apiKey={SECRET}")
        return order

    monkeypatch.setattr(services, "order_place", place)
    result = tasks.order_place_task.apply(args=(order.pk,))
    logging.getLogger("after").info("outside any task")

    [inside] = [r for r in json_log() if r["logger"] == "orders.services"]
    assert inside["task_id"] == result.id
    assert inside["task"] == "orders.tasks.order_place_task"
    assert inside["order"] == order.reference
    assert inside["provider_account"] == order.merchant.account.pk
    assert inside["provider"] == "fake"
    assert SECRET not in json.dumps(inside)  # the redaction filter still runs
    [after] = [r for r in json_log() if r["logger"] == "after"]
    assert not {"task_id", "order", "provider_account", "request_id"} & set(after)


@pytest.mark.django_db
def test_account_sync_records_carry_the_account(merchant, json_log, monkeypatch):
    def sync(*, account):  # type: ignore[no-untyped-def]
        logging.getLogger("orders.services").info("page fetched")
        return {"pages": 1}

    monkeypatch.setattr(services, "account_sync_incoming", sync)
    tasks.account_sync_task.apply(args=(merchant.account.pk,))
    [record] = [r for r in json_log() if r["logger"] == "orders.services"]
    assert record["provider_account"] == merchant.account.pk and record["task_id"]


def test_sentry_is_off_without_a_dsn():
    import sentry_sdk

    assert settings.SENTRY_DSN == ""
    assert not sentry_sdk.get_client().is_active()


def test_sentry_starts_with_a_dsn_with_both_integrations_and_no_pii():
    script = (
        "import json, django; django.setup(); import sentry_sdk; from django.conf import settings;"
        "c = sentry_sdk.get_client();"
        "event = {'message': 'boom apiKey=" + SECRET + "', 'extra': {'url': ['/x?token=" + SECRET + "']}};"
        "scrubbed = c.options['before_send'](event, None);"
        "print(json.dumps({'active': c.is_active(), 'pii': c.options['send_default_pii'],"
        " 'integrations': sorted(c.integrations), 'event': scrubbed}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings",
           "SENTRY_DSN": "https://public@sentry.invalid/1"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=60, cwd=settings.BASE_DIR)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["active"] is True and report["pii"] is False
    assert {"django", "celery"} <= set(report["integrations"])
    assert SECRET not in json.dumps(report["event"])
    assert report["event"]["message"].startswith("boom apiKey=")


def test_sentry_scrubber_walks_nested_values():
    scrub = scrubber(settings.LOGGING)
    event = {"exception": {"values": [{"value": f"password={SECRET}", "n": 3}]},
             "breadcrumbs": ({"message": f"GET /?access_token={SECRET}"},)}
    text = json.dumps(scrub(event, None))
    assert SECRET not in text and '"n": 3' in text


def test_json_traceback_is_the_redacted_one(json_log):
    try:
        raise RuntimeError(f"provider said password={SECRET}")
    except RuntimeError:
        logging.getLogger("boom").exception("placement crashed")
    [record] = [r for r in json_log() if r["logger"] == "boom"]
    assert "RuntimeError" in record["exception"] and SECRET not in json.dumps(record)
