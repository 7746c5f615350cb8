"""SQLite backend that knows modern SQLite's bind-parameter limit.

Django assumes the pre-3.32 limit of 999 parameters, which splits every bulk insert of a
page of orders into many statements; SQLite ≥ 3.32 allows 32,766 (the build here allows more).
With this, a synced page is written with the same number of queries whatever its size.
"""

import sqlite3

from django.db.backends.sqlite3 import base, features

MODERN_LIMIT = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999


class DatabaseFeatures(features.DatabaseFeatures):
    max_query_params = MODERN_LIMIT


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
