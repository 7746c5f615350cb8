"""Merchants and provider accounts API: thin views over merchants.services."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ApiError, provider_failure
from api.filters import FilterBackend
from api.idempotency import idempotent
from api.pagination import ApiPagination
from api.scoping import SafeLookupMixin, integration_of, merchant_scope, scoped
from core.redaction import redact_text
from merchants import services
from merchants.models import Merchant, ProviderAccount
from providers import registry
from providers.errors import (
    ProviderError,
    ProviderNotSupported,
    ProviderRejected,
    ProviderUnavailable,
)

from . import serializers as s
from .filters import MerchantFilter, ProviderAccountFilter

LINK_UNAVAILABLE = "authorization links are not available for this provider"


def check_failure_reason(exc: ProviderError) -> str:
    """Why a credentials check failed, for people: from the error's class and HTTP status,
    never the raw exception text (it can carry URLs with keys, or library internals)."""
    if isinstance(exc, ProviderNotSupported):
        return "This provider has no credentials check."
    if isinstance(exc, ProviderRejected):
        if exc.http_status in (401, 403):
            return (f"The provider refused the credentials (HTTP {exc.http_status}): check the "
                    "account's keys and environment.")
        status = f" (HTTP {exc.http_status})" if exc.http_status else ""
        return f"The provider refused the check{status}: check the account's settings."
    if isinstance(exc, ProviderUnavailable):
        return ("The provider could not be reached or is unavailable right now; nothing was "
                "changed, try again later.")
    return "The provider's answer could not be read; try again later."


# Brandsdistribution's reservation (stock it locked for us): read it, release it. The admin's
# "Brandsdistribution reservations" page asks for the change permission on that page's model.
RESERVATION_PERMISSION = "brandsdistribution.change_accountreservation"
RESERVATION_ACTIONS = ("reservation_read", "reservation_release")
RESERVATION_PROVIDER = "brandsdistribution"


class StaffOnly(BasePermission):
    """Provider accounts: staff only, never a merchant-scoped token; changes need the model
    permissions."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if merchant_scope(request) is not None:
            return False
        if request.method in SAFE_METHODS:
            return True
        action_name = getattr(view, "action", None)
        if action_name in RESERVATION_ACTIONS:  # the admin's rule for the reservation tool
            return user.has_perm(RESERVATION_PERMISSION)
        perm = "add" if action_name == "create" else "change"
        return user.has_perm(f"merchants.{perm}_provideraccount")


class MerchantPermission(BasePermission):
    message = "You do not have permission to change merchants."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        # Authorization links and revoking change the merchant: the change permission
        # (marking authorized by hand is further limited to operators in the view).
        if getattr(view, "action", None) == "create":
            # A merchant-scoped token could not see what it created.
            return merchant_scope(request) is None and user.has_perm("merchants.add_merchant")
        return user.has_perm("merchants.change_merchant")


@extend_schema(tags=["provider accounts"])
class ProviderAccountViewSet(SafeLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                             viewsets.GenericViewSet):
    """Provider accounts (staff only). Credentials are write-only."""

    lookup_value_regex = "[^/]+"
    permission_classes = [StaffOnly]
    serializer_class = s.ProviderAccountSerializer
    pagination_class = ApiPagination
    filter_backends = [FilterBackend, OrderingFilter]
    filterset_class = ProviderAccountFilter
    ordering_fields = ["provider", "name", "created_at", "id"]
    ordering = ["provider", "name"]
    queryset = ProviderAccount.objects.all()

    @extend_schema(summary="Create a provider account",
                   request=s.ProviderAccountWriteSerializer,
                   responses={201: s.ProviderAccountSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        data = s.ProviderAccountWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        is_active = fields.pop("is_active", True)
        account = services.account_create(**fields)
        if not is_active:
            account = services.account_update(account=account, is_active=False)
        return Response(s.ProviderAccountSerializer(account).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a provider account (credentials merge; blank keeps)",
                   request=s.ProviderAccountUpdateSerializer,
                   responses=s.ProviderAccountSerializer)
    def partial_update(self, request: Request, pk: Any = None) -> Response:
        account = self.get_object()
        data = s.ProviderAccountUpdateSerializer(data=request.data, partial=True,
                                                 instance=account)
        data.is_valid(raise_exception=True)
        account = services.account_update(account=account, **data.validated_data)
        return Response(s.ProviderAccountSerializer(account).data)


    @extend_schema(summary="Check the account's credentials with a harmless provider call",
                   request=None, responses=s.AccountCheckResultSerializer)
    @action(detail=True, methods=["post"], url_path="check", url_name="check")
    @idempotent
    def check(self, request: Request, pk: Any = None) -> Response:
        account = self.get_object()
        try:
            note = services.account_check(account=account)
        except ProviderError as exc:
            # A failed check is the answer to the question asked, not a failure of this API.
            reason = check_failure_reason(exc)
            return Response({"ok": False, "message": reason, "reason": reason})
        return Response({"ok": True, "message": str(note or "OK"), "reason": None})

    @extend_schema(
        summary="Pull the orders the provider sends us (in the background)", request=None,
        description="At most one sync per account per `SYNC_NOW_MIN_INTERVAL` seconds (as the "
        "admin's action): sooner is `429 rate_limited`.",
        responses={202: s.AccountSyncResultSerializer},
    )
    @action(detail=True, methods=["post"], url_path="sync", url_name="sync")
    @idempotent
    def sync(self, request: Request, pk: Any = None) -> Response:
        from orders.dispatch import account_sync_now

        account = self.get_object()
        cls = registry.get(account.provider)
        if cls is None or not cls.supports("iter_incoming"):
            raise ApiError(409, "not_supported",
                           "This provider does not send orders to us: nothing to pull.")
        account_sync_now(account=account, actor=request.user)  # cooldown: 429 rate_limited
        location = reverse("api:order-list") + "?" + urlencode({"provider": account.provider})
        return Response({"status": "accepted", "location": location},
                        status=status.HTTP_202_ACCEPTED, headers={"Location": location})


    # --- Brandsdistribution: the reservation --------------------------------------------------
    def _reservation_account(self) -> ProviderAccount:
        account = self.get_object()
        if account.provider != RESERVATION_PROVIDER:
            raise ApiError(409, "not_supported", "Only Brandsdistribution accounts keep a "
                           "reservation.")
        return account

    @staticmethod
    def _reservation(result: dict[str, Any]) -> dict[str, Any]:
        error = redact_text(str(result.get("error") or ""))
        return {"models": result.get("models") or [], "read_at": result.get("read_at"),
                "error": error}

    @extend_schema(summary="Brandsdistribution: read what the account's reservation holds now",
                   request=None, responses=s.ReservationSerializer)
    @action(detail=True, methods=["post"], url_path="reservation/read",
            url_name="reservation-read")
    @idempotent
    def reservation_read(self, request: Request, pk: Any = None) -> Response:
        from providers.brandsdistribution.service import reservation_read

        from ..provider_requests import account_config

        account = self._reservation_account()
        return Response(self._reservation(reservation_read(account_config(account))))

    @extend_schema(summary="Brandsdistribution: release everything the reservation holds",
                   request=None, responses=s.ReservationReleasedSerializer)
    @action(detail=True, methods=["post"], url_path="reservation/release",
            url_name="reservation-release")
    @idempotent
    def reservation_release(self, request: Request, pk: Any = None) -> Response:
        from providers.brandsdistribution.reservations import reservation_view
        from providers.brandsdistribution.service import reservation_release

        from ..provider_requests import account_config

        account = self._reservation_account()
        try:
            note, released = reservation_release(account_config(account)), True
        except ProviderError as exc:  # a result for the operator, not a gateway failure of ours
            note, released = f"Nothing released: {exc}", False
        return Response({"released": released, "message": redact_text(note),
                         "reservation": self._reservation(reservation_view(account.pk))})


@extend_schema(tags=["merchants"])
class MerchantViewSet(SafeLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      viewsets.GenericViewSet):
    """Merchants (scoped tokens see only their own)."""

    lookup_value_regex = "[^/]+"
    permission_classes = [MerchantPermission]
    serializer_class = s.MerchantSerializer
    pagination_class = ApiPagination
    filter_backends = [FilterBackend, OrderingFilter]
    filterset_class = MerchantFilter
    ordering_fields = ["name", "created_at", "authorization_expires_at", "id"]
    ordering = ["name", "id"]
    queryset = Merchant.objects.none()

    def get_queryset(self) -> QuerySet[Merchant]:
        return scoped(Merchant.objects.select_related("account"), self.request, "pk")

    @extend_schema(summary="Create a merchant (pending authorization)",
                   request=s.MerchantCreateSerializer, responses={201: s.MerchantSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        data = s.MerchantCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        merchant = services.merchant_create(actor=request.user, **data.validated_data)
        return Response(s.MerchantSerializer(merchant).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Authorize: a one-time link for the merchant, or (operators) mark authorized",
        request=s.MerchantAuthorizeSerializer, responses={200: s.MerchantAuthorizeResultSerializer},
    )
    @action(detail=True, methods=["post"], url_path="authorize", url_name="authorize")
    @idempotent
    def authorize(self, request: Request, pk: Any = None) -> Response:
        merchant = self.get_object()
        data = s.MerchantAuthorizeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        url, expires_at = None, None
        if data.validated_data["mode"] == "manual":
            if not request.user.has_perm("merchants.change_merchant") or (
                integration_of(request) is not None and not request.user.is_staff
            ):
                raise ApiError(403, "forbidden",
                               "Only operators may mark a merchant authorized by hand.")
            merchant = services.merchant_authorize(
                merchant=merchant, actor=request.user,
                external_id=data.validated_data.get("external_id", ""), how="manual, via API",
            )
        else:
            url, expires_at = self._authorization_link(request, merchant)
            merchant.refresh_from_db()
        return Response(s.MerchantAuthorizeResultSerializer(
            {"merchant": merchant, "authorization_url": url, "expires_at": expires_at}
        ).data)

    def _authorization_link(self, request: Request, merchant: Merchant) -> tuple[Any, Any]:
        create = getattr(services, "merchant_authorization_link_create", None)
        if create is None:
            raise ApiError(409, "not_supported", LINK_UNAVAILABLE)
        base_url = settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")
        try:
            link = create(merchant=merchant, actor=request.user, base_url=base_url)
        except (ProviderNotSupported, NotImplementedError) as exc:
            raise ApiError(409, "not_supported", LINK_UNAVAILABLE) from exc
        except ProviderError as exc:
            raise provider_failure(exc) from exc
        except ValueError as exc:  # the service's own "not for this merchant now"
            raise ApiError(409, "refused", str(exc) or LINK_UNAVAILABLE) from exc
        if link is None:
            raise ApiError(409, "not_supported", LINK_UNAVAILABLE)
        if isinstance(link, str):
            return link, None
        if isinstance(link, dict):
            return link.get("url"), link.get("expires_at")
        return getattr(link, "url", None) or str(link), getattr(link, "expires_at", None)

    @extend_schema(summary="Revoke the merchant's authorization", request=None,
                   responses=s.MerchantSerializer)
    @action(detail=True, methods=["post"], url_path="revoke", url_name="revoke")
    @idempotent
    def revoke(self, request: Request, pk: Any = None) -> Response:
        merchant = services.merchant_revoke(merchant=self.get_object(), actor=request.user)
        return Response(s.MerchantSerializer(merchant).data)
