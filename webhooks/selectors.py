"""Reads for webhooks: which subscriptions want an event (cached), what is due, what a user
may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import WebhookDelivery, WebhookEvent, WebhookSubscription

CACHE_KEY = "webhooks:subscriptions:v1"
CACHE_SECONDS = 60


@dataclass(frozen=True)
class Target:
    subscription_id: int
    event_types: frozenset[str]  # empty: all
    merchant_ids: frozenset[int] | None  # None: every merchant

    def wants(self, event_type: str, merchant_id: int | None) -> bool:
        if self.event_types and event_type not in self.event_types:
            return False
        return self.merchant_ids is None or merchant_id in self.merchant_ids


def subscription_targets() -> list[Target]:
    """Active subscriptions of active integrations, cached (cleared on every change) so the
    hot paths (a sync moving thousands of orders) pay nothing when nobody subscribes."""
    targets = cache.get(CACHE_KEY)
    if targets is None:
        rows = (
            WebhookSubscription.objects.filter(is_active=True, integration__is_active=True)
            .select_related("integration").prefetch_related("integration__merchants")
        )
        targets = [
            Target(
                subscription_id=sub.pk,
                event_types=frozenset(sub.event_types or ()),
                merchant_ids=frozenset(m.pk for m in sub.integration.merchants.all()) or None,
            )
            for sub in rows
        ]
        cache.set(CACHE_KEY, targets, CACHE_SECONDS)
    return targets


def subscription_targets_clear() -> None:
    cache.delete(CACHE_KEY)


def deliveries_due(*, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )


def subscriptions_for_user(user: Any) -> QuerySet[WebhookSubscription]:
    """An integration sees its own subscriptions; staff with the view permission see all."""
    queryset = WebhookSubscription.objects.select_related("integration").order_by("pk")
    integration = getattr(user, "api_integration", None)
    if integration is not None:
        return queryset.filter(integration=integration)
    if user.has_perm("webhooks.view_webhooksubscription"):
        return queryset
    return queryset.none()


def events_for_user(user: Any) -> QuerySet[WebhookEvent]:
    subscriptions = subscriptions_for_user(user)
    return (
        WebhookEvent.objects.filter(deliveries__subscription__in=subscriptions).distinct()
        .prefetch_related("deliveries__attempt_log").order_by("-created_at")
    )
