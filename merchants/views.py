"""Merchant-facing authorization pages (public: the merchant has no dropdesk login).

* ``connect/<state>/``: what is about to happen and one button; the POST uses the link up and
  redirects to the provider's stored one-time URL — never to anything from the request.
* ``authorization/return/<state>/``: where the provider sends the merchant back. Confirms
  the authorization with the provider (a harmless read), then marks the merchant authorized,
  or shows why not. Nothing in the query string chooses a destination:
  these pages never redirect.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .models import AUTHORIZATION_PERIOD
from .services import (
    AuthorizationLinkRefused,
    merchant_authorization_complete,
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
    error = request.GET.get("error", "").strip()
    try:
        outcome, auth = merchant_authorization_complete(state=state, error=error)
    except AuthorizationLinkRefused as exc:
        return _refused(request, exc)
    context = {"merchant": auth.merchant,
               "provider": auth.merchant.account.get_provider_display()}
    if outcome == "authorized":
        return _no_referrer(render(request, "merchants/authorization_done.html", context))
    if outcome == "unconfirmed":
        retry = auth.status == auth.Status.REDIRECTED  # the provider could not be asked
        return _no_referrer(render(request, "merchants/authorization_unconfirmed.html",
                                   {**context, "retry": retry}, status=503 if retry else 200))
    if outcome == "cancelled":
        return _no_referrer(render(request, "merchants/authorization_cancelled.html", context))
    return _no_referrer(render(request, "merchants/authorization_failed.html",
                               {**context, "error": error}))
