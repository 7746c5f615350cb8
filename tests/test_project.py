from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    full_env.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env={
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "a-real-secret-" + "x9Q!" * 12,
        "DJANGO_ALLOWED_HOSTS": "dropdesk.example.com",
        "FIELD_ENCRYPTION_KEY": "DbLfUze-fcwTpWjolk5DeAKxxbiVS4csIn7AHsFhgY0=",
        # the real services (check --deploy does not connect to them)
        "DATABASE_URL": "postgres://dropdesk:pw@db.internal:5432/dropdesk",
        "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
        "CACHE_URL": "redis://redis.internal:6379/1",
    })
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_refuses_missing_encryption_key(tmp_path):
    result = _manage("check", "--deploy", env={
        "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "a-real-secret-" + "x9Q!" * 12,
        "DJANGO_ALLOWED_HOSTS": "dropdesk.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
    })
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY" in result.stderr + result.stdout


def test_graph_transitions_draws_the_order_machines(capsys):
    call_command("graph_transitions", "orders")
    dot = capsys.readouterr().out
    assert "digraph" in dot
    assert "placement_unknown" in dot and "partially_shipped" in dot


@pytest.mark.django_db
def test_seed_demo_is_idempotent(settings):
    from merchants.models import ProviderAccount

    call_command("seed_demo")
    count = ProviderAccount.objects.count()
    call_command("seed_demo")
    assert ProviderAccount.objects.count() == count >= 4


@pytest.mark.django_db
def test_seed_demo_again_on_another_port_repoints_the_demo_sandbox_accounts(settings):
    """Regression: a second `make run PORT=8001` kept the accounts on the first run's port,
    so every sandbox call was refused."""
    from merchants.models import ProviderAccount

    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    call_command("seed_demo")
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8001"
    call_command("seed_demo")
    urls = set(ProviderAccount.objects.values_list("base_url", flat=True))
    assert urls and all(u.startswith("http://127.0.0.1:8001/sandbox/") for u in urls), urls


@pytest.mark.django_db
def test_demo_login_creates_admin_and_a_read_only_viewer(settings, client):
    import importlib

    from django.apps import apps as django_apps
    from django.contrib.auth import get_user_model

    importlib.import_module("orders.migrations.0002_groups").create_groups(django_apps, None)
    settings.DEBUG = True
    call_command("demo_login")
    viewer = get_user_model().objects.get(username="viewer")
    assert viewer.is_staff and not viewer.is_superuser
    assert list(viewer.groups.values_list("name", flat=True)) == ["Read-only"]
    assert client.login(username="viewer", password="viewer")
    assert client.login(username="admin", password="admin")


@pytest.mark.django_db
def test_demo_schedules_have_one_periodic_task_per_job(settings):
    """Regression: settings' CELERY_BEAT_SCHEDULE and the Tipser demo each added a second copy
    of tasks that setup_schedules makes (sweeps ran twice, Tipser synced on two schedules)."""
    from collections import Counter

    from django_celery_beat.models import PeriodicTask

    from orders.management.commands.setup_schedules import setup_schedules

    assert not getattr(settings, "CELERY_BEAT_SCHEDULE", None)
    call_command("seed_demo")
    setup_schedules()
    jobs = Counter((t.task, t.args) for t in PeriodicTask.objects.all())
    assert jobs and max(jobs.values()) == 1, jobs
