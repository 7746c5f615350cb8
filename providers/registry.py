"""Provider registry: the only way the domain reaches a provider."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from .http import Recorder

if TYPE_CHECKING:
    from providers.types import AccountConfig

    from .base import ProviderService

logger = logging.getLogger(__name__)

PROVIDER_CHOICES = [
    ("aliseeks", "Aliseeks (AliExpress)"),
    ("brandsdistribution", "Brandsdistribution"),
    ("reseller", "White-label reseller v3"),
    ("tipser", "Tipser"),
]

_registry: dict[str, type[ProviderService]] = {}


def register(cls: type[ProviderService]) -> type[ProviderService]:
    _registry[cls.key] = cls
    return cls


def unregister(key: str) -> None:
    _registry.pop(key, None)


def autodiscover() -> None:
    for key, _ in PROVIDER_CHOICES:
        try:
            importlib.import_module(f"providers.{key}.service")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"providers.{key}", f"providers.{key}.service"):
                raise


def provider_choices() -> list[tuple[str, str]]:
    """Known providers: the product's four, plus any other registered service."""
    known = dict(PROVIDER_CHOICES)
    for key, cls in _registry.items():
        known.setdefault(key, getattr(cls, "label", key))
    return list(known.items())


def provider_label(key: str) -> str:
    return dict(provider_choices()).get(key, key)


def get(key: str) -> type[ProviderService] | None:
    return _registry.get(key)


def all_services() -> dict[str, type[ProviderService]]:
    return dict(_registry)


def service_class(key: str) -> type[ProviderService]:
    from .errors import ProviderNotSupported

    cls = _registry.get(key)
    if cls is None:
        raise ProviderNotSupported(f"No provider integration is installed for '{key}'.")
    return cls


def service_for(account: AccountConfig, *, recorder: Recorder | None = None) -> ProviderService:
    return service_class(account.provider)(account, recorder=recorder)
