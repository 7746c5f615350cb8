"""Was the request sent? The one rule that decides how a transport failure is classed.

A failure is *before sending* only when the exception chain proves the request never left:
no connection could be made (refused, DNS, connect timeout, the proxy could not be reached,
the TLS handshake failed) or the request could not even be built. Anything else — a read
timeout in any wrapping, a reset or abort after connecting, a cut-off or undecodable reply, a
protocol error, or a failure we do not recognise — counts as *after sending*: for a call that
is not idempotent the provider may have acted on it (outcome unknown, never re-sent).

The decision is made from exception **types** (never from message text), walking the chain
from the outside in — ``MaxRetryError.reason``, exceptions in ``args`` (requests wraps
urllib3's errors that way, e.g. ``ConnectionError(ReadTimeoutError)`` when a body stalls after
the headers), then ``__cause__`` and ``__context__`` — and the first exception whose type is
known decides. Outside-in matters: a refused connect carries an ``OSError`` inside its
``NewConnectionError``, and the ``NewConnectionError`` is what tells. One exception to
"type only": an error raised inside the TLS handshake is before sending whatever its type
(urllib3 reports a handshake that times out as a read timeout); the traceback shows it.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from typing import NamedTuple

import requests
from urllib3 import exceptions as u3


class TransportFailure(NamedTuple):
    before_sending: bool  # True only when the request provably never left
    kind: str  # a short readable description, with no URL or message text in it


# Checked in this order; the first type that matches an exception of the chain decides.
_AFTER = "after"
_BEFORE = "before"
_KNOWN: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str, str], ...] = (
    # requests' own classes (their urllib3 cause may be absent, e.g. in tests or mocks)
    (requests.exceptions.ConnectTimeout, _BEFORE, "could not connect in time"),
    (requests.exceptions.ReadTimeout, _AFTER, "read timed out"),
    (requests.exceptions.ChunkedEncodingError, _AFTER, "the reply was cut off"),
    (requests.exceptions.ContentDecodingError, _AFTER, "the reply could not be decoded"),
    ((requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
      requests.exceptions.InvalidSchema, requests.exceptions.URLRequired,
      requests.exceptions.InvalidHeader, requests.exceptions.InvalidJSONError),
     _BEFORE, "the request could not be built"),
    # urllib3 (NameResolutionError is a NewConnectionError; NewConnectionError a
    # ConnectTimeoutError: the more specific first)
    (u3.NameResolutionError, _BEFORE, "the host name could not be resolved"),
    (u3.NewConnectionError, _BEFORE, "could not connect"),
    (u3.ConnectTimeoutError, _BEFORE, "could not connect in time"),
    (u3.ProxyError, _BEFORE, "could not reach the proxy"),
    ((u3.LocationValueError, u3.ClosedPoolError, u3.EmptyPoolError), _BEFORE,
     "the request could not be sent"),
    (u3.ReadTimeoutError, _AFTER, "read timed out"),
    (u3.DecodeError, _AFTER, "the reply could not be decoded"),
    (u3.ProtocolError, _AFTER, "the connection broke after the request was sent"),
    # the standard library, when no urllib3 wrapper says more
    (socket.gaierror, _BEFORE, "the host name could not be resolved"),
    (ConnectionRefusedError, _BEFORE, "connection refused"),
    (http.client.HTTPException, _AFTER, "the reply was broken"),
    ((ConnectionResetError, ConnectionAbortedError, BrokenPipeError), _AFTER,
     "the connection was reset after the request was sent"),
)


def classify_transport_failure(exc: BaseException) -> TransportFailure:
    """Before or after sending? See the module docstring for the rule."""
    links = list(_chain(exc))
    if any(_raised_by_tls_handshake(link) for link in links):
        # TLS sends no request byte before the handshake completes (urllib3 reports a
        # handshake that times out as a *read* timeout: the traceback tells)
        return TransportFailure(True, "the TLS handshake failed")
    for link in links:
        if isinstance(link, ssl.SSLError):
            return TransportFailure(False, "the TLS connection broke after the request was sent")
        for types, when, kind in _KNOWN:
            if isinstance(link, types):
                return TransportFailure(when == _BEFORE, kind)
    return TransportFailure(False, f"the request failed ({exc.__class__.__name__})")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception linked to ``exc``, depth-first from the outside in, each once."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        link = stack.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        linked: list[object] = [getattr(link, "reason", None), *link.args,
                                link.__cause__, link.__context__]
        stack.extend(reversed([x for x in linked if isinstance(x, BaseException)]))


def _raised_by_tls_handshake(error: BaseException) -> bool:
    """A certificate that does not verify, or any error raised inside the TLS handshake
    (``ssl.SSLSocket.do_handshake``: a stable name of the standard library)."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return True
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "do_handshake" and tb.tb_frame.f_globals.get(
                "__name__") == "ssl":
            return True
        tb = tb.tb_next
    return False
