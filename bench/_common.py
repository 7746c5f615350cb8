"""Shared helpers for the benchmarks in bench/ (run by `make bench`; not tests).

Each benchmark runs once per database: the embedded SQLite (a file under var/bench/) and the
machine's PostgreSQL (a database `dropdesk_bench`, created if missing) when one answers.
It prints a small table and one JSON line with its figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/dropdesk_bench")
# Data is created once and reused across runs (SQLite file here, PostgreSQL database above).
BENCH_DIR = Path(os.environ.get("BENCH_DIR", str(ROOT / "var" / "bench")))


def ensure_pg_database(url: str) -> None:
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3,
                         autocommit=True) as conn:
        name = url.rsplit("/", 1)[1]
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def sibling_url(db: str, url: str, suffix: str) -> str:
    """Another bench database beside ``url`` (e.g. a small data set), created if missing."""
    if db == "sqlite":
        return url.replace("bench.sqlite3", f"bench{suffix}.sqlite3")
    other = url + suffix
    ensure_pg_database(other)
    return other


def database_urls() -> dict[str, str]:
    urls = {"sqlite": f"sqlite:///{BENCH_DIR / 'bench.sqlite3'}"}
    only = os.environ.get("BENCH_DB", "")  # "sqlite" or "postgres": run on one only
    if only == "sqlite":
        return urls
    try:
        import psycopg

        with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", connect_timeout=3,
                             autocommit=True) as conn:
            name = PG_URL.rsplit("/", 1)[1]
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
        urls["postgres"] = PG_URL
    except Exception as exc:
        print(f"(PostgreSQL skipped: {exc.__class__.__name__}: {exc})")
    if only == "postgres":
        urls.pop("sqlite")
    return urls


def setup_django(db_url: str) -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = db_url
    # production settings minus TLS redirect and the hashed-static manifest (no collectstatic)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "_settings")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("CACHE_URL", "locmemcache://")
    os.environ.setdefault("SANDBOX_ENABLED", "true")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def report(name: str, db: str, rows: list[tuple[str, Any, Any, str]], figures: dict[str, Any]) -> None:
    """rows: (metric, dropdesk, ceiling or '', target)."""
    print(f"\n== {name} [{db}] ==")
    print(f"{'metric':<38} {'dropdesk':>14} {'ceiling':>14}  target")
    for metric, ours, ceiling, target in rows:
        print(f"{metric:<38} {_fmt(ours):>14} {_fmt(ceiling):>14}  {target}")
    figures = {"benchmark": name, "db": db, "machine": platform.node(),
               "python": platform.python_version(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               **figures}
    print("JSON " + json.dumps(figures, sort_keys=True))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def median(values: list[float]) -> float:
    return statistics.median(values)


def run_per_database(file: str) -> None:
    """Run the benchmark script ``file`` once per database, each in a fresh interpreter."""
    import subprocess

    if len(sys.argv) == 3:
        return
    for db, url in database_urls().items():
        subprocess.run([sys.executable, file, db, url], cwd=ROOT / "bench", check=False)
    sys.exit(0)


def server_env(db_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
        "CELERY_TASK_ALWAYS_EAGER": "false", "SANDBOX_ENABLED": "true",
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost", "DJANGO_LOG_LEVEL": "WARNING",
        "CACHE_URL": os.environ.get("CACHE_URL", "locmemcache://"),
    })
    env.update(extra)
    return env


def free_port() -> int:
    """A free loopback port: the first free one of ``BENCH_PORTS`` ("8360-8369") when given
    (a shared machine hands each engineer a range), else any."""
    import socket

    first, _, last = os.environ.get("BENCH_PORTS", "").partition("-")
    candidates = range(int(first), int(last or first) + 1) if first else [0]
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


class Server:
    """``manage.py runserver --noreload`` (threaded) on loopback against the bench database."""

    def __init__(self, db_url: str, **env: str) -> None:
        import subprocess

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(BENCH_DIR / f"server-{self.port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "runserver", "--noreload", "--skip-checks",
             f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=server_env(db_url, **env), stdout=self.log, stderr=subprocess.STDOUT,
        )
        import requests

        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                requests.get(self.url + "/admin/login/", timeout=1)
                return
            except requests.RequestException:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"bench server did not start; see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:
                self.proc.kill()
        self.log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def cpu_seconds(pid: int | None = None, *, children: bool = False) -> float:
    """CPU seconds (user + system) used so far by this process (every thread), or by another
    process of this machine (``/proc/<pid>/stat``; 0.0 when it cannot be read) — with
    ``children``, plus its live descendants' (a prefork worker's pool)."""
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    if not children:
        return own
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            kids += [int(k) for k in task.read_text().split()]
    return own + sum(cpu_seconds(kid, children=True) for kid in kids)


SELF = -1  # ``cpu_used``: this process


@contextlib.contextmanager
def cpu_used(pids: dict[str, int | None], *, children: bool = False) -> Iterator[dict[str, float]]:
    """CPU seconds each named process uses inside the block, filled in when it ends: ``SELF``
    for this process, a pid for another (``children``: with its pool), ``None`` for a process
    that is not there (e.g. no PostgreSQL backend on SQLite: 0.0)."""
    def now() -> dict[str, float]:
        return {name: 0.0 if pid is None else
                cpu_seconds(None if pid == SELF else pid, children=children and pid != SELF)
                for name, pid in pids.items()}

    used: dict[str, float] = {}
    before = now()
    try:
        yield used
    finally:
        used.update({name: value - before[name] for name, value in now().items()})


def db_backend_pid() -> int | None:
    """The PostgreSQL server process serving this thread's connection (None on SQLite: the
    database works inside this process)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def analyze() -> None:
    """Fresh planner statistics (the sync and bulk benchmarks insert and delete tens of
    thousands of rows per run): measure the steady state, not a table full of dead rows."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE orders_order, orders_orderitem")
        elif connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
