"""schemathesis against a live server with the demo data: every check, every phase.

    python -m tests.api.live_fuzz [--examples N] [--port P] [--database-url URL] [-- extra args]

Starts ``manage.py runserver`` on its own database (a throwaway SQLite file unless
``--database-url`` names another), seeds it (``seed_demo``: the providers' sandboxes answer on
the same server), creates a superuser token, loads the schema and runs
``schemathesis run --checks all`` (examples, coverage, fuzzing and stateful phases) with
the repository's ``schemathesis.toml`` (a copy per run adds the integration's token for the
webhook subscription operations). Exits with schemathesis' status.

The server runs no task: what a request queues stays in an in-process broker nobody consumes
(``memory://``) and the API answers 202, as it does before a worker picks the work up. The
seeding runs its tasks itself (eager).

Generated ids would name nothing (every operation on an id a 404: schemathesis' "missing
test data"): ``tests/api/fuzz_hooks.py`` (``SCHEMATHESIS_HOOKS``) replaces most valid ids in
paths and bodies by ids this server lists, for every operation, from the schema alone. The
seeding gives those ids the states the operations start from (drafts, failed, placement
unknown, shipped and completable, orders placed at the Tipser sandbox with items that may
move, reseller v3 orders at its sandbox (drafts there, checked out, placement unknown) whose
items have provider ids; webhook subscriptions and events, supplier offers, shipments, a
routing policy, an authorization link of each merchant whose provider has them), and drafts
kept for the place transition alone (``FUZZ-PLACE-``). The subscription operations run with
the ``fuzz`` integration's token (a run's own copy of ``schemathesis.toml``: only an
integration subscribes).

``make test`` runs it through ``tests/api/test_schemathesis.py`` with a few examples per
operation; ``make fuzz`` with many more.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
TOKEN_SCRIPT = """
from django.contrib.auth import get_user_model
user, _ = get_user_model().objects.get_or_create(username="schemathesis")
user.is_staff = user.is_superuser = True
user.save()
try:  # hashed API tokens, where installed
    from merchants.tokens import api_token_issue
    key = api_token_issue(user=user, name="schemathesis")
except ImportError:
    from rest_framework.authtoken.models import Token
    Token.objects.filter(user=user).delete()
    key = Token.objects.create(user=user).key
print("KEY=" + key)

# Orders in the states the transitions start from, several of each (a run consumes them), so
# generated requests reach their logic: copies of the demo's drafts (place, reconcile, reopen;
# complete where the provider has it), and the demo's orders placed at the Tipser sandbox
# (hold, release).
import uuid
from orders.models import Order, OrderItem
# More orders placed at the Tipser sandbox (each its own there: item status moves, hold, ship
# and cancel reach the provider), imported as the demo imports its six.
import json, random
from merchants.models import ProviderAccount
from orders import snapshots
from providers.tipser import mapping as tipser_mapping
from providers.tipser.models import SandboxMerchant
from providers.tipser.sandbox import orders_generate, render_order
for account in ProviderAccount.objects.filter(provider="tipser"):
    sandbox = SandboxMerchant.objects.filter(api_key=account.credentials.get("api_key")).first()
    if sandbox is not None:
        more = orders_generate(merchant=sandbox, count=30, rng=random.Random(5))
        snapshots.upsert_page(account=account, page=[
            tipser_mapping.parse_order(json.loads(json.dumps(render_order(o)))) for o in more])
placed = list(Order.objects.filter(state="placed").exclude(external_id="").order_by("pk"))
for index, order in enumerate(placed):
    Order.objects.filter(pk=order.pk).update(state=("placed", "on_hold")[index % 2])
drafts = [o for o in Order.objects.filter(state="draft").order_by("pk") if o.items.exists()]


def raw_status_allowing(order, action):  # a raw status from which the provider allows it
    table = order.status_table
    return next((code for code in table.order_statuses
                 if table.order_allows(action, raw_status=code)), None)


# shipped orders the provider lets us complete: their raw status is one that allows it
completable = [o for o in drafts if raw_status_allowing(o, "complete") is not None]
# "draft_place": drafts kept for placing (fuzz_hooks.PLACE_REFERENCE): the hooks give their ids
# to the place transition only, so no other operation (a PATCH blanking the address, an item
# removed) makes them unplaceable first.
# Only the first merchant's of each provider: the hooks keep those merchants from being
# revoked, the others are there for revoke.
first = {}
for o in drafts:
    first.setdefault(o.provider, o.merchant_id)
placeable = [o for o in drafts if first[o.provider] == o.merchant_id]
plan = [("draft", drafts, 12), ("draft_place", placeable, 3), ("placement_unknown", drafts, 2),
        ("failed", drafts, 2), ("shipped", completable, 4), ("failed_short", drafts, 2)]
for state, sources, times in plan:
    for source in sources * times:
        items = list(source.items.all())
        copy = Order.objects.get(pk=source.pk)
        copy.pk = None
        prefix = "FUZZ-PLACE-" if state == "draft_place" else "FUZZ-"
        copy.reference = prefix + uuid.uuid4().hex[:10]
        copy.save()
        if state == "shipped":
            Order.objects.filter(pk=copy.pk).update(
                state=state, raw_status=raw_status_allowing(source, "complete"))
        else:  # failed_short: a placement the provider took only in part (accept_shortfall)
            Order.objects.filter(pk=copy.pk).update(
                state=state.removesuffix("_short").removesuffix("_place"))
        for item in items:
            item.pk = None
            item.order_id = copy.pk
            if state == "failed_short":
                item.confirmed_quantity = max(0, item.quantity - 1)
            item.save()

# White-label reseller v3 orders that exist at its sandbox (same database: the rows are made
# here, before the server starts), items with their provider ids: drafts there, checked-out
# ones (placed: execution status, custom fields, item characteristics) and "placement unknown"
# ones the provider has (the lookup finds them by id, or by reference when we lost the id).
import datetime as dt
from django.utils import timezone
from providers.reseller import sandbox as reseller_sandbox
from providers.reseller.models import SandboxItem, SandboxOrder
now = timezone.now()
reseller_plan = [("draft", "Draft", True), ("placed", "Submitted", True),
                 ("placement_unknown", "Submitted", True),
                 ("placement_unknown", "Submitted", False)]
for source in [o for o in drafts if o.provider == "reseller"]:
    account_id = str((source.provider_options or {}).get("account_id")
                     or source.merchant.account.options.get("account_id") or "ACC-1001")
    for state, status, keep_id in reseller_plan * 4:
        items = list(source.items.all())
        copy = Order.objects.get(pk=source.pk)
        copy.pk = None
        copy.reference = "FUZZ-" + uuid.uuid4().hex[:10]
        copy.save()
        remote = SandboxOrder.objects.create(
            account_id=account_id, reference=copy.reference, status=status, order_date=now,
            expiration_date=now + reseller_sandbox.DRAFT_LIFETIME,
            custom_fields=[dict(f) for f in reseller_sandbox.DEFAULT_CUSTOM_FIELDS])
        Order.objects.filter(pk=copy.pk).update(
            state=state, raw_status=status if state != "placement_unknown" else "",
            external_id=str(remote.pk) if keep_id else "",
            external_ids=[str(remote.pk)] if keep_id else [],
            expires_at=remote.expiration_date if status == "Draft" else None,
            placed_at=now if state == "placed" else None)
        for item in items:
            at_provider = SandboxItem.objects.create(
                order=remote, product_id=item.product_id or item.sku, sku=item.sku,
                description=item.name, quantity=item.quantity, unit_price=item.unit_price,
                characteristics=[dict(c) for c in reseller_sandbox.DEFAULT_CHARACTERISTICS])
            item.pk = None
            item.order_id = copy.pk
            item.external_id = str(at_provider.pk) if keep_id else ""
            item.save()

# Tipser's orders are sales orders: a routing policy, so routing them (pipeline route) runs
from pipeline.models import RouteMode, RoutingPolicy
for account in ProviderAccount.objects.filter(provider="tipser"):
    RoutingPolicy.objects.get_or_create(account=account, defaults={"route_mode": RouteMode.PROPOSE})

# Webhook subscriptions (an integration's; the superuser's token sees all) to a target that
# does not answer, with a test event: the webhook routes have ids to work on. Only an
# integration's token may subscribe: the run's copy of schemathesis.toml sends the
# integration's token (printed here) to the subscription operations.
from django.contrib.auth import get_user_model
from merchants.models import Integration
from webhooks import signing
from webhooks.models import WebhookSubscription
from webhooks.services import webhook_subscription_test
service_user, _ = get_user_model().objects.get_or_create(username="fuzz-integration")
integration, _ = Integration.objects.get_or_create(name="fuzz", defaults={"user": service_user})
for n in range(8):  # a run deletes some
    subscription = WebhookSubscription.objects.create(
        integration=integration, url=f"https://hooks{n}.example.invalid/dropdesk",
        event_types=[], description="fuzz", secret={"key": signing.secret_new()})
    webhook_subscription_test(subscription=subscription)
try:
    from merchants.tokens import api_token_issue
    integration_key = api_token_issue(user=service_user, name="fuzz")
except ImportError:
    from rest_framework.authtoken.models import Token
    Token.objects.filter(user=service_user).delete()
    integration_key = Token.objects.create(user=service_user).key
print("INTEGRATION_KEY=" + integration_key)
"""


def seed_through_api(base: str, token: str) -> None:
    """Objects of collections ``seed_demo`` leaves empty, made through the API (so they are
    what a client makes): supplier offers. Best effort: a refusal leaves that list empty (its
    operations then rely on the stateful phase)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    api = f"{base}/api/v1"
    merchants = session.get(f"{api}/merchants/", timeout=30).json().get("results", [])
    for n, merchant in enumerate(merchants * 2):  # a run deletes some
        session.post(f"{api}/supplier-offers/", timeout=30, json={
            "supplier": merchant["id"], "sales_sku": f"FUZZ-SKU-{n}", "expected_cost": "1.00"})


# Shipments: shipping a placed order pushes it to the provider, which the server only queues
# (its tasks are not run: no worker). Shipped here instead, the task run in this process
# (eager) against the sandboxes on the live server.
SHIP_SCRIPT = """
from django.contrib.auth import get_user_model
from orders import dispatch
from orders.models import Order, Shipment
user = get_user_model().objects.get(username="schemathesis")
for order in Order.objects.filter(state="placed").exclude(external_id="").order_by("pk"):
    if Shipment.objects.count() >= 2:
        break
    try:
        dispatch.order_transition_enqueue(order=order, name="ship", actor=user,
                                          payload={"tracking_number": "FUZZ-1"})
    except Exception as exc:  # not shippable (its provider, its state): the next one
        print("not shipped:", order.pk, exc)
print("SHIPMENTS=" + str(Shipment.objects.count()))

# An authorization link asked for each merchant whose provider has links (the task run here,
# against the sandbox on the live server): GET .../authorization-link/ has one to show.
from django.conf import settings
from merchants import dispatch as merchant_dispatch
from merchants.models import Merchant
for merchant in Merchant.objects.order_by("pk"):
    if merchant_dispatch.merchant_authorization_link_available(merchant=merchant):
        try:
            merchant_dispatch.merchant_authorization_link_request(
                merchant=merchant, actor=user, base_url=settings.PUBLIC_BASE_URL)
        except Exception as exc:  # refused: that merchant's link route stays a 404
            print("no link:", merchant.pk, exc)
"""


def free_port() -> int:
    """``DROPDESK_FUZZ_PORT`` when set (a port range of one's own on a shared machine), else
    one the system gives."""
    if os.environ.get("DROPDESK_FUZZ_PORT"):
        return int(os.environ["DROPDESK_FUZZ_PORT"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


@contextlib.contextmanager
def live_server(port: int, database_url: str | None = None) -> Iterator[tuple[str, str, str]]:
    """A seeded ``runserver`` on 127.0.0.1:port; yields its base URL, a superuser's API token
    and the ``fuzz`` integration's token."""
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="dd-fuzz-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": database_url or f"sqlite:///{tmp}/fuzz.sqlite3",
            # the real settings (under pytest the environment names the test settings, which
            # blank PUBLIC_BASE_URL: the demo accounts would call another port)
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "true", "SANDBOX_ENABLED": "true", "PUBLIC_BASE_URL": base,
            # a fuzz run makes thousands of requests with one token
            "API_THROTTLE_USER": "100000000/hour", "API_THROTTLE_ANON": "100000000/hour",
            # No worker: queued work stays queued (the API answers 202), in a broker of the
            # server's own memory that nobody consumes (never the filesystem broker: its
            # folder would fill). A request never waits for a task.
            "CELERY_TASK_ALWAYS_EAGER": "false", "CELERY_BROKER_URL": "memory://",
            # the worker's provider reads (core/provider_reads.py) in a cache of this run's
            # own, shared by the seeding and the server: none left from another run or server
            "CACHE_URL": f"filecache://{tmp}/cache",
        }
        seeding = {**env, "CELERY_TASK_ALWAYS_EAGER": "true"}  # what it queues runs here
        _manage(seeding, "migrate", "--noinput", "-v0")
        _manage(seeding, "seed_demo")
        printed = _manage(seeding, "shell", "-c", TOKEN_SCRIPT)
        token = next(line[4:] for line in printed.splitlines() if line.startswith("KEY="))
        integration_token = next(line.split("=", 1)[1] for line in printed.splitlines()
                                 if line.startswith("INTEGRATION_KEY="))
        log = open(Path(tmp) / "server.log", "w")  # noqa: SIM115
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(150):  # any answer: /healthz waits 3 s for a Celery ping
                with contextlib.suppress(requests.RequestException):
                    requests.get(f"{base}/api/v1/", timeout=2)
                    break
                time.sleep(0.2)
            seed_through_api(base, token)
            _manage(seeding, "shell", "-c", SHIP_SCRIPT)
            yield base, token, integration_token
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.close()


def run(examples: int, port: int, database_url: str | None = None,
        extra: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    with live_server(port, database_url) as (base, token, integration_token), (
            tempfile.TemporaryDirectory()) as tmp:
        response = requests.get(f"{base}/api/schema/?format=json", timeout=30,
                                headers={"Authorization": f"Token {token}"})
        response.raise_for_status()
        schema = Path(tmp) / "schema.json"
        schema.write_bytes(response.content)
        # schemathesis.toml plus, for this run only, the operations that need the seeded
        # integration's token: only an integration may subscribe to webhooks (403 for the
        # run's superuser token). The repository's file stays usable by any client as it is.
        config = Path(tmp) / "schemathesis.toml"
        config.write_text((ROOT / "schemathesis.toml").read_text() + (
            "\n[[operations]]\n"
            "include-path-regex = '^/api/v1/webhooks/subscriptions/'\n"
            f'headers = {{ Authorization = "Token {integration_token}" }}\n'))
        command = [
            str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config),
            "run", str(schema),
            "--url", base, "--checks", "all", "--max-examples", str(examples),
            "--header", f"Authorization: Token {token}", "--no-color", "--workers", "2",
            "--seed", "1",
            # a loaded machine (the suite beside it) can outlast the default 10 s, which
            # schemathesis reports as a network error
            "--request-timeout", "60", *(extra or []),
        ]
        # tests/api/fuzz_hooks.py: generated ids that exist on this server
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.fuzz_hooks",
               "DROPDESK_FUZZ_URL": base, "DROPDESK_FUZZ_TOKEN": token,
               "DROPDESK_FUZZ_INTEGRATION_TOKEN": integration_token}
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("extra", nargs="*", help="more schemathesis options (after --)")
    args = parser.parse_args()
    result = run(args.examples, args.port or free_port(), args.database_url, args.extra)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
