"""The production topology on loopback: gunicorn (2 workers), 2 Celery prefork workers and one
beat, with production settings (DEBUG off, PostgreSQL, Redis as broker, cache and rate
limiter), the provider sandboxes served by a separate gunicorn. 200 placements and a Tipser
sync go through the REST API; one Celery worker is SIGKILLed mid-run.

Asserted: every order settles in a named state, no provider order is created twice (counted at
the sandbox), beat installed and ran the sweeps, /healthz is green before and after.

Its own PostgreSQL database (``dd_topology_<pid>``, dropped at the end) and its own Redis key
prefix in db ``TOPOLOGY_REDIS_DB`` (11); skipped with the reason when either server is absent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis as redis_lib
import requests

from orders.lifecycle import Lifecycle
from orders.schedules import SWEEPS

from .conftest import NOTES
from .helper import CONTACT_PREFIX

pytestmark = pytest.mark.topology

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_SERVER = os.environ.get("TOPOLOGY_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_HOST = os.environ.get("TOPOLOGY_REDIS", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("TOPOLOGY_REDIS_DB", "11"))
PORT_BASE = int(os.environ.get("TOPOLOGY_PORT_BASE", "18500"))
PLACEMENTS = int(os.environ.get("TOPOLOGY_PLACEMENTS", "200"))
FERNET = "DbLfUze-fcwTpWjolk5DeAKxxbiVS4csIn7AHsFhgY0="
UNSETTLED = {Lifecycle.DRAFT, Lifecycle.PLACING}
SWEEP_TASKS = {task for _label, task, _minutes in SWEEPS}


def _pg_url(database: str) -> str:
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(PG_SERVER)._replace(path=f"/{database}"))


def _services_answer() -> str:
    try:
        psycopg.connect(_pg_url("postgres"), connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"PostgreSQL does not answer at {PG_SERVER} ({exc.__class__.__name__})"
    try:
        redis_lib.Redis.from_url(f"{REDIS_HOST}/{REDIS_DB}", socket_connect_timeout=2).ping()
    except redis_lib.RedisError as exc:
        return f"Redis does not answer at {REDIS_HOST} ({exc.__class__.__name__})"
    return ""


def _free_port(start: int) -> int:
    for port in range(start, start + 100):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


class Topology:
    """The processes of one deployment, each logging to its own file under ``logs``."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs, self.env = logs, env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def run(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(args, cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def helper(self, *args: str) -> dict[str, Any]:
        out = self.run(str(BIN / "python"), "-m", "tests.topology.helper", *args)
        return json.loads(out.strip().splitlines()[-1])

    def start(self, name: str, *args: str, **extra_env: str) -> None:
        handle = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            args, cwd=ROOT, env={**self.env, **extra_env}, stdout=handle,
            stderr=subprocess.STDOUT, start_new_session=True,  # its own group: kill it whole
        )

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def wait_for_log(self, name: str, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log(name):
                return
            proc = self.procs[name]
            assert proc.poll() is None, f"{name} exited:\n{self.log(name)[-3000:]}"
            time.sleep(0.3)
        raise AssertionError(f"{name}: no {text!r} after {timeout}s:\n{self.log(name)[-3000:]}")

    def kill(self, name: str) -> None:
        """SIGKILL the process and its prefork children (a worker machine lost)."""
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Topology]:
    reason = _services_answer()
    if reason:
        pytest.skip(reason)
    run_id = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    database = f"dd_topology_{run_id}"
    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    prefix = f"dd-topology-{run_id}:"
    os.environ["TOPOLOGY_DATABASE_URL"] = _pg_url(database)  # for _progress below
    redis_url = f"{REDIS_HOST}/{REDIS_DB}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "CACHE_URL", "SENTRY_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "topology-" + uuid.uuid4().hex * 2,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_BEHIND_TLS_PROXY": "true",
        "DJANGO_LOG_FORMAT": "json",
        "FIELD_ENCRYPTION_KEY": FERNET,
        "DATABASE_URL": _pg_url(database),
        "CELERY_BROKER_URL": redis_url,
        # a killed worker's tasks come back after 10 s (production: the 1 h default)
        "CELERY_BROKER_TRANSPORT_OPTIONS": json.dumps({
            "global_keyprefix": prefix, "visibility_timeout": 10,
            "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
        }),
        "CACHE_URL": f"{redis_url}?key_prefix={prefix}",
        "RATE_LIMIT_REDIS_URL": redis_url,
        "PROVIDER_DEFAULT_RATE_LIMIT": "40",
        "API_THROTTLE_USER": "100000/hour",
        # a placement cut by the kill is swept after 30 s and looked up 2 s later
        "ORDER_PLACING_STALE_MINUTES": "0.5",
        "PROVIDER_READ_TIMEOUT": "10",
        "ORDER_RECONCILE_DELAY": "2",
        "ACCOUNT_SYNC_READ_AHEAD": "false",
    })
    logs = tmp_path / "logs"
    logs.mkdir()
    deployment = Topology(logs, env)
    try:
        yield deployment
    finally:
        deployment.stop()
        with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        client = redis_lib.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            client.delete(key)


def _progress() -> dict[str, Any]:
    """The settle loop's view, read straight from the deployment's database (cheap: no
    Django process per poll on a busy 2-core machine)."""
    with psycopg.connect(os.environ["TOPOLOGY_DATABASE_URL"]) as conn:
        states = dict(conn.execute(
            "SELECT state, count(*) FROM orders_order WHERE contact_name LIKE %s GROUP BY state",
            [CONTACT_PREFIX + "%"]).fetchall())
        tipser = conn.execute(
            "SELECT count(*) FROM orders_order o JOIN merchants_merchant m ON m.id = o.merchant_id "
            "JOIN merchants_provideraccount a ON a.id = m.account_id WHERE a.provider = 'tipser'"
        ).fetchone()
    return {"states": states, "tipser_orders": tipser[0] if tipser else 0}


def _healthz(base: str) -> tuple[int, dict[str, str]]:
    response = requests.get(f"{base}/healthz?format=json", timeout=15)  # plain HTTP, no proxy
    return response.status_code, response.json()


def _wait_green(base: str, timeout: float = 60) -> dict[str, str]:
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            status, body = _healthz(base)
        except requests.RequestException as exc:
            last = exc
        else:
            if status == 200:
                return body
            last = body
        time.sleep(0.5)
    raise AssertionError(f"/healthz not green after {timeout}s: {last}")


def test_production_topology(topology: Topology, topology_timings: dict[str, float]):
    t0 = time.monotonic()
    mark = t0
    timings = topology_timings

    def lap(step: str) -> None:
        nonlocal mark
        now = time.monotonic()
        timings[step] = now - mark
        mark = now

    app_port = _free_port(PORT_BASE)
    sandbox_port = _free_port(app_port + 1)
    app, sandbox = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{sandbox_port}"
    python, gunicorn, celery = (str(BIN / "python"), str(BIN / "gunicorn"), str(BIN / "celery"))

    # the deploy steps of the README: check, migrate (no setup_schedules: beat installs them)
    topology.run(python, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    topology.run(python, "manage.py", "migrate", "--noinput", "-v0")
    lap("check --deploy + migrate")
    topology.env["PUBLIC_BASE_URL"] = sandbox  # the demo accounts call the sandbox server
    ids = topology.helper("bootstrap")
    lap("seed demo accounts + API token")

    web = ["--bind", None, "--workers", "2", "--timeout", "60", "--access-logfile", "-"]
    topology.start("web", gunicorn, "config.wsgi:application",
                   *[a if a else f"127.0.0.1:{app_port}" for a in web])
    topology.start("sandbox", gunicorn, "config.wsgi:application",
                   *[a if a else f"127.0.0.1:{sandbox_port}" for a in web],
                   SANDBOX_ENABLED="true", DJANGO_BEHIND_TLS_PROXY="false",
                   DJANGO_SECURE_SSL_REDIRECT="false")
    for name in ("worker1", "worker2"):
        topology.start(name, celery, "-A", "config", "worker", "-P", "prefork", "-c", "2",
                       "-l", "info", "-n", f"{name}@%h")
    topology.start("beat", celery, "-A", "config", "beat", "-l", "info")
    for name in ("worker1", "worker2"):
        topology.wait_for_log(name, " ready.")
    topology.wait_for_log("beat", "periodic tasks installed at beat start")
    green = _wait_green(app)
    assert set(green.values()) == {"OK"} and len(green) == 5, green
    lap("start 2 web + 2 sandbox + 2x2 workers + beat, /healthz green")

    # beat installed the sweeps by itself; run them every 5 s for this test
    assert topology.helper("sweeps-every", "5") == {"installed": True}

    session = requests.Session()
    session.headers.update({"Authorization": f"Token {ids['token']}",
                            "X-Forwarded-Proto": "https"})  # as the TLS proxy would

    def place(n: int) -> int:
        body = {
            "merchant": ids["merchant"], "contact_name": f"{CONTACT_PREFIX}{n:04d}",
            "contact_email": "ops@example.test", "phone_prefix": "+1",
            "phone_number": "7137398000", "address_line1": "1600 Lamar St", "city": "Houston",
            "region": "Texas", "postal_code": "77010", "country": "US",
            "items": [{"product_id": "32999000125", "name": "USB-C cable 2m", "quantity": 1,
                       "unit_price": "3.10"}],
        }
        created = session.post(f"{app}/api/v1/orders/", json=body, timeout=60)
        assert created.status_code == 201, created.text
        pk = created.json()["id"]
        placed = session.post(f"{app}/api/v1/orders/{pk}/transitions/place/", json={},
                              headers={"Idempotency-Key": f"place-{pk}"}, timeout=60)
        assert placed.status_code in (200, 202), placed.text
        return pk

    with ThreadPoolExecutor(max_workers=6) as pool:
        first = list(pool.map(place, range(PLACEMENTS // 2)))
        topology.kill("worker1")  # mid-run: its prefork children and reserved tasks with it
        killed_at = time.monotonic()
        rest = list(pool.map(place, range(PLACEMENTS // 2, PLACEMENTS)))
    assert len(set(first + rest)) == PLACEMENTS
    lap(f"{PLACEMENTS} placements through the API (worker1 SIGKILLed at half)")

    # a Tipser sync through the API, for orders new at the sandbox
    before = topology.helper("tipser-new", "5")["tipser_orders"]
    synced = session.post(f"{app}/api/v1/accounts/{ids['tipser_account']}/sync/", json={},
                          timeout=30)
    assert synced.status_code == 202, synced.text

    def sweeps_not_run() -> set[str]:
        """Sweeps no worker has run yet (beat's own run counters reach the database only
        every few minutes: the workers' logs say it at once)."""
        logs = topology.log("worker1") + topology.log("worker2")
        done = {line.split("Task ", 1)[1].split("[", 1)[0]
                for line in logs.splitlines() if "succeeded in" in line and "Task " in line}
        return SWEEP_TASKS - done

    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        now = _progress()
        settled = (sum(now["states"].values()) == PLACEMENTS
                   and not UNSETTLED & set(now["states"]))
        if settled and now["tipser_orders"] >= before + 5 and not sweeps_not_run():
            break
        time.sleep(1)
    lap("settle: every order in a named state, Tipser synced, sweeps ran")
    report = topology.helper("report")
    NOTES.append(f"states: {report['states']}; provider orders: {report['provider_orders']}; "
                 f"settled {time.monotonic() - killed_at:.0f}s after the kill")

    assert report["orders"] == PLACEMENTS
    assert not UNSETTLED & set(report["states"]), report["states"]
    assert set(report["states"]) <= set(Lifecycle.ALL), report["states"]
    assert report["duplicates"] == {}, report["duplicates"]  # 0 duplicate provider orders
    assert report["provider_orders"] <= PLACEMENTS
    assert report["external_ids"] <= report["provider_orders"]
    assert report["states"].get(Lifecycle.PLACED, 0) >= PLACEMENTS * 0.9, report["states"]
    assert report["tipser_orders"] >= before + 5, report
    assert sweeps_not_run() == set()  # beat sent every sweep and a worker ran it

    status, after = _healthz(app)
    assert status == 200 and set(after.values()) == {"OK"}, after
    # production logs: JSON lines carrying the task, the order and the provider account
    records = [json.loads(line) for line in topology.log("worker2").splitlines()
               if line.startswith("{")]
    assert any(r.get("task_id") and r.get("order") and r.get("provider_account")
               for r in records if r.get("logger") == "providers.http")
    lap("/healthz green after")
    timings["total"] = time.monotonic() - t0
