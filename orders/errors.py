from __future__ import annotations


class OrderActionRefused(Exception):
    """A business verb cannot run now. ``message`` says why, for people."""

    def __init__(self, message: str, *, allowed: list[str] | None = None, code: str = "refused"):
        super().__init__(message)
        self.message = message
        self.allowed = allowed or []
        self.code = code


class OrderValidationError(OrderActionRefused):
    """The order's data is not acceptable (field -> problem)."""

    def __init__(self, message: str, *, fields: dict[str, str]):
        super().__init__(message, code="invalid")
        self.fields = fields
