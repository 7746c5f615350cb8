"""Template filters in operator words (orders/labels.py is the table behind each)."""

from __future__ import annotations

from typing import Any

from django import template

from orders import labels

register = template.Library()


@register.filter
def state_label(state: str | None) -> str:
    return labels.state_label(state)


@register.filter
def action_label(name: str) -> str:
    return labels.action_label(name)


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None
