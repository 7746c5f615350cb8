"""The order admin's buttons that call the provider: checked now, queued for the worker
(``orders.dispatch``); the order page refreshes itself and shows the outcome."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from .. import dispatch, labels, selectors
from ..errors import OrderActionRefused

QUEUED = "this page shows the outcome when the worker is done."


def dispatched_message(result: dispatch.Dispatched) -> str:
    return f"{result.message}; {QUEUED}" if result.queued else result.message


class OrderCommandsMixin:
    """Needs ``message_user``, ``_refuse_unless_operator`` and ``_order_or_404`` (OrderAdmin)."""

    message_user: Any
    _refuse_unless_operator: Any
    _order_or_404: Any

    # Transition buttons run through dispatch, never the bare model method: the ones that
    # call the provider are queued for the worker, the others run at once.
    def _apply_fsm_transition(self, *, obj: Any, transition_name: str, request: HttpRequest,
                              kwargs: Any = None) -> bool:
        try:
            result = dispatch.order_transition_enqueue(
                order=obj, name=transition_name, actor=request.user, payload=kwargs or {})
        except OrderActionRefused as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return False
        if result.queued:
            self.message_user(request, dispatched_message(result), messages.SUCCESS)
            return True
        obj.refresh_from_db()
        level = messages.WARNING if obj.failure_reason else messages.SUCCESS
        self.message_user(
            request,
            f"{obj.reference}: {labels.action_label(transition_name)} — now {obj.get_state_display()}"
            + (f" — {obj.failure_reason}" if obj.failure_reason else ""),
            level,
        )
        return True

    def acknowledge_items_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Acknowledge every item the provider lets us acknowledge (one provider call, queued)."""
        self._refuse_unless_operator(request)
        order = self._order_or_404(request, object_id)
        items = selectors.order_items_acknowledgeable(order=order)
        try:
            result = dispatch.order_items_status_enqueue(
                order=order, items=items, transition_name="acknowledge", actor=request.user)
        except OrderActionRefused as exc:
            self.message_user(request, f"Not acknowledged: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"{len(items)} item(s): {dispatched_message(result)}",
                              messages.SUCCESS)
        return redirect("admin:orders_order_change", order.pk)
