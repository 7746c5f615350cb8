"""Authentication: password grant with client credentials in HTTP Basic only, cached bearer
token, one refresh and retry on 401, X-Api-Version on every call, nothing secret recorded."""

from __future__ import annotations

import base64
import logging
from urllib.parse import parse_qs

import pytest
import responses
from responses import matchers

from merchants.provider_requests import provider_service
from orders.models import OrderEvent
from orders.provider_requests import order_request
from orders.timeline import CallRecorder
from providers.errors import ProviderBadReply, ProviderRejected

from .conftest import CREDENTIALS, ORDERS, TOKEN_URL, add_token, fixture

pytestmark = pytest.mark.django_db


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_token_uses_basic_client_auth_and_password_grant_and_api_version(mocked, account):
    mocked.add(responses.POST, TOKEN_URL, json=fixture("token"), match=[
        matchers.header_matcher({
            "Authorization": _basic("client-key-1", "client-secret-xyz"),
            "X-Api-Version": "3.0",
        }),
    ])
    mocked.add(responses.GET, ORDERS, json={"items": []}, match=[
        matchers.header_matcher({"Authorization": "Bearer tok-abc123456789",
                                 "X-Api-Version": "3.0"}),
        matchers.query_param_matcher({"stage": "Draft"}),
    ])
    note = provider_service(account).check_account()
    assert "standard" in note
    form = parse_qs(mocked.calls[0].request.body)
    assert form == {"grant_type": ["password"], "username": ["api-user"],
                    "password": ["api-password-123"]}
    assert "client_secret" not in mocked.calls[0].request.body
    assert "client_id" not in mocked.calls[0].request.body


def test_token_is_cached_per_account_across_service_instances(mocked, account):
    token = add_token(mocked)
    mocked.add(responses.GET, ORDERS, json={"items": []})
    provider_service(account).check_account()
    provider_service(account).check_account()
    assert token.call_count == 1


def test_other_account_gets_its_own_token(mocked, account, free_account):
    token = add_token(mocked)
    mocked.add(responses.GET, ORDERS, json={"items": []})
    provider_service(account).check_account()
    provider_service(free_account).check_account()
    assert token.call_count == 2


def test_401_refreshes_token_once_and_retries_the_call(mocked, account):
    mocked.add(responses.POST, TOKEN_URL, json={"access_token": "old-token-1", "expires_in": 3600})
    mocked.add(responses.POST, TOKEN_URL, json={"access_token": "new-token-2", "expires_in": 3600})
    stale = mocked.add(responses.GET, ORDERS, status=401, json={"message": "denied"},
                       match=[matchers.header_matcher({"Authorization": "Bearer old-token-1"})])
    fresh = mocked.add(responses.GET, ORDERS, json={"items": []},
                       match=[matchers.header_matcher({"Authorization": "Bearer new-token-2"})])
    provider_service(account).check_account()
    assert (stale.call_count, fresh.call_count) == (1, 1)
    # the refreshed token is the cached one now
    provider_service(account).check_account()
    assert fresh.call_count == 2
    assert sum(1 for c in mocked.calls if c.request.url == TOKEN_URL) == 2


def test_second_401_is_a_rejection_not_a_loop(mocked, account):
    add_token(mocked)
    mocked.add(responses.GET, ORDERS, status=401, json={"message": "Authorization has been denied"})
    with pytest.raises(ProviderRejected) as err:
        provider_service(account).check_account()
    assert err.value.http_status == 401
    assert "denied" in str(err.value)
    assert sum(1 for c in mocked.calls if c.request.url.startswith(ORDERS)) == 2


def test_bad_credentials_give_the_oauth_reason(mocked, account):
    mocked.add(responses.POST, TOKEN_URL, status=400,
               json={"error": "invalid_grant",
                     "error_description": "The user name or password is incorrect."})
    with pytest.raises(ProviderRejected) as err:
        provider_service(account).check_account()
    assert "user name or password is incorrect" in str(err.value)


def test_token_reply_without_access_token_is_a_bad_reply(mocked, account):
    mocked.add(responses.POST, TOKEN_URL, json={"token_type": "bearer"})
    with pytest.raises(ProviderBadReply):
        provider_service(account).check_account()


def test_token_and_credentials_never_reach_timeline_or_logs(mocked, provider_draft, caplog):
    add_token(mocked)
    mocked.add(responses.GET, f"{ORDERS}/5001", status=400,
               json={"message": "bad tok-abc123456789 api-password-123 client-secret-xyz"})
    service = provider_service(provider_draft.merchant.account,
                                   recorder=CallRecorder(provider_draft))
    with caplog.at_level(logging.INFO), pytest.raises(ProviderRejected) as err:
        service.fetch_order(order_request(provider_draft))
    texts = [str(err.value), caplog.text,
             *OrderEvent.objects.filter(order=provider_draft).values_list("message", flat=True)]
    for text in texts:
        for secret in ("tok-abc123456789", *CREDENTIALS.values()):
            assert secret not in text
