"""`check --deploy` refuses each embedded default of `make run` when DEBUG is off, naming the
setting to change; DROPDESK_SINGLE_MACHINE accepts the machine-local ones."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from config.checks import embedded_default_problems

from .test_project import _manage

PG = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "dropdesk"}}
SQLITE = {"default": {"ENGINE": "core.db.sqlite3", "NAME": "/srv/var/dropdesk.sqlite3"}}
REDIS_CACHE = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
FILE_CACHE = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}}
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REAL = {"databases": PG, "broker_url": "redis://r:6379/0", "caches": REDIS_CACHE}


def _problems(single_machine: bool = False, debug: bool = False, **overrides):  # type: ignore[no-untyped-def]
    return embedded_default_problems(debug=debug, single_machine=single_machine,
                                     **{**REAL, **overrides})


def test_the_real_services_pass():
    assert _problems() == []
    assert _problems(broker_url="amqp://u:p@rabbit:5672//") == []


@pytest.mark.parametrize(("override", "code", "setting"), [
    ({"databases": SQLITE}, "dropdesk.E010", "DATABASE_URL"),
    ({"broker_url": "filesystem://"}, "dropdesk.E011", "CELERY_BROKER_URL"),
    ({"broker_url": "memory://"}, "dropdesk.E011", "CELERY_BROKER_URL"),
    ({"caches": FILE_CACHE}, "dropdesk.E013", "CACHE_URL"),
    ({"caches": LOCMEM}, "dropdesk.E012", "CACHE_URL"),
])
def test_each_embedded_default_is_an_error_naming_the_setting(override, code, setting):
    problems = _problems(**override)
    assert [p.id for p in problems] == [code]
    assert problems[0].is_serious()
    assert setting in problems[0].hint


def test_debug_on_accepts_the_embedded_defaults():
    assert _problems(debug=True, databases=SQLITE, broker_url="filesystem://",
                     caches=FILE_CACHE) == []


def test_single_machine_accepts_machine_local_defaults_but_not_process_local_ones():
    assert _problems(single_machine=True, databases=SQLITE, broker_url="filesystem://",
                     caches=FILE_CACHE) == []
    refused = _problems(single_machine=True, broker_url="memory://", caches=LOCMEM)
    assert sorted(p.id for p in refused) == ["dropdesk.E011", "dropdesk.E012"]


@pytest.mark.django_db  # another deploy check reads the stored credentials
def test_check_deploy_command_fails_on_the_test_settings_defaults(settings):
    """The registered check reads the live settings (the suite runs on locmem + memory://)."""
    settings.DEBUG = False
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", deploy=True)
    message = str(raised.value)
    assert "dropdesk.E012" in message and "CACHE_URL" in message
    assert "dropdesk.E011" in message and "CELERY_BROKER_URL" in message


def _env(tmp_path, **extra: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "a-real-secret-" + "x9Q!" * 12,
        "DJANGO_ALLOWED_HOSTS": "dropdesk.example.com",
        "FIELD_ENCRYPTION_KEY": "DbLfUze-fcwTpWjolk5DeAKxxbiVS4csIn7AHsFhgY0=",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "CELERY_BROKER_URL": "filesystem://", "CACHE_URL": f"filecache://{tmp_path}/cache",
        "CELERY_BROKER_FOLDER": str(tmp_path / "broker"),
        **extra,
    }


def test_manage_check_deploy_refuses_the_make_run_defaults_and_the_hatch_accepts_them(tmp_path):
    refused = _manage("check", "--deploy", env=_env(tmp_path))
    assert refused.returncode != 0
    for code, setting in [("E010", "DATABASE_URL"), ("E011", "CELERY_BROKER_URL"),
                          ("E013", "CACHE_URL")]:
        assert f"dropdesk.{code}" in refused.stderr and setting in refused.stderr
    accepted = _manage("check", "--deploy", "--fail-level", "WARNING",
                       env=_env(tmp_path, DROPDESK_SINGLE_MACHINE="true"))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
