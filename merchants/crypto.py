"""Encryption at rest for provider credentials (Fernet; key rotation with MultiFernet)."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _keys() -> list[bytes]:
    configured = [k.strip() for k in settings.FIELD_ENCRYPTION_KEY if k.strip()]
    if configured:
        return [k.encode() for k in configured]
    # No key configured: derive one from SECRET_KEY so a fresh machine works; the deploy
    # check (merchants.checks) insists on a real FIELD_ENCRYPTION_KEY in production.
    digest = hashlib.sha256(b"dropdesk-field-encryption:" + settings.SECRET_KEY.encode()).digest()
    return [base64.urlsafe_b64encode(digest)]


@lru_cache(maxsize=4)
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be urlsafe-base64 32-byte Fernet keys, comma separated"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(_keys()))


def encrypt_json(value: Any) -> str:
    return fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> Any:
    # A fresh object every time (callers may change it); the decryption itself is cached, as a
    # list of 100 orders joined to one account would otherwise decrypt the same token 100 times.
    return json.loads(_decrypt(token, tuple(_keys())))


@lru_cache(maxsize=512)
def _decrypt(token: str, keys: tuple[bytes, ...]) -> bytes:
    try:
        return _fernet(keys).decrypt(token.encode())
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "Stored credentials cannot be decrypted with FIELD_ENCRYPTION_KEY "
            "(was the key changed without keeping the old one?)"
        ) from exc
