"""The API against its own OpenAPI schema, live: schemathesis with every check and every phase
(coverage, fuzzing, stateful through the schema's links) against ``runserver`` on a freshly
seeded database (``tests/api/live_fuzz.py``).

``make test`` runs a few examples per operation (SCHEMATHESIS_MAX_EXAMPLES, default 5) and
asserts no check fails; ``make fuzz`` runs 100 (where schemathesis' "missing test data"
warning is the thing to look at: with 5 examples a few transitions may see only 404s). On the PostgreSQL pass (DATABASE_URL=postgres://…) the server uses a
throwaway PostgreSQL database beside the test database; otherwise a temporary SQLite file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

from tests.api import live_fuzz

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "5"))


@contextlib.contextmanager
def _database() -> Iterator[str | None]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield None
        return
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'dropdesk'}_livefuzz"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_api_conforms_to_its_schema_live():
    with _database() as database_url:
        result = live_fuzz.run(MAX_EXAMPLES, live_fuzz.free_port(), database_url)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]  # no failure of any check
    assert "Stateful" in output and "Coverage" in output and "Fuzzing" in output
