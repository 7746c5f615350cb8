"""SQLite backend that knows modern SQLite's bind-parameter limit.

Django assumes the pre-3.32 limit of 999 parameters, which splits every bulk insert of a
page of orders into many statements; SQLite ≥ 3.32 allows 32,766 (the build here allows more).
With this, a synced page is written with the same number of queries whatever its size.

A subclass through Django's documented backend hooks (``ENGINE`` = this package), checked on
the Django versions in ``CHECKED``: Django 6.0 reads the limit from SQLite itself
(``max_query_params`` becomes a cached property), so this backend is then unnecessary —
on a version outside the range it refuses to load; switch ``ENGINE`` back to Django's.
"""

import sqlite3

import django
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.sqlite3 import base, features

CHECKED = ((5, 2), (5, 2))  # inclusive (major, minor) range of Django
if not CHECKED[0] <= django.VERSION[:2] <= CHECKED[1]:
    raise ImproperlyConfigured(
        f"core.db.sqlite3 was checked on Django {CHECKED}; this is {django.get_version()}. "
        "Check whether Django's SQLite backend now knows the bind-parameter limit, and drop "
        "this backend or widen CHECKED."
    )

MODERN_LIMIT = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999


class DatabaseFeatures(features.DatabaseFeatures):
    max_query_params = MODERN_LIMIT


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
