"""core.web_scope: a provider call from inside a web request is refused (issue 14)."""

from __future__ import annotations

import logging

import pytest
import responses
from celery import shared_task
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from core.web_scope import ProviderCallInWebRequest, WebRequestScopeMiddleware, in_web_request
from providers.http import HttpClient

URL = "https://provider.invalid/"


def _call() -> int:
    client = HttpClient(base_url=URL, rate_scope=None)
    return client.request("GET", "orders", operation="list_orders", idempotent=True).status_code


@shared_task
def _task_that_calls() -> int:
    return _call()


def _in_request(view):
    return WebRequestScopeMiddleware(view)(RequestFactory().get("/admin/"))


@responses.activate
def test_a_call_outside_a_request_is_sent():
    responses.get(URL + "orders", json={})
    assert not in_web_request()
    assert _call() == 200


@responses.activate
def test_a_call_inside_a_request_is_refused_before_sending():
    responses.get(URL + "orders", json={})

    def view(request):
        assert in_web_request()
        _call()
        return HttpResponse("sent")

    with pytest.raises(ProviderCallInWebRequest, match="list_orders"):
        _in_request(view)
    assert len(responses.calls) == 0  # nothing went out
    assert not in_web_request()  # the mark ends with the request


@responses.activate
@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_a_task_run_from_a_request_may_call():
    """An eager task (tests) or the worker runs outside the request's mark."""
    responses.get(URL + "orders", json={})

    def view(request):
        status = _task_that_calls.delay().get()
        assert in_web_request()  # restored after the task
        return HttpResponse(str(status))

    assert _in_request(view).content == b"200"


@responses.activate
@override_settings(PROVIDER_CALL_IN_REQUEST="log")
def test_log_mode_sends_and_says_which_call_to_move(caplog):
    responses.get(URL + "orders", json={})

    def view(request):
        return HttpResponse(str(_call()))

    with caplog.at_level(logging.ERROR, logger="core.web_scope"):
        assert _in_request(view).content == b"200"
    assert "provider call 'list_orders' inside a web request" in caplog.text
