"""The framework patches in core/ refuse to run on versions they were not checked on."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import fsm


def test_fsm_patch_is_installed_on_the_checked_version():
    low, high = fsm.CHECKED
    assert low <= fsm.installed_version() <= high


def test_fsm_patch_refuses_another_version(monkeypatch):
    monkeypatch.setattr(fsm, "installed_version", lambda: (9, 0))
    with pytest.raises(ImproperlyConfigured, match="Re-check the patch"):
        fsm.install()


def test_sqlite_backend_knows_modern_limits(settings):
    from django.db import connections

    if connections["default"].vendor != "sqlite":
        pytest.skip("SQLite backend only")
    from core.db.sqlite3.base import MODERN_LIMIT

    assert connections["default"].features.max_query_params == MODERN_LIMIT > 999
