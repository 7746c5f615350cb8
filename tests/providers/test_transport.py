"""Was the request sent? ``classify_transport_failure`` on the exceptions requests really
raises (provoked on loopback), plus the wrappings that are hard to provoke; and the HTTP
helper's use of it: outcome unknown after sending for a non-idempotent call, no redirects."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading

import pytest
import requests
from urllib3 import exceptions as u3

from providers.errors import ProviderOutcomeUnknown, ProviderRejected, ProviderUnavailable
from providers.http import HttpClient, ProviderSession, redirect_error
from providers.transport import classify_transport_failure
from tests.reliability.wire_provider import (
    DNS_FAILURE_URL,
    ConnectTimeoutAddress,
    WireProvider,
    refused_url,
)

TIMEOUT = (0.5, 0.3)


def _raised(url: str, **kw) -> requests.exceptions.RequestException:  # type: ignore[no-untyped-def]
    try:
        response = requests.post(url + "/orders", json={"ref": "R-1"}, timeout=TIMEOUT, **kw)
        response.content  # noqa: B018
    except requests.exceptions.RequestException as exc:
        return exc
    raise AssertionError("no failure")


def _wire(fault: str) -> requests.exceptions.RequestException:
    with WireProvider(fault=fault, stall=1.0, gap=0.05) as server:
        exc = _raised(server.url)
    assert server.creates_received == 1  # it was sent
    return exc


# --- before sending: only what proves nothing left ------------------------------------------
def test_connection_refused_is_before_sending():
    assert classify_transport_failure(_raised(refused_url())).before_sending


def test_connect_timeout_is_before_sending():
    with ConnectTimeoutAddress() as url:
        exc = _raised(url)
    assert isinstance(exc, requests.exceptions.ConnectTimeout)
    assert classify_transport_failure(exc).before_sending


def test_dns_failure_is_before_sending():
    failure = classify_transport_failure(_raised(DNS_FAILURE_URL))
    assert failure == (True, "the host name could not be resolved")


def test_unreachable_proxy_is_before_sending():
    exc = _raised("http://127.0.0.1:9", proxies={"http": refused_url()})
    assert isinstance(exc, requests.exceptions.ProxyError)
    assert classify_transport_failure(exc).before_sending


@pytest.fixture
def plain_http_reply():
    """A server that answers anything with a plain-text HTTP reply at once."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_failed_tls_handshake_is_before_sending(plain_http_reply):
    exc = _raised(plain_http_reply)
    assert isinstance(exc, requests.exceptions.SSLError)
    assert classify_transport_failure(exc) == (True, "the TLS handshake failed")


def test_tls_handshake_that_times_out_is_before_sending():
    silent = socket.socket()  # the kernel accepts the connection; nobody ever answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    try:
        exc = _raised(f"https://127.0.0.1:{silent.getsockname()[1]}")
    finally:
        silent.close()
    assert isinstance(exc, requests.exceptions.ReadTimeout)  # so urllib3 reports it
    assert classify_transport_failure(exc) == (True, "the TLS handshake failed")


def test_certificate_that_does_not_verify_is_before_sending():
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc = requests.exceptions.SSLError(u3.MaxRetryError(None, "/", reason=u3.SSLError(cause)))  # type: ignore[arg-type]
    assert classify_transport_failure(exc).before_sending


def test_refused_connect_decides_over_the_os_error_inside_it():
    inner = u3.NewConnectionError(None, "Failed to establish a new connection")  # type: ignore[arg-type]
    inner.__context__ = ConnectionResetError(104, "reset during the handshake")
    exc = requests.exceptions.ConnectionError(u3.MaxRetryError(None, "/", reason=inner))  # type: ignore[arg-type]
    assert classify_transport_failure(exc).before_sending


# --- after sending: everything else ---------------------------------------------------------
@pytest.mark.parametrize("fault, raised, kind", [
    # requests wraps the stalled body's ReadTimeoutError in a ConnectionError (finding 2)
    ("stall_body", requests.exceptions.ConnectionError, "read timed out"),
    ("trickle_headers_then_stall", requests.exceptions.ReadTimeout, "read timed out"),
    ("reset_after_read", requests.exceptions.ConnectionError,
     "the connection broke after the request was sent"),
    ("truncated_chunked", requests.exceptions.ChunkedEncodingError, "the reply was cut off"),
    ("truncated_length", requests.exceptions.ChunkedEncodingError, "the reply was cut off"),
])
def test_failures_after_the_request_was_read_are_after_sending(fault, raised, kind):
    exc = _wire(fault)
    assert type(exc) is raised
    assert classify_transport_failure(exc) == (False, kind)


@pytest.mark.parametrize("exc", [
    requests.exceptions.ContentDecodingError(u3.DecodeError("bad gzip")),
    requests.exceptions.ConnectionError(u3.ProtocolError(
        "Connection aborted.", http.client.RemoteDisconnected("closed"))),
    requests.exceptions.ConnectionError(ConnectionResetError(104, "reset")),
    # an SSL error that is not the handshake's: mid-reply
    requests.exceptions.SSLError(u3.SSLError(ssl.SSLError(1, "bad record mac"))),
    # a reason we do not know, inside MaxRetryError (a RequestError: a PoolError subclass)
    requests.exceptions.ConnectionError(u3.MaxRetryError(None, "/", reason=ValueError("?"))),  # type: ignore[arg-type]
    requests.exceptions.RequestException("something new"),
], ids=["decode", "aborted", "reset", "ssl-mid-reply", "unknown-reason", "unknown"])
def test_anything_not_proven_unsent_is_after_sending(exc):
    assert not classify_transport_failure(exc).before_sending


# --- the helper -----------------------------------------------------------------------------
def _client(url: str, **kw) -> HttpClient:  # type: ignore[no-untyped-def]
    return HttpClient(base_url=url, timeout=TIMEOUT, rate_scope=None, **kw)


@pytest.mark.parametrize("idempotent, error", [
    (False, ProviderOutcomeUnknown), (True, ProviderUnavailable)])
def test_stalled_body_is_unknown_for_a_create_and_retryable_for_a_read(idempotent, error):
    with WireProvider(fault="stall_body", stall=1.0) as server, pytest.raises(error) as raised:
        _client(server.url).request("POST", "/orders", operation="place_order",
                                    idempotent=idempotent, json={})
    assert type(raised.value) is error
    assert "read timed out" in str(raised.value)


def test_refused_is_unavailable_even_for_a_create_and_its_reason_shows_no_query():
    client = _client(refused_url(), params={"apiKey": "canary-key-123"})
    with pytest.raises(ProviderUnavailable) as raised:
        client.request("POST", "/orders", operation="place_order", idempotent=False, json={})
    reason = str(raised.value)
    assert "nothing was sent" in reason
    assert "canary-key-123" not in reason and "?" not in reason and "127.0.0.1" not in reason


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("auth", ["basic", "bearer", "header"])
def test_a_redirect_is_never_followed_and_sends_the_other_host_nothing(status, auth):
    options = {"basic": {"auth": ("user", "pw-secret")},
               "bearer": {"headers": {"Authorization": "Bearer tok-secret"}},
               "header": {"headers": {"X-Api-Client-Id": "key-secret"}}}[auth]
    with WireProvider(host="127.0.0.2") as elsewhere, WireProvider(
            fault=f"redirect_{status}") as server:
        server.redirect_to = f"{elsewhere.url}/take/it?token=abc-secret"
        client = _client(server.url, **options)
        for idempotent in (False, True):
            with pytest.raises((ProviderOutcomeUnknown, ProviderRejected)) as raised:
                client.request("POST", "/orders", operation="place_order",
                               idempotent=idempotent, json={"card": "4111"})
            error = raised.value
            assert isinstance(error, ProviderRejected if idempotent else ProviderOutcomeUnknown)
            assert not error.retryable and error.code == "redirect"
            assert error.http_status == status
            assert f"HTTP {status} redirect to 127.0.0.2:" in str(error)
            assert "do not follow redirects" in str(error)
            assert "abc-secret" not in str(error) and "/take/it" not in str(error)
    assert elsewhere.requests == []
    assert server.creates_received == 2


def test_the_session_refuses_to_follow_even_when_asked():
    with WireProvider(host="127.0.0.2") as elsewhere, WireProvider(fault="redirect_302") as server:
        server.redirect_to = elsewhere.url + "/orders"
        response = ProviderSession().post(server.url + "/orders", json={}, timeout=TIMEOUT,
                                          allow_redirects=True)
    assert response.status_code == 302 and response.history == []
    assert elsewhere.requests == []


@pytest.mark.parametrize("location, shown", [
    ("/v2/orders?apiKey=s3cret", "HTTP 301 redirect to provider.example.test;"),
    ("https://user:pw@other.example.test:8443/x?token=s3cret", "to other.example.test:8443;"),
    ("http://[broken:port/x?token=s3cret", "HTTP 301 redirect; provider"),
    ("", "HTTP 301 redirect to provider.example.test;"),
])
def test_a_redirect_reason_names_the_host_only(location, shown):
    response = requests.Response()
    response.status_code = 301
    response.url = "https://provider.example.test/v1/orders?apiKey=s3cret"
    response.headers["Location"] = location
    error = redirect_error(response, operation="fetch_order", idempotent=True)
    assert shown in str(error)
    assert "s3cret" not in str(error) and "pw" not in str(error) and "?" not in str(error)
