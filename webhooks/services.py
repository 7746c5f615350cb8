"""Webhook verbs: record events in the outbox, send one delivery (claim → call → apply),
redeliver, send a test event, rotate a secret, purge old attempts.

Services never enqueue work themselves: they return the delivery ids, and the caller hands
them to ``webhooks.dispatch`` (after the transaction commits)."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from merchants.models import Integration
from providers.http import redact_text, redact_url

from . import signing
from .models import (
    SUBSCRIBABLE,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from .render import event_payload
from .selectors import subscription_targets, subscription_targets_clear
from .targets import TargetRefused, target_check

PAYLOAD_VERSION = "2026-12-01"
USER_AGENT = "dropdesk-webhooks/1"
EXCERPT_BYTES = 500


class WebhookInputError(ValueError):
    """``conflict``: well formed, but refused for what it names (a receiver we may not send
    to: its host does not resolve, or resolves to a private address)."""

    def __init__(self, message: str, *, field: str = "url", conflict: bool = False) -> None:
        super().__init__(message)
        self.message, self.field, self.conflict = message, field, conflict


@dataclass
class PendingEvent:
    type: str
    merchant_id: int | None
    object_type: str
    object_id: int | None
    order_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _targets_changed() -> None:
    """Forget the cached targets now (this transaction's later events see the change) and
    again at commit (another process may have cached the old list meanwhile)."""
    subscription_targets_clear()
    transaction.on_commit(subscription_targets_clear)


# --- subscriptions ---------------------------------------------------------------------------
def _clean_event_types(event_types: list[str] | None) -> list[str]:
    unknown = sorted(set(event_types or ()) - set(SUBSCRIBABLE))
    if unknown:
        raise WebhookInputError(f"Unknown event type(s): {', '.join(unknown)}.", field="event_types")
    return sorted(set(event_types or ()))


def _check_url(url: str) -> None:
    try:
        target_check(url)
    except TargetRefused as exc:
        raise WebhookInputError(exc.message, conflict=exc.resolved) from exc


@transaction.atomic
def webhook_subscription_create(
    *, integration: Integration, url: str, event_types: list[str] | None = None,
    description: str = "", is_active: bool = True,
) -> tuple[WebhookSubscription, str]:
    """Returns the subscription and its signing secret (shown once, stored encrypted)."""
    _check_url(url)
    secret = signing.secret_new()
    subscription = WebhookSubscription.objects.create(
        integration=integration, url=url, event_types=_clean_event_types(event_types),
        description=description, is_active=is_active, secret={"key": secret},
    )
    _targets_changed()
    return subscription, secret


@transaction.atomic
def webhook_subscription_update(*, subscription: WebhookSubscription, **fields: Any) -> WebhookSubscription:
    if "url" in fields and fields["url"] != subscription.url:
        _check_url(fields["url"])
    if "event_types" in fields:
        fields["event_types"] = _clean_event_types(fields["event_types"])
    for name, value in fields.items():
        if name not in {"url", "event_types", "description", "is_active"}:
            raise WebhookInputError(f"{name} cannot be changed.", field=name)
        setattr(subscription, name, value)
    if fields.get("is_active"):
        subscription.failing_since, subscription.last_failure = None, ""
    subscription.save()
    _targets_changed()
    return subscription


def webhook_subscription_delete(*, subscription: WebhookSubscription) -> None:
    subscription.delete()
    _targets_changed()


def webhook_subscription_secret_rotate(*, subscription: WebhookSubscription) -> str:
    secret = signing.secret_new()
    subscription.secret = {"key": secret}
    subscription.save(update_fields=["secret", "updated_at"])
    return secret


# --- the outbox ------------------------------------------------------------------------------
def webhook_events_record(*, events: list[PendingEvent]) -> list[int]:
    """Write each event that a subscription wants, with one delivery per such subscription, in
    the caller's transaction. Returns the new delivery ids (for dispatch after commit)."""
    targets = subscription_targets()
    if not targets or not events:
        return []
    rows: list[tuple[WebhookEvent, list[int]]] = []
    for pending in events:
        wanted = [t.subscription_id for t in targets if t.wants(pending.type, pending.merchant_id)]
        if wanted:
            rows.append((WebhookEvent(
                type=pending.type, merchant_id=pending.merchant_id, object_type=pending.object_type,
                object_id=pending.object_id, order_id=pending.order_id, data=pending.data,
            ), wanted))
    if not rows:
        return []
    WebhookEvent.objects.bulk_create([event for event, _ in rows])
    deliveries = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(event=event, subscription_id=sub_id) for event, subs in rows for sub_id in subs
    ])
    if all(d.pk for d in deliveries):
        return [d.pk for d in deliveries]
    return list(  # backends that do not return ids from a bulk insert
        WebhookDelivery.objects.filter(event__in=[e for e, _ in rows]).values_list("pk", flat=True)
    )


@transaction.atomic
def webhook_subscription_test(*, subscription: WebhookSubscription) -> WebhookDelivery:
    event = WebhookEvent.objects.create(
        type=EventType.TEST, object_type="", data={"message": "A test event from dropdesk."}
    )
    return WebhookDelivery.objects.create(event=event, subscription=subscription)


# --- one delivery: claim, call, apply ----------------------------------------------------------
@dataclass
class SendResult:
    outcome: str  # delivered | retry | failed | skipped
    retry_in: float | None = None


def _claim(delivery_id: int, now: dt.datetime) -> WebhookDelivery | None:
    hold = settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT + 5  # then sent again
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "subscription")
            .filter(pk=delivery_id, state=WebhookDelivery.State.PENDING,
                    next_attempt_at__lte=now + dt.timedelta(seconds=1))
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .first()
        )
        if delivery is None:
            return None
        event = delivery.event
        if event.payload is None:  # rendered once: every attempt sends the same body
            event.payload = event_payload(event, version=PAYLOAD_VERSION)
            event.save(update_fields=["payload"])
        delivery.claimed_until = now + dt.timedelta(seconds=hold)
        delivery.attempts += 1
        delivery.save(update_fields=["claimed_until", "attempts"])
    return delivery


def _body(event: WebhookEvent) -> bytes:
    # sorted keys: the same bytes on every attempt (PostgreSQL jsonb does not keep key order)
    return json.dumps(event.payload, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True).encode()


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _backoff(attempts: int, retry_after: float | None) -> float:
    ceiling = min(float(settings.WEBHOOK_RETRY_MAX_DELAY),
                  float(settings.WEBHOOK_RETRY_BASE_DELAY) * 2 ** max(0, attempts - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    return round(max(delay, retry_after or 0.0), 1)


def _call(delivery: WebhookDelivery) -> tuple[int | None, str, str, float | None, bool]:
    """POST the event: (status, error, excerpt, retry_after, retryable). Never follows a
    redirect; reads at most a short excerpt of the reply."""
    subscription, secret = delivery.subscription, delivery.subscription.signing_secret
    try:
        target_check(subscription.url)
    except TargetRefused as exc:
        return None, exc.message, "", None, exc.transient
    body = _body(delivery.event)
    headers = {
        "Content-Type": "application/json", "User-Agent": USER_AGENT,
        signing.EVENT_ID_HEADER: str(delivery.event.pk),
        signing.EVENT_TYPE_HEADER: delivery.event.type,
        signing.SIGNATURE_HEADER: signing.signature_header(secret, body),
    }
    try:
        with requests.post(
            subscription.url, data=body, headers=headers, allow_redirects=False, stream=True,
            timeout=(settings.WEBHOOK_CONNECT_TIMEOUT, settings.WEBHOOK_READ_TIMEOUT),
        ) as response:
            try:
                raw = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
            except Exception:  # a garbage body is the receiver's problem, not a failed delivery
                raw = b""
            excerpt = redact_text(raw.decode("utf-8", "replace"), [secret])
            status = response.status_code
            retry_after = _retry_after(response.headers.get("Retry-After"))
    except requests.RequestException as exc:
        text = f"{type(exc).__name__}: {exc}".replace(subscription.url, redact_url(subscription.url))
        reason = redact_text(text, [secret])
        return None, f"Could not deliver ({reason})"[:500], "", None, True
    if 200 <= status < 300:
        return status, "", excerpt, None, False
    if 300 <= status < 400:
        redirect = f"The receiver answered {status} (a redirect); redirects are not followed."
        return status, redirect, excerpt, None, False
    if status == 429 or status >= 500:
        return status, f"The receiver answered {status}.", excerpt, retry_after, True
    return status, f"The receiver refused the event ({status}).", excerpt, None, False


def webhook_delivery_send(*, delivery_id: int) -> SendResult:
    now = timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return SendResult("skipped")
    started = time.monotonic()
    status, error, excerpt, retry_after, retryable = _call(delivery)
    duration = int((time.monotonic() - started) * 1000)
    return _apply(delivery, status=status, error=error, excerpt=excerpt, retry_after=retry_after,
                  retryable=retryable, duration_ms=duration, started_at=now)


@transaction.atomic
def _apply(delivery: WebhookDelivery, *, status: int | None, error: str, excerpt: str,
           retry_after: float | None, retryable: bool, duration_ms: int,
           started_at: dt.datetime) -> SendResult:
    now = timezone.now()
    subscription = delivery.subscription
    delivery.claimed_until, delivery.last_status, delivery.last_error = None, status, error
    result = SendResult(WebhookAttempt.Outcome.DELIVERED)
    if not error:
        delivery.state, delivery.delivered_at = WebhookDelivery.State.DELIVERED, now
        if subscription.failing_since:
            WebhookSubscription.objects.filter(pk=subscription.pk).update(failing_since=None, last_failure="")
    else:
        give_up_at = delivery.created_at + dt.timedelta(seconds=settings.WEBHOOK_GIVE_UP_AFTER)
        delay = _backoff(delivery.attempts, retry_after) if retryable else None
        if delay is not None and now + dt.timedelta(seconds=delay) < give_up_at:
            delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
            result = SendResult(WebhookAttempt.Outcome.RETRY, retry_in=delay)
        else:
            if retryable:
                delivery.last_error = f"Gave up after {delivery.attempts} attempt(s): {error}"[:500]
            delivery.state = WebhookDelivery.State.FAILED
            result = SendResult(WebhookAttempt.Outcome.FAILED)
            WebhookSubscription.objects.filter(pk=subscription.pk).update(
                failing_since=subscription.failing_since or now, last_failure=delivery.last_error
            )
    delivery.save(update_fields=["state", "claimed_until", "last_status", "last_error",
                                 "delivered_at", "next_attempt_at"])
    WebhookAttempt.objects.create(
        delivery=delivery, started_at=started_at, http_status=status, duration_ms=duration_ms,
        outcome=result.outcome, error=error[:500], response_excerpt=excerpt[:500],
    )
    return result


# --- operator verbs ------------------------------------------------------------------------------
def webhook_deliveries_redeliver(*, deliveries: Any) -> list[int]:
    """Send these deliveries again (any state, same event id); returns the ids to dispatch."""
    ids = list(deliveries.values_list("pk", flat=True))
    WebhookDelivery.objects.filter(pk__in=ids).update(
        state=WebhookDelivery.State.PENDING, next_attempt_at=timezone.now(), claimed_until=None,
        created_at=timezone.now(),  # the give-up window starts again
    )
    return ids


def webhook_failed_redeliver(*, subscriptions: Any) -> list[int]:
    return webhook_deliveries_redeliver(deliveries=WebhookDelivery.objects.filter(
        subscription__in=subscriptions, state=WebhookDelivery.State.FAILED))


def webhook_attempts_purge(*, now: dt.datetime | None = None) -> int:
    """Attempts older than WEBHOOK_RETENTION_DAYS go, and so do events whose deliveries have all
    settled by then."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    removed, _ = WebhookAttempt.objects.filter(started_at__lt=cutoff).delete()
    old = WebhookEvent.objects.filter(created_at__lt=cutoff).exclude(
        deliveries__state=WebhookDelivery.State.PENDING)
    old.delete()
    return removed
