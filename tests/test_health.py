"""/healthz: django-health-check's checks for database, cache, broker, a Celery worker and
pending migrations; JSON for probes; answered over plain HTTP when TLS redirects are on."""

from __future__ import annotations

import pytest

from config import health
from config.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker_answers(monkeypatch):
    """A worker answers ping and consumes the default queue (no worker runs in the suite)."""
    monkeypatch.setattr(app.control, "ping",
                        lambda **kw: [{"celery@box": {"ok": "pong"}}])

    class Inspect:
        def active_queues(self):  # type: ignore[no-untyped-def]
            return {"celery@box": [{"name": app.conf.task_default_queue}]}

    monkeypatch.setattr(app.control, "inspect", lambda *a, **kw: Inspect())


def test_green_json_lists_every_check(client, worker_answers):
    response = client.get("/healthz?format=json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body.values()) == {"OK"}
    names = " ".join(body)
    for check in ("Database", "Cache", "Broker", "CeleryPing", "Migrations"):
        assert check in names


def test_accept_header_gets_json(client, worker_answers):
    response = client.get("/healthz", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_no_worker_answering_is_red_and_named(client, monkeypatch):
    monkeypatch.setattr(app.control, "ping", lambda **kw: [])
    response = client.get("/healthz?format=json")
    assert response.status_code == 500
    assert response.json()["CeleryPing()"] == "Unavailable: Celery workers unavailable"


def test_pending_migrations_are_red(client, worker_answers, monkeypatch):
    class Executor:
        def __init__(self, connection):  # type: ignore[no-untyped-def]
            self.loader = type("L", (), {"graph": type("G", (), {"leaf_nodes": lambda s: []})()})()

        def migration_plan(self, targets):  # type: ignore[no-untyped-def]
            migration = type("M", (), {"app_label": "orders", "name": "0099_new"})()
            return [(migration, False)]

    monkeypatch.setattr(health, "MigrationExecutor", Executor)
    response = client.get("/healthz?format=json")
    assert response.status_code == 500
    assert "1 unapplied migration(s): orders.0099_new" in response.json()["Migrations(alias='default')"]


def test_broker_down_is_red_without_showing_the_url(client, worker_answers, settings, monkeypatch):
    monkeypatch.setattr(app.conf, "broker_url", "redis://:hunter2@127.0.0.1:1/0")
    response = client.get("/healthz?format=json")
    assert response.status_code == 500
    assert response.json()["Broker()"].startswith("Unavailable: broker unreachable")
    assert b"hunter2" not in response.content


def test_plain_http_probe_is_not_redirected_to_tls(client, worker_answers, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/admin/login/").status_code == 301
    response = client.get("/healthz?format=json")
    assert response.status_code == 200
