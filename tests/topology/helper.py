"""Steps of the topology test that need the deployment's own database, run as
``python -m tests.topology.helper <command> [args]`` with the deployment's environment
(production settings). Each prints one JSON line.

    bootstrap            demo accounts pointing at the sandbox server, an API token
    sweeps-every N       wait for beat to install the sweeps, then run them every N seconds
    tipser-new N         N new orders at the Tipser sandbox (for the sync to find)
    report               what the assertions need: states, provider orders
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter
from typing import Any

import django

CONTACT_PREFIX = "Topology "


def bootstrap() -> dict[str, Any]:
    from django.contrib.auth.models import Permission
    from django.core.management import call_command

    from merchants import services as merchant_services
    from merchants.models import Merchant, ProviderAccount

    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    integration, token = merchant_services.integration_create(name="topology", staff=True)
    # "sync now" on an account through the API needs the account change permission
    integration.user.user_permissions.add(
        Permission.objects.get(codename="change_provideraccount"))
    shop = Merchant.objects.get(name="Aliseeks demo shop")
    tipser = ProviderAccount.objects.get(provider="tipser")
    return {"token": token, "merchant": shop.pk, "tipser_account": tipser.pk}


def sweeps_every(seconds: int) -> dict[str, Any]:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from orders.schedules import SWEEPS

    tasks = [task for _label, task, _minutes in SWEEPS]
    deadline = time.monotonic() + 60
    while PeriodicTask.objects.filter(task__in=tasks).count() < len(tasks):
        if time.monotonic() > deadline:
            return {"installed": False}
        time.sleep(0.5)
    every, _ = IntervalSchedule.objects.get_or_create(every=seconds,
                                                      period=IntervalSchedule.SECONDS)
    for periodic in PeriodicTask.objects.filter(task__in=tasks):
        periodic.interval = every  # as an operator would in the admin
        periodic.save()
    return {"installed": True}


def tipser_new(count: int) -> dict[str, Any]:
    from merchants.models import ProviderAccount
    from orders.models import Order
    from providers.tipser.models import SandboxMerchant
    from providers.tipser.sandbox import orders_generate

    account = ProviderAccount.objects.get(provider="tipser")
    merchant = SandboxMerchant.objects.get(api_key=account.credentials["api_key"])
    orders_generate(merchant=merchant, count=count, rng=random.Random(os.getpid()))
    return {"tipser_orders": Order.objects.filter(merchant__account=account).count()}


def report() -> dict[str, Any]:
    from merchants.models import ProviderAccount
    from orders.models import Order
    from providers.aliseeks.models import SandboxOrder

    ours = Order.objects.filter(contact_name__startswith=CONTACT_PREFIX)
    per_contact = Counter(
        (o.request.get("mailingAddress") or {}).get("contactName", "")
        for o in SandboxOrder.objects.only("request")
    )
    per_contact = Counter({k: v for k, v in per_contact.items() if k.startswith(CONTACT_PREFIX)})
    return {
        "orders": ours.count(),
        "states": dict(Counter(ours.values_list("state", flat=True))),
        "provider_orders": sum(per_contact.values()),
        "duplicates": {k: v for k, v in per_contact.items() if v > 1},
        "external_ids": ours.exclude(external_id="").count(),
        "tipser_orders": Order.objects.filter(
            merchant__account=ProviderAccount.objects.get(provider="tipser")).count(),
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    command, args = sys.argv[1], sys.argv[2:]
    result = {
        "bootstrap": lambda: bootstrap(),
        "sweeps-every": lambda: sweeps_every(int(args[0])),
        "tipser-new": lambda: tipser_new(int(args[0])),
        "report": lambda: report(),
    }[command]()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
