"""Exactly one provider write per intent.

Every verb that writes at a provider (a shipping push, an item status change, a provider
draft, an item add or removal, custom fields, characteristics, cancel/hold/release) first
*claims* the order: under the order's row lock it records a ``ProviderWrite`` in flight and
commits, and only then calls the provider. A partial unique index allows one claim in flight
per order, so a concurrent request — a double click, a retrying integration, a second
worker — finds the claim and is refused with a plain message (409) instead of being sent
again. A request repeated after the first finished (same operation, same intent key, within
``REPEAT_WINDOW``) is refused the same way.

The claim settles as ``done``, ``refused`` (the provider said no: nothing happened there) or
``unknown`` (the request may have been acted on). A claim whose request never left (our own
checks refused it) is removed: no row stays behind for a request that was not sent. A claim
left in flight by a worker that died is settled as ``unknown`` by the next claimer once it is
older than ``ORDER_PLACING_STALE_MINUTES``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format

from providers.errors import ProviderBadReply, ProviderError, ProviderOutcomeUnknown

from .errors import OrderActionRefused
from .models import Order, OrderEvent, ProviderWrite, Shipment
from .timeline import Actor, actor_or_none, event_add

W = ProviderWrite.State
REPEAT_WINDOW = dt.timedelta(minutes=2)


def intent_key(*parts: Any) -> str:
    """A short, stable key for what a request asks (e.g. a tracking number and its items)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _when(value: dt.datetime) -> str:
    return date_format(timezone.localtime(value), "H:i:s")


def _stale_after() -> dt.timedelta:
    return dt.timedelta(minutes=int(getattr(settings, "ORDER_PLACING_STALE_MINUTES", 15)))


def _settle_stale(order: Order) -> None:
    cutoff = timezone.now() - _stale_after()
    for stale in ProviderWrite.objects.filter(order=order, state=W.IN_FLIGHT,
                                              started_at__lte=cutoff):
        stale.state = W.UNKNOWN
        stale.reason = ("Did not finish within the time allowed (the worker stopped mid-call?); "
                        "the provider may have acted on it.")
        stale.finished_at = timezone.now()
        stale.save(update_fields=["state", "reason", "finished_at"])
        if stale.operation == "push_shipment":  # its shipment: replaceable by the next Ship
            for shipment in Shipment.objects.filter(
                order_id=order.pk, state=Shipment.State.PENDING, pushed_at__isnull=True,
            ).exclude(raw_data__has_key="push_error"):
                shipment.raw_data = {**shipment.raw_data, "push_error": stale.reason,
                                     "outcome_unknown": True}
                shipment.save(update_fields=["raw_data", "updated_at"])
        event_add(order=order, kind=OrderEvent.Kind.ERROR,
                  message=f"{stale.label or stale.operation}: {stale.reason}")


def busy_refusal(claim: ProviderWrite) -> OrderActionRefused:
    return OrderActionRefused(
        f"{claim.label or claim.operation} is being sent to the provider for this order right "
        f"now (since {_when(claim.started_at)}). This request was not sent; look at the order "
        "again in a moment.",
        code="in_progress",
    )


def refuse_if_busy(order: Order) -> None:
    """Refuse (409) while another provider write on this order is in flight."""
    busy = ProviderWrite.objects.filter(order_id=order.pk, state=W.IN_FLIGHT).first()
    if busy is not None and busy.started_at > timezone.now() - _stale_after():
        raise busy_refusal(busy)


def provider_write_claim(
    *, order: Order, operation: str, label: str, key: str = "", actor: Actor = None
) -> ProviderWrite:
    """Claim ``order`` for one provider write and commit the claim (call outside any
    transaction). Raises ``OrderActionRefused`` (code ``in_progress`` or ``duplicate``)."""
    with transaction.atomic():
        # the order's row lock serialises claimers; the unique index is the last word
        Order.objects.select_for_update(of=("self",)).only("pk").get(pk=order.pk)
        _settle_stale(order)
        refuse_if_busy(order)
        if key:
            recent = (ProviderWrite.objects
                      .filter(order_id=order.pk, operation=operation, key=key, state=W.DONE,
                              finished_at__gte=timezone.now() - REPEAT_WINDOW)
                      .first())
            if recent is not None and recent.finished_at is not None:
                raise OrderActionRefused(
                    f"The same {label or operation} was already sent to the provider at "
                    f"{_when(recent.finished_at)}; it was not sent again.",
                    code="duplicate",
                )
        try:
            with transaction.atomic():
                return ProviderWrite.objects.create(
                    order_id=order.pk, operation=operation, label=label[:200], key=key[:255],
                    actor=actor_or_none(actor),
                )
        except IntegrityError:
            busy = ProviderWrite.objects.filter(order_id=order.pk, state=W.IN_FLIGHT).first()
            if busy is None:
                raise
            raise busy_refusal(busy) from None


def provider_write_finish(claim: ProviderWrite, state: str, reason: str = "") -> None:
    claim.state = state
    claim.reason = reason[:4000]
    claim.finished_at = timezone.now()
    ProviderWrite.objects.filter(pk=claim.pk).update(
        state=claim.state, reason=claim.reason, finished_at=claim.finished_at)


def _called_since(claim: ProviderWrite) -> bool:
    return OrderEvent.objects.filter(order_id=claim.order_id, kind=OrderEvent.Kind.PROVIDER_CALL,
                                     created_at__gte=claim.started_at).exists()


@contextlib.contextmanager
def provider_write(
    *, order: Order, operation: str, label: str, key: str = "", actor: Actor = None
) -> Iterator[ProviderWrite]:
    """Hold a committed claim on ``order`` while the block calls the provider; settle it by
    how the block ended."""
    claim = provider_write_claim(order=order, operation=operation, label=label, key=key,
                                 actor=actor)
    try:
        yield claim
    except (ProviderOutcomeUnknown, ProviderBadReply) as exc:
        provider_write_finish(claim, W.UNKNOWN, str(exc))
        raise
    except ProviderError as exc:
        provider_write_finish(claim, W.REFUSED, str(exc))
        raise
    except OrderActionRefused as exc:
        if _called_since(claim):  # sent, then refused here: keep the record of the write
            provider_write_finish(claim, W.DONE, f"Sent; then refused here: {exc.message}")
        else:  # refused by our own checks under the claim: nothing was sent, nothing stays
            ProviderWrite.objects.filter(pk=claim.pk).delete()
        raise
    except BaseException as exc:
        provider_write_finish(claim, W.UNKNOWN,
                              f"Internal error ({exc.__class__.__name__}) while sending.")
        raise
    else:
        if claim.state == W.IN_FLIGHT:
            provider_write_finish(claim, W.DONE)
