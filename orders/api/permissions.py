from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from orders.models import TRANSITION_PERMISSION


class OrderWritePermission(BasePermission):
    """Anyone authenticated reads (what their scope allows); changing orders needs the
    transition permission (operators and integrations have it)."""

    message = "You do not have permission to change orders (read-only access)."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or request.user.has_perm(TRANSITION_PERMISSION)
