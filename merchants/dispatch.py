"""The one way the admin and the API ask the worker for provider work on accounts and
merchants: a credentials check, an authorization link, the Merchant ID verification, the
confirmation of a merchant back from the provider, the Brandsdistribution reservation.

A web request never calls a provider (issue 14). It checks here what needs no provider
(permission is the caller's; the provider's abilities, the public URL), queues the task
(``merchants.tasks``) and answers from ``core.provider_reads``: ``ready`` when the task
already ran (eager Celery, a fast worker), else ``pending`` — the admin polls, the API
answers 202 with ``Retry-After`` and ``Location``.

Layering, top-down: admin/API → ``dispatch`` → ``tasks`` → services → providers.
"""

from __future__ import annotations

from typing import Any

from core import provider_reads as reads
from core.provider_reads import ReadResult
from providers import registry

from . import services, tasks
from .models import AuthorizationRequest, Merchant, ProviderAccount
from .services import MerchantAuthorizationError

CHECK_MAX_AGE = 10 * 60  # a credentials check is shown this long
RESERVATION_MAX_AGE = 60  # the reservation read is served from the cache this long
LINK_UNAVAILABLE = "authorization links are not available for this provider"


def _last(key: str) -> ReadResult | None:
    """The stored result (ready or failed), ``pending`` while queued, ``None`` if never
    asked (or the queued work was lost)."""
    found = reads.read_peek(key=key)
    if found is not None:
        return found
    return ReadResult("pending") if reads.read_pending(key=key) else None


def _queue_fresh(key: str, enqueue: Any) -> ReadResult:
    """Queue the work again (an operator asked again), unless it is queued already."""
    if reads.read_pending(key=key):
        return ReadResult("pending")
    return reads.read_request(key=key, max_age=float("inf"), enqueue=enqueue, refresh=True)


# --- credentials check ---------------------------------------------------------------------------
def account_check_supported(*, account: ProviderAccount) -> bool:
    cls = registry.get(str(account.provider))
    return cls is not None and cls.supports("check_account")


def account_check_request(*, account: ProviderAccount) -> ReadResult:
    """Queue a credentials check; ``ready`` with ``{"ok", "detail", "checked_at"}`` when it
    already ran, else ``pending``."""
    pk = account.pk
    key = tasks.account_check_key(pk)
    if not account_check_supported(account=account):  # known without asking the provider
        from django.utils import timezone

        reads.read_forget(key)
        reads.read_store_data(key, {"ok": False, "detail": "This provider has no credentials "
                                    "check.", "checked_at": timezone.now().isoformat()})
        return reads.read_peek(key=key) or ReadResult("pending")
    return _queue_fresh(key, lambda: tasks.account_check_task.delay(pk))


def account_check_result(*, account: ProviderAccount) -> ReadResult | None:
    """The last check: ready/failed, pending, or ``None`` (never checked)."""
    return _last(tasks.account_check_key(account.pk))


# --- Brandsdistribution reservation -------------------------------------------------------------
def account_reservation_read(*, account: ProviderAccount, refresh: bool = False) -> ReadResult:
    """The reservation as last read (younger than ``RESERVATION_MAX_AGE``), else queue a
    read; ``refresh`` reads again (the operator's "read now")."""
    pk = account.pk
    key = tasks.reservation_read_key(pk)
    enqueue = lambda: tasks.account_reservation_read_task.delay(pk)  # noqa: E731
    if refresh:
        return _queue_fresh(key, enqueue)
    return reads.read_request(key=key, max_age=RESERVATION_MAX_AGE, enqueue=enqueue)


def account_reservation_release(*, account: ProviderAccount) -> ReadResult:
    """Queue the release (a write); ``ready`` with its outcome if it already ran."""
    pk = account.pk
    return _queue_fresh(tasks.reservation_release_key(pk),
                        lambda: tasks.account_reservation_release_task.delay(pk))


def account_reservation_release_result(*, account: ProviderAccount) -> ReadResult | None:
    return _last(tasks.reservation_release_key(account.pk))


def account_reservation_read_state(*, account: ProviderAccount) -> tuple[bool, ReadResult | None]:
    """(a read is queued, the last stored read) — for a page that only shows them."""
    key = tasks.reservation_read_key(account.pk)
    return reads.read_pending(key=key), reads.read_peek(key=key)


# --- merchant authorization link -----------------------------------------------------------------
def merchant_authorization_link_available(*, merchant: Merchant) -> bool:
    cls = registry.get(str(merchant.account.provider))
    return (getattr(services, "merchant_authorization_link_create", None) is not None
            and cls is not None and cls.supports("register_merchant"))


def merchant_authorization_link_request(
    *, merchant: Merchant, actor: Any = None, base_url: str
) -> ReadResult:
    """Queue the creation of a one-time authorization link. Refuses at once (nothing queued,
    ``MerchantAuthorizationError``) what needs no provider to know: a provider without links,
    a public URL that is not http(s)."""
    if getattr(services, "merchant_authorization_link_create", None) is None:
        raise MerchantAuthorizationError(LINK_UNAVAILABLE, code="not_supported")
    if not merchant_authorization_link_available(merchant=merchant):
        cls = registry.get(str(merchant.account.provider))
        raise MerchantAuthorizationError(
            f"{cls.label if cls is not None else 'This provider'} has no authorization links.",
            code="not_supported")
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise MerchantAuthorizationError(
            "The public base URL must start with http:// or https://.", code="refused")
    pk = merchant.pk
    actor_pk = actor.pk if actor is not None and getattr(actor, "is_authenticated", False) \
        else None
    return _queue_fresh(tasks.authorization_link_key(pk),
                        lambda: tasks.merchant_authorization_link_task.delay(pk, actor_pk, base))


def merchant_authorization_link_result(*, merchant: Merchant) -> ReadResult | None:
    """The last link asked for: pending, the outcome, or ``None``. A created link is shown
    only while it can still be used (followed, expired or replaced: forgotten)."""
    key = tasks.authorization_link_key(merchant.pk)
    found = _last(key)
    if found is not None and found.ready and isinstance(found.data, dict) \
            and found.data.get("created"):
        from django.utils import timezone

        from .models import AuthorizationRequest

        live = AuthorizationRequest.objects.filter(
            merchant=merchant, status=AuthorizationRequest.Status.CREATED,
            expires_at__gt=timezone.now())
        if not live.exists():
            reads.read_forget(key)
            return None
    return found


# --- Merchant ID verification (single-merchant path) --------------------------------------------
VERIFY_SHOWN = 10 * 60  # a verification's outcome is shown on the merchant's page this long


def merchant_verify_request(*, merchant: Merchant, actor: Any = None,
                            external_id: str = "") -> ReadResult:
    """Queue "verify the Merchant ID and authorize". Refuses at once (nothing queued,
    ``MerchantAuthorizationError``) what needs no provider: no Merchant ID, a duplicate."""
    external_id = services.merchant_verify_precheck(merchant=merchant, external_id=external_id)
    pk = merchant.pk
    actor_pk = actor.pk if actor is not None and getattr(actor, "is_authenticated", False) \
        else None
    return _queue_fresh(tasks.merchant_verify_key(pk),
                        lambda: tasks.merchant_verify_task.delay(pk, actor_pk, external_id))


def merchant_verify_result(*, merchant: Merchant) -> ReadResult | None:
    """The last verification: pending, its outcome (shown ``VERIFY_SHOWN``), or ``None``."""
    key = tasks.merchant_verify_key(merchant.pk)
    if reads.read_pending(key=key):
        return ReadResult("pending")
    return reads.read_peek(key=key, max_age=VERIFY_SHOWN)


# --- the merchant back from the provider: confirm the authorization ------------------------------
def merchant_authorization_confirm_queue(*, request: AuthorizationRequest) -> None:
    """Queue the confirmation of a returned request (once: a queued one is not queued again)."""
    pk = request.pk
    _queue_fresh(tasks.authorization_confirm_key(pk),
                 lambda: tasks.merchant_authorization_confirm_task.delay(pk))


def merchant_authorization_confirm_state(*, request: AuthorizationRequest) -> tuple[bool, str]:
    """(queued and not done, why the last run could not confirm) for a returned request. A
    returned request that is neither queued nor has a reason lost its message: queued again
    (a harmless read; the transition is guarded by the request's state)."""
    key = tasks.authorization_confirm_key(request.pk)
    if reads.read_pending(key=key):
        return True, ""
    last = reads.read_peek(key=key)
    if last is not None and last.failed:
        return False, last.error
    if request.status == AuthorizationRequest.Status.RETURNED and not request.failure_reason:
        merchant_authorization_confirm_queue(request=request)
        request.refresh_from_db()
        return reads.read_pending(key=key), request.failure_reason
    return False, request.failure_reason
