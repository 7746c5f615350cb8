"""Merchant-facing authorization pages (public: the merchant has no dropdesk login).

* ``connect/<state>/``: what is about to happen and one button; the POST uses the link up and
  redirects to the provider's stored one-time URL — never to anything from the request.
* ``authorization/return/<state>/``: where the provider sends the merchant back. No provider
  call (issue 14): the one-time state is used up, the merchant's return is recorded, the
  worker is asked to confirm the authorization with the provider (a harmless read), and the
  page says "Confirming your authorization…" and refreshes itself to
* ``authorization/status/<token>/``: that authorization's outcome only (a signed token names
  it): confirming, connected, or why not and what to do next (POST: try again when the
  provider could not be asked). Nothing in the query string chooses a destination: these
  pages never redirect elsewhere.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import dispatch
from .landing import (
    authorization_status_token,
    merchant_authorization_for_status,
    merchant_authorization_return,
)
from .models import AUTHORIZATION_PERIOD, AuthorizationRequest
from .services import (
    AuthorizationLinkRefused,
    merchant_authorization_for_connect,
    merchant_authorization_start,
)

REFUSED_PAGES = {
    "invalid": ("merchants/authorization_invalid.html", 400),
    "expired": ("merchants/authorization_expired.html", 410),
    "used": ("merchants/authorization_used.html", 410),
}


def _refused(request: HttpRequest, exc: AuthorizationLinkRefused) -> HttpResponse:
    template, status = REFUSED_PAGES.get(exc.code, REFUSED_PAGES["invalid"])
    response = render(request, template, {"message": exc.message}, status=status)
    response["Referrer-Policy"] = "no-referrer"
    return response


def _no_referrer(response: HttpResponse) -> HttpResponse:
    # the URL carries the one-time state: keep it out of other sites' Referer headers
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def authorization_connect(request: HttpRequest, state: str) -> HttpResponse:
    try:
        if request.method == "POST":
            target = merchant_authorization_start(state=state)
            return _no_referrer(HttpResponseRedirect(target))
        auth = merchant_authorization_for_connect(state=state)
    except AuthorizationLinkRefused as exc:
        return _refused(request, exc)
    response = _no_referrer(render(request, "merchants/authorization_connect.html", {
        "merchant": auth.merchant,
        "provider": auth.merchant.account.get_provider_display(),
        "period_days": AUTHORIZATION_PERIOD.days,
        "expires_at": auth.expires_at,
    }))
    # This page's form posts back to us: under "no-referrer" browsers send `Origin: null`
    # with it and Django's CSRF check refuses the POST. "same-origin" still keeps the state
    # out of every other site's Referer (the redirect to the provider stays "no-referrer").
    response["Referrer-Policy"] = "same-origin"
    return response


@never_cache
@require_http_methods(["GET"])
def authorization_return(request: HttpRequest, state: str) -> HttpResponse:
    """The provider's redirect back: no provider call here. Uses the landing state up,
    queues the confirmation and shows its progress (a replayed URL is refused as used)."""
    error = request.GET.get("error", "").strip()
    try:
        outcome, auth = merchant_authorization_return(state=state, error=error)
    except AuthorizationLinkRefused as exc:
        return _refused(request, exc)
    context = {"merchant": auth.merchant,
               "provider": auth.merchant.account.get_provider_display()}
    if outcome == "cancelled":
        return _no_referrer(render(request, "merchants/authorization_cancelled.html", context))
    if outcome == "failed":
        return _no_referrer(render(request, "merchants/authorization_failed.html",
                                   {**context, "error": error}))
    dispatch.merchant_authorization_confirm_queue(request=auth)
    auth.refresh_from_db()
    return _outcome_page(request, auth, status_url=_status_url(auth))


@never_cache
@require_http_methods(["GET", "POST"])
def authorization_status(request: HttpRequest, token: str) -> HttpResponse:
    """The outcome of one returned authorization (what the landing page refreshes to): only
    that outcome, named by a signed token. POST: try again after the provider could not be
    asked (queues the confirmation once; nothing else)."""
    try:
        auth = merchant_authorization_for_status(token=token)
    except AuthorizationLinkRefused as exc:
        return _refused(request, exc)
    if request.method == "POST":
        if auth.status == auth.Status.RETURNED:
            dispatch.merchant_authorization_confirm_queue(request=auth)
        return _no_referrer(HttpResponseRedirect(request.path, status=303))  # this page
    return _outcome_page(request, auth, status_url=request.path)


def _status_url(auth: AuthorizationRequest) -> str:
    return reverse("merchants:authorization_status", args=[authorization_status_token(auth)])


def _outcome_page(request: HttpRequest, auth: AuthorizationRequest, *,
                  status_url: str) -> HttpResponse:
    """Confirming (the page refreshes itself), connected, or why not and what to do next."""
    context = {"merchant": auth.merchant, "status_url": status_url,
               "provider": auth.merchant.account.get_provider_display()}
    if auth.status == auth.Status.COMPLETED:
        return _no_referrer(render(request, "merchants/authorization_done.html", context))
    if auth.status == auth.Status.CANCELLED:
        return _no_referrer(render(request, "merchants/authorization_cancelled.html", context))
    if auth.status != auth.Status.RETURNED:  # the provider refused to confirm
        return _no_referrer(render(request, "merchants/authorization_unconfirmed.html",
                                   {**context, "retry": False}))
    pending, reason = dispatch.merchant_authorization_confirm_state(request=auth)
    if pending:
        return _no_referrer(render(request, "merchants/authorization_confirming.html", context))
    response = _no_referrer(render(request, "merchants/authorization_unconfirmed.html",
                                   {**context, "retry": True, "reason": _merchant_reason(reason)},
                                   status=503))
    response["Referrer-Policy"] = "same-origin"  # its "Try again" form posts back to us
    return response


def _merchant_reason(reason: str) -> str:
    """The stored reason is for operators (it may name the provider's error): the merchant
    is told only whether it was the provider or us."""
    if "on our side" in reason:
        return "Something went wrong on our side (it has been logged)."
    return "The provider did not answer this time." if reason else ""
