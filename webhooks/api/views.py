"""Webhooks API: an integration manages its own subscriptions and sees its deliveries."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ApiError, ErrorSerializer
from api.idempotency import idempotent
from api.pagination import ApiPagination
from api.scoping import SafeLookupMixin

from .. import dispatch, selectors, services
from ..models import WebhookDelivery, WebhookEvent, WebhookSubscription
from . import serializers as s


class WebhookPermission(BasePermission):
    """Reading: any authenticated caller (what it may see is scoped). Changing: an integration
    (its own subscriptions only) or staff with the change permission."""

    message = "You do not have permission to change webhooks."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        if hasattr(user, "api_integration"):
            return True
        # People: the admin's rule for the same verb (deleting a subscription needs the
        # delete permission; redelivering an event the change permission on events).
        model = view.queryset.model._meta.model_name
        verb = "delete" if request.method == "DELETE" else "change"
        return user.has_perm(f"webhooks.{verb}_{model}")


def _after_commit(ids: list[int]) -> None:
    transaction.on_commit(lambda: dispatch.deliveries_enqueue(ids))


def _refusal(exc: services.WebhookInputError) -> ApiError:
    if exc.conflict:  # a well-formed URL (the schema's) whose host we may not send to: 409
        return ApiError(409, "conflict", exc.message, fields={exc.field: [exc.message]})
    return ApiError(400, "invalid", exc.message, fields={exc.field: [exc.message]})


ERRORS = {400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


@extend_schema_view(
    list=extend_schema(summary="Webhook subscriptions", responses={200: s.SubscriptionSerializer(many=True)}),
    retrieve=extend_schema(responses={200: s.SubscriptionSerializer, 404: ErrorSerializer}),
    destroy=extend_schema(responses={204: None, 403: ErrorSerializer, 404: ErrorSerializer}),
)
class SubscriptionViewSet(SafeLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          mixins.DestroyModelMixin, viewsets.GenericViewSet):
    queryset = WebhookSubscription.objects.all()  # narrowed per caller in get_queryset
    serializer_class = s.SubscriptionSerializer
    permission_classes = [WebhookPermission]
    pagination_class = ApiPagination

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        return selectors.subscriptions_for_user(self.request.user)

    @extend_schema(request=s.SubscriptionInputSerializer,
                   responses={201: s.SubscriptionCreatedSerializer, **ERRORS},
                   summary="Subscribe (the answer carries the signing secret, once)")
    @idempotent
    def create(self, request: Request) -> Response:
        integration = getattr(request.user, "api_integration", None)
        if integration is None:
            raise ApiError(403, "forbidden", "Only an integration's token can subscribe to webhooks "
                                             "(operators add subscriptions in the admin).")
        data = s.SubscriptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            subscription, secret = services.webhook_subscription_create(integration=integration,
                                                                        **data.validated_data)
        except services.WebhookInputError as exc:
            raise _refusal(exc) from exc
        body = dict(s.SubscriptionSerializer(subscription).data, secret=secret)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.SubscriptionUpdateSerializer,
                   responses={200: s.SubscriptionSerializer, **ERRORS})
    def partial_update(self, request: Request, pk: Any = None) -> Response:
        subscription = self.get_object()
        data = s.SubscriptionUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            services.webhook_subscription_update(subscription=subscription, **data.validated_data)
        except services.WebhookInputError as exc:
            raise _refusal(exc) from exc
        return Response(s.SubscriptionSerializer(subscription).data)

    def perform_destroy(self, instance: WebhookSubscription) -> None:
        services.webhook_subscription_delete(subscription=instance)

    @extend_schema(request=None, responses={202: s.RedeliveredSerializer, **ERRORS},
                   summary="Send a test event to this subscription")
    @action(detail=True, methods=["post"])
    @idempotent
    def test(self, request: Request, pk: Any = None) -> Response:
        delivery = services.webhook_subscription_test(subscription=self.get_object())
        _after_commit([delivery.pk])
        return Response({"queued": 1}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: s.RedeliveredSerializer, **ERRORS},
                   summary="Send every failed delivery of this subscription again")
    @action(detail=True, methods=["post"], url_path="redeliver-failed")
    @idempotent
    def redeliver_failed(self, request: Request, pk: Any = None) -> Response:
        subscription = self.get_object()
        ids = services.webhook_failed_redeliver(
            subscriptions=WebhookSubscription.objects.filter(pk=subscription.pk))
        _after_commit(ids)
        return Response({"queued": len(ids)}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: s.SubscriptionCreatedSerializer, **ERRORS},
                   summary="New signing secret (shown once; the old one stops at once)")
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @idempotent
    def rotate_secret(self, request: Request, pk: Any = None) -> Response:
        subscription = self.get_object()
        secret = services.webhook_subscription_secret_rotate(subscription=subscription)
        return Response(dict(s.SubscriptionSerializer(subscription).data, secret=secret))


@extend_schema_view(
    list=extend_schema(summary="Webhook events with every delivery attempt"),
    retrieve=extend_schema(responses={200: s.EventSerializer, 404: ErrorSerializer}),
)
class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = WebhookEvent.objects.all()  # narrowed per caller in get_queryset
    serializer_class = s.EventSerializer
    permission_classes = [WebhookPermission]
    pagination_class = ApiPagination
    lookup_value_regex = "[^/]+"

    def get_object(self) -> WebhookEvent:
        try:
            self.kwargs["pk"] = uuid.UUID(str(self.kwargs["pk"]))
        except ValueError as exc:
            raise NotFound("No such event.") from exc
        return super().get_object()

    def get_queryset(self) -> QuerySet[WebhookEvent]:
        return selectors.events_for_user(self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["subscriptions"] = set(
            selectors.subscriptions_for_user(self.request.user).values_list("pk", flat=True))
        return context

    @extend_schema(request=None, responses={202: s.RedeliveredSerializer, **ERRORS},
                   summary="Deliver this event again (same id) to your subscriptions")
    @action(detail=True, methods=["post"])
    @idempotent
    def redeliver(self, request: Request, pk: Any = None) -> Response:
        event = self.get_object()
        ids = services.webhook_deliveries_redeliver(deliveries=WebhookDelivery.objects.filter(
            event=event, subscription__in=selectors.subscriptions_for_user(request.user)))
        _after_commit(ids)
        return Response({"queued": len(ids)}, status=status.HTTP_202_ACCEPTED)
