"""Merchants and provider accounts API: thin views over merchants.services, and over
merchants.dispatch for what needs the provider (queued for the worker: 202 + Location)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ApiError, ErrorSerializer
from api.filters import FilterBackend
from api.idempotency import idempotent
from api.pagination import ApiPagination
from api.scoping import SafeLookupMixin, integration_of, merchant_scope, scoped
from core import provider_reads as reads
from core.provider_reads import ReadResult
from merchants import dispatch, services
from merchants.models import Merchant, ProviderAccount
from providers import registry

from . import serializers as s
from .filters import MerchantFilter, ProviderAccountFilter

LINK_UNAVAILABLE = dispatch.LINK_UNAVAILABLE

# Work the worker does for a request (issue 14): 202 while it runs, with where to ask again.
PENDING_DESCRIPTION = ("Queued for the worker: ask `Location` again after `Retry-After` "
                       "seconds (also `location` and `retry_after` in the body).")


def accepted(location: str) -> Response:
    """202: queued or still running; the result appears at ``location``."""
    wait = reads.RETRY_AFTER_SECONDS
    return Response({"status": "pending", "location": location, "retry_after": wait},
                    status=status.HTTP_202_ACCEPTED,
                    headers={"Location": location, "Retry-After": str(wait)})


def _check_body(result: ReadResult) -> dict[str, Any]:
    """The check's answer: a failed check is data (``ok`` false); a failure of ours to run
    it is said the same way, in plain words."""
    data = result.data if result.ready and isinstance(result.data, dict) else {
        "ok": False, "detail": result.error or "The check could not be run; try again.",
        "checked_at": result.read_at.isoformat() if result.read_at else None}
    detail = str(data.get("detail") or "")
    ok = bool(data.get("ok"))
    return {"ok": ok, "detail": detail, "checked_at": data.get("checked_at"),
            "message": detail, "reason": None if ok else detail}


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


    @extend_schema(
        summary="Check the account's credentials with a harmless provider call",
        description="Queues the check for the worker (a web request never calls the "
        "provider). 200: the check already ran — `ok` false is a failed check with a readable "
        "reason (an unreachable provider included), never a gateway error. 202: queued; GET "
        "`Location` for the result.",
        request=None,
        responses={200: s.AccountCheckResultSerializer,
                   202: OpenApiResponse(s.AcceptedSerializer, description=PENDING_DESCRIPTION)},
    )
    @action(detail=True, methods=["post"], url_path="check", url_name="check")
    @idempotent
    def check(self, request: Request, pk: Any = None) -> Response:
        account = self.get_object()
        result = dispatch.account_check_request(account=account)
        if result.pending:
            return accepted(self._check_location(account))
        return Response(_check_body(result))

    @extend_schema(
        summary="The last credentials check of the account",
        description="200: the last check's result (`ok` false with a readable reason when it "
        "failed). 202: a check is queued or running; ask again after `Retry-After`. 404 "
        "(`not_found`): the account was never checked (or the queued check was lost): POST "
        "to check.",
        responses={200: s.AccountCheckResultSerializer,
                   202: OpenApiResponse(s.AcceptedSerializer, description=PENDING_DESCRIPTION)},
    )
    @check.mapping.get
    def check_result(self, request: Request, pk: Any = None) -> Response:
        account = self.get_object()
        result = dispatch.account_check_result(account=account)
        if result is None:
            raise ApiError(404, "not_found", "This account's credentials were not checked "
                           "yet: POST to this URL to check them.")
        if result.pending:
            return accepted(self._check_location(account))
        return Response(_check_body(result))

    @staticmethod
    def _check_location(account: ProviderAccount) -> str:
        return reverse("api:account-check", args=[account.pk])

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
    NOT_BD = OpenApiResponse(ErrorSerializer, description="`not_supported`: not a "
                             "Brandsdistribution account (only those keep a reservation).")

    def _reservation_account(self) -> ProviderAccount:
        account = self.get_object()
        if account.provider != RESERVATION_PROVIDER:
            raise ApiError(409, "not_supported", "Only Brandsdistribution accounts keep a "
                           "reservation.")
        return account

    def _reservation_answer(self, account: ProviderAccount, result: ReadResult) -> Response:
        from merchants.reservations import account_reservation_known

        if result.pending:
            return accepted(reverse("api:account-reservation", args=[account.pk]))
        if result.failed:  # the last known reading, with why it could not be read now
            return Response({**account_reservation_known(account=account),
                             "error": result.error})
        return Response(result.data)

    @extend_schema(
        summary="Brandsdistribution: what the account's reservation holds",
        description="The reservation as read by the worker within the last minute; an older "
        "one is read again. 200: the reading (`error` says why it could not be read now, "
        "with the last known models). 202: a read is queued; ask again after `Retry-After`.",
        responses={200: s.ReservationSerializer,
                   202: OpenApiResponse(s.AcceptedSerializer, description=PENDING_DESCRIPTION),
                   409: NOT_BD},
    )
    @action(detail=True, methods=["get"], url_path="reservation", url_name="reservation")
    def reservation(self, request: Request, pk: Any = None) -> Response:
        account = self._reservation_account()
        return self._reservation_answer(account, dispatch.account_reservation_read(
            account=account))

    @extend_schema(
        summary="Brandsdistribution: read what the account's reservation holds now",
        description="Queues a fresh read. 200: the worker already read it; 202: GET "
        "`Location` (the reservation) for the reading.",
        request=None,
        responses={200: s.ReservationSerializer,
                   202: OpenApiResponse(s.AcceptedSerializer, description=PENDING_DESCRIPTION)},
    )
    @action(detail=True, methods=["post"], url_path="reservation/read",
            url_name="reservation-read")
    @idempotent
    def reservation_read(self, request: Request, pk: Any = None) -> Response:
        account = self._reservation_account()
        return self._reservation_answer(account, dispatch.account_reservation_read(
            account=account, refresh=True))

    def _release_answer(self, account: ProviderAccount, result: ReadResult) -> Response:
        if result.pending:
            return accepted(reverse("api:account-reservation-release", args=[account.pk]))
        if result.failed:
            from merchants.reservations import account_reservation_known

            return Response({"released": False, "message": result.error,
                             "finished_at": result.read_at.isoformat() if result.read_at
                             else None,
                             "reservation": account_reservation_known(account=account)})
        return Response(result.data)

    @extend_schema(
        summary="Brandsdistribution: release everything the reservation holds",
        description="Queues the release for the worker. 200: it already ran (`released` "
        "false when the provider could not be asked: nothing was released). 202: queued; GET "
        "`Location` for the outcome.",
        request=None,
        responses={200: s.ReservationReleasedSerializer,
                   202: OpenApiResponse(s.AcceptedSerializer, description=PENDING_DESCRIPTION)},
    )
    @action(detail=True, methods=["post"], url_path="reservation/release",
            url_name="reservation-release")
    @idempotent
    def reservation_release(self, request: Request, pk: Any = None) -> Response:
        account = self._reservation_account()
        return self._release_answer(account, dispatch.account_reservation_release(
            account=account))

    @extend_schema(
        summary="Brandsdistribution: the outcome of the last release",
        description="200: the last release's outcome. 202: a release is queued or running. "
        "404 (`not_found`): no release was asked for (or the queued one was lost).",
        responses={200: s.ReservationReleasedSerializer,
                   202: OpenApiResponse(s.AcceptedSerializer, description=PENDING_DESCRIPTION),
                   409: NOT_BD},
    )
    @reservation_release.mapping.get
    def reservation_release_result(self, request: Request, pk: Any = None) -> Response:
        account = self._reservation_account()
        result = dispatch.account_reservation_release_result(account=account)
        if result is None:
            raise ApiError(404, "not_found", "No release of this reservation was asked for.")
        return self._release_answer(account, result)


def _stored_outcome(result: ReadResult | None, *, location: str, missing: str,
                    outcome: Any, when: str, serializer: Any) -> Response:
    """A worker's stored outcome as the API answers it: 404 when none was asked for, 202
    while it runs, else 200 with ``outcome(result)`` (its ``when`` field read back as a
    date-time: the cache keeps it as text)."""
    if result is None:
        raise ApiError(404, "not_found", missing)
    if result.pending:
        return accepted(location)
    data = dict(outcome(result))
    if isinstance(data.get(when), str):
        data[when] = parse_datetime(data[when])
    return Response(serializer(data).data)


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
        description="`mode: manual` (operators): 200 with the authorized merchant. `mode: link` "
        "queues the link's creation at the provider for the worker: 201 with the link when it "
        "already ran; 202 while it runs — GET `Location` (the merchant's authorization link) "
        "for it. A provider without links, or one that refused, is 409 in the error shape. "
        "`mode: verify` queues the Merchant ID's verification for the worker: 200 with the "
        "authorized merchant when it already ran; 202 while it runs — GET `Location` (the "
        "merchant's verification); 409 in the error shape when there is no Merchant ID, "
        "another merchant has it, or the provider did not verify it.",
        request=s.MerchantAuthorizeSerializer,
        responses={200: s.MerchantAuthorizeResultSerializer,
                   201: s.MerchantAuthorizeResultSerializer,
                   202: OpenApiResponse(s.AcceptedSerializer, description=PENDING_DESCRIPTION)},
    )
    @action(detail=True, methods=["post"], url_path="authorize", url_name="authorize")
    @idempotent
    def authorize(self, request: Request, pk: Any = None) -> Response:
        merchant = self.get_object()
        data = s.MerchantAuthorizeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["mode"] == "verify":
            return self._verify(request, merchant, data.validated_data.get("external_id", ""))
        if data.validated_data["mode"] != "manual":
            return self._authorization_link(request, merchant)
        if not request.user.has_perm("merchants.change_merchant") or (
            integration_of(request) is not None and not request.user.is_staff
        ):
            raise ApiError(403, "forbidden",
                           "Only operators may mark a merchant authorized by hand.")
        merchant = services.merchant_authorize(
            merchant=merchant, actor=request.user,
            external_id=data.validated_data.get("external_id", ""), how="manual, via API",
        )
        return Response(s.MerchantAuthorizeResultSerializer(
            {"merchant": merchant, "authorization_url": None, "expires_at": None}).data)

    def _authorization_link(self, request: Request, merchant: Merchant) -> Response:
        base_url = settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")
        result = dispatch.merchant_authorization_link_request(
            merchant=merchant, actor=request.user, base_url=base_url)  # refusals: 409
        if result.pending:
            return accepted(reverse("api:merchant-authorization-link", args=[merchant.pk]))
        outcome = self._link_outcome(result)
        if not outcome["created"]:
            raise ApiError(409, outcome["code"] or "refused", outcome["detail"])
        merchant.refresh_from_db()
        expires_at = outcome.get("expires_at")
        return Response(s.MerchantAuthorizeResultSerializer(
            {"merchant": merchant, "authorization_url": outcome["url"],
             "expires_at": parse_datetime(expires_at) if isinstance(expires_at, str)
             else expires_at}).data, status=status.HTTP_201_CREATED)

    def _verify(self, request: Request, merchant: Merchant, external_id: str) -> Response:
        try:
            result = dispatch.merchant_verify_request(merchant=merchant, actor=request.user,
                                                      external_id=external_id)
        except services.MerchantAuthorizationError as exc:
            raise ApiError(409, exc.code or "refused", exc.message) from exc
        if result.pending:
            return accepted(reverse("api:merchant-verification", args=[merchant.pk]))
        outcome = self._verify_outcome(result)
        if not outcome["ok"]:
            raise ApiError(409, outcome["code"] or "verify_failed", outcome["detail"])
        merchant.refresh_from_db()
        return Response(s.MerchantAuthorizeResultSerializer(
            {"merchant": merchant, "authorization_url": None, "expires_at": None}).data)

    @staticmethod
    def _verify_outcome(result: ReadResult) -> dict[str, Any]:
        if result.ready and isinstance(result.data, dict):
            return result.data
        return {"ok": False, "code": "failed", "authorized_until": None,
                "detail": result.error or "The Merchant ID could not be verified; try again."}

    @extend_schema(
        summary="The merchant's last Merchant ID verification (from `authorize` with mode "
        "verify)",
        description="200: the outcome — `ok` true (verified, authorized until "
        "`authorized_until`) or false with why not in `detail`. 202: still running; ask again "
        "after `Retry-After`. 404 (`not_found`): no verification was asked for recently (an "
        "outcome is kept 10 minutes).",
        responses={200: s.MerchantVerificationSerializer,
                   202: OpenApiResponse(s.AcceptedSerializer, description=PENDING_DESCRIPTION)},
    )
    @action(detail=True, methods=["get"], url_path="verification", url_name="verification")
    def verification(self, request: Request, pk: Any = None) -> Response:
        merchant = self.get_object()
        return _stored_outcome(
            dispatch.merchant_verify_result(merchant=merchant),
            location=reverse("api:merchant-verification", args=[merchant.pk]),
            missing="No verification was asked for recently: POST authorize with mode verify.",
            outcome=self._verify_outcome, when="authorized_until",
            serializer=s.MerchantVerificationSerializer)

    @staticmethod
    def _link_outcome(result: ReadResult) -> dict[str, Any]:
        if result.ready and isinstance(result.data, dict):
            return result.data
        return {"created": False, "url": None, "expires_at": None, "code": "failed",
                "detail": result.error or "The link could not be created; try again."}

    @extend_schema(
        summary="The merchant's last authorization link (from `authorize` with mode link)",
        description="Needs the change permission on merchants (the link is a credential for "
        "the merchant). 200: the link, or `created` false with why the provider did not "
        "create it. 202: still being created; ask again after `Retry-After`. 404 "
        "(`not_found`): no link was asked for recently.",
        responses={200: s.AuthorizationLinkSerializer,
                   202: OpenApiResponse(s.AcceptedSerializer, description=PENDING_DESCRIPTION)},
    )
    @action(detail=True, methods=["get"], url_path="authorization-link",
            url_name="authorization-link")
    def authorization_link(self, request: Request, pk: Any = None) -> Response:
        merchant = self.get_object()
        if not request.user.has_perm("merchants.change_merchant"):
            raise ApiError(403, "forbidden", "You do not have permission to see authorization "
                           "links.")
        return _stored_outcome(
            dispatch.merchant_authorization_link_result(merchant=merchant),
            location=reverse("api:merchant-authorization-link", args=[merchant.pk]),
            missing="No authorization link was asked for recently: POST authorize with mode "
            "link.",
            outcome=self._link_outcome, when="expires_at",
            serializer=s.AuthorizationLinkSerializer)

    @extend_schema(summary="Revoke the merchant's authorization", request=None,
                   responses=s.MerchantSerializer)
    @action(detail=True, methods=["post"], url_path="revoke", url_name="revoke")
    @idempotent
    def revoke(self, request: Request, pk: Any = None) -> Response:
        merchant = services.merchant_revoke(merchant=self.get_object(), actor=request.user)
        return Response(s.MerchantSerializer(merchant).data)
