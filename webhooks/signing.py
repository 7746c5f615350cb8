"""Signing of webhook bodies: HMAC-SHA256 over ``"<timestamp>.<body>"`` with the
subscription's secret, sent as ``Dropdesk-Signature: t=<timestamp>,v1=<hex digest>``.

Receivers recompute the digest over the raw body they received, compare in constant time and
refuse a timestamp older than a few minutes (replays). ``signature_verify`` is the reference
implementation the README's snippet mirrors.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "Dropdesk-Signature"
EVENT_ID_HEADER = "Dropdesk-Event-Id"
EVENT_TYPE_HEADER = "Dropdesk-Event-Type"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature_digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},v1={signature_digest(secret, stamp, body)}"


def signature_verify(secret: str, header: str, body: bytes, *, tolerance: int = 300,
                     now: float | None = None) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature_digest(secret, stamp, body))
