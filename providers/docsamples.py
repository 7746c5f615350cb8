"""The providers' documents' own sample requests and replies, as fixture files.

``providers/<key>/fixtures/`` holds the JSON/XML samples copied verbatim from the provider's
document (see each directory's README.md for where each file comes from). The sandboxes build
their replies on them and the contract tests feed them to each mapping, so a misreading of
the document fails a test instead of agreeing with itself.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent


def sample_path(provider: str, name: str) -> Path:
    return ROOT / provider / "fixtures" / name


@cache
def _read(provider: str, name: str) -> bytes:
    return sample_path(provider, name).read_bytes()


def sample_bytes(provider: str, name: str) -> bytes:
    return _read(provider, name)


def sample_json(provider: str, name: str) -> Any:
    """A fresh copy of a JSON sample (callers may change it)."""
    return copy.deepcopy(json.loads(_read(provider, name)))
