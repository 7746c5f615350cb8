"""Webhooks in the admin: subscriptions (secret shown once, test event, redeliver failed),
events with every delivery and attempt, redelivery of one or many."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from . import dispatch, services
from .models import (
    SUBSCRIBABLE,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from .targets import TargetRefused, target_check


class SubscriptionForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=[(v, EventType(v).label) for v in SUBSCRIBABLE], required=False,
        widget=forms.CheckboxSelectMultiple, help_text="None ticked: every event type.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["integration", "url", "event_types", "description", "is_active"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if self.instance.pk is None or url != self.instance.url:
            try:
                target_check(url)
            except TargetRefused as exc:
                raise forms.ValidationError(exc.message) from exc
        return url


def _enqueue_after_commit(ids: list[int]) -> None:
    transaction.on_commit(lambda: dispatch.deliveries_enqueue(ids))


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["url", "integration", "events", "is_active", "health", "created_at"]
    list_filter = ["is_active", "integration"]
    search_fields = ["url", "description", "integration__name"]
    actions = ["send_test_event", "redeliver_failed", "rotate_secret"]

    @admin.display(description="Events")
    def events(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types) if obj.event_types else "all"

    @admin.display(description="Health")
    def health(self, obj: WebhookSubscription) -> str:
        if obj.failing_since:
            return format_html('<span title="{}">failing since {:%Y-%m-%d %H:%M}</span>',
                               obj.last_failure, obj.failing_since)
        return "ok"

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            services.webhook_subscription_update(
                subscription=obj, **{k: data[k] for k in ("url", "event_types", "description", "is_active")})
            return
        created, secret = services.webhook_subscription_create(
            integration=data["integration"], url=data["url"], event_types=data["event_types"],
            description=data["description"], is_active=data["is_active"],
        )
        obj.pk = created.pk
        self.message_user(request, f"Signing secret (shown only this once — store it now): {secret}",
                          messages.WARNING)

    def delete_model(self, request: HttpRequest, obj: WebhookSubscription) -> None:
        services.webhook_subscription_delete(subscription=obj)

    @admin.action(description="Send a test event", permissions=["change"])
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        ids = [services.webhook_subscription_test(subscription=s).pk for s in queryset]
        _enqueue_after_commit(ids)
        self.message_user(request, f"{len(ids)} test event(s) queued; see Webhook deliveries.")

    @admin.action(description="Redeliver failed deliveries", permissions=["change"])
    def redeliver_failed(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        ids = services.webhook_failed_redeliver(subscriptions=queryset)
        _enqueue_after_commit(ids)
        self.message_user(request, f"{len(ids)} failed delivery(ies) queued again.")

    @admin.action(description="Rotate the signing secret (shown once)", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            secret = services.webhook_subscription_secret_rotate(subscription=subscription)
            self.message_user(request, f"New signing secret for {subscription.url} (shown only this "
                                       f"once): {secret}", messages.WARNING)


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = readonly_fields = ("started_at", "http_status", "duration_ms", "outcome", "error",
                                "response_excerpt")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the worker only; the change permission runs the redelivery action."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    @admin.action(description="Redeliver (same event id)", permissions=["change"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        deliveries = (WebhookDelivery.objects.filter(event__in=queryset)
                      if queryset.model is WebhookEvent else queryset)
        ids = services.webhook_deliveries_redeliver(deliveries=deliveries)
        _enqueue_after_commit(ids)
        self.message_user(request, f"{len(ids)} delivery(ies) queued again.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "subscription", "state", "attempts", "last_status", "last_error",
                    "next_attempt_at", "delivered_at"]
    list_filter = ["state", "subscription"]
    search_fields = ["event__id", "subscription__url", "last_error"]
    list_select_related = ["event", "subscription"]
    inlines = [AttemptInline]
    actions = ["redeliver"]


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = readonly_fields = ("subscription", "state", "attempts", "last_status", "last_error",
                                "next_attempt_at", "delivered_at")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "merchant", "order_id", "created_at"]
    list_filter = ["type"]
    search_fields = ["type"]
    search_help_text = "An event id, an order id or an event type."
    date_hierarchy = "created_at"
    inlines = [DeliveryInline]
    actions = ["redeliver"]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[WebhookEvent],
                           search_term: str) -> tuple[QuerySet[WebhookEvent], bool]:
        term = search_term.strip()
        try:
            return queryset.filter(pk=uuid.UUID(term)), False
        except ValueError:
            pass
        if term.isdigit():
            return queryset.filter(order_id=int(term)), False
        return super().get_search_results(request, queryset, search_term)
