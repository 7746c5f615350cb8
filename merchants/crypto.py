"""Encryption at rest for provider credentials (Fernet; key rotation with MultiFernet).

``FIELD_ENCRYPTION_KEY`` is a comma-separated list of Fernet keys: the first encrypts, all
decrypt. ``manage.py rotate_encryption_key`` re-encrypts every stored value with the first key
so the others can be removed (README, "Security").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.redaction import register_secret

KEY_SETTING = "FIELD_ENCRYPTION_KEY"


class CredentialsUnreadable(ImproperlyConfigured):
    """A stored value cannot be decrypted with the configured keys (or the keys are malformed)."""


def configured_keys() -> list[str]:
    value = settings.FIELD_ENCRYPTION_KEY
    if isinstance(value, str):  # a plain string in a settings override
        value = value.split(",")
    return [str(k).strip() for k in value or [] if str(k).strip()]


def key_problems(keys: list[str] | None = None) -> list[str]:
    """One line per configured key that is not a Fernet key (never the key itself)."""
    problems = []
    for position, key in enumerate(configured_keys() if keys is None else keys, start=1):
        try:
            raw = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            problems.append(f"{KEY_SETTING} key #{position} is not urlsafe base64.")
            continue
        if len(raw) != 32:
            problems.append(
                f"{KEY_SETTING} key #{position} decodes to {len(raw)} bytes; a Fernet key is 32."
            )
    return problems


def _keys() -> list[bytes]:
    configured = configured_keys()
    if configured:
        return [k.encode() for k in configured]
    # No key configured: derive one from SECRET_KEY so a fresh machine works; the deploy
    # check (merchants.checks) insists on a real FIELD_ENCRYPTION_KEY in production.
    digest = hashlib.sha256(b"dropdesk-field-encryption:" + settings.SECRET_KEY.encode()).digest()
    return [base64.urlsafe_b64encode(digest)]


@lru_cache(maxsize=4)
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    register_secret(*(k.decode(errors="replace") for k in keys))  # never shown, never logged
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, binascii.Error) as exc:
        raise CredentialsUnreadable(
            f"{KEY_SETTING} must be urlsafe-base64 32-byte Fernet keys, comma separated"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(_keys()))


def encrypt_json(value: Any) -> str:
    return fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> Any:
    # A fresh object every time (callers may change it); the decryption itself is cached, as a
    # list of 100 orders joined to one account would otherwise decrypt the same token 100 times.
    return json.loads(_decrypt(token, tuple(_keys())))


def rotate(token: str) -> str:
    """``token`` re-encrypted with the first configured key (``MultiFernet.rotate``)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable(
            f"A stored value cannot be decrypted with any key of {KEY_SETTING}."
        ) from None


@lru_cache(maxsize=512)
def _decrypt(token: str, keys: tuple[bytes, ...]) -> bytes:
    try:
        return _fernet(keys).decrypt(token.encode())
    except InvalidToken:
        # ``from None``: the chained error would carry the key material in a debug page's frames
        raise CredentialsUnreadable(
            f"Stored credentials cannot be decrypted with {KEY_SETTING} "
            "(was the key changed without keeping the old one?)"
        ) from None
