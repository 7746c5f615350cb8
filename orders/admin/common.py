"""Helpers shared by the order admins: badges, CSV cells, after-commit transitions, form extensions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import (
    HttpRequest,
)
from django.utils.html import format_html
from django.utils.translation import gettext_lazy


def state_badge(obj: Any) -> str:
    """The state as a badge; its colour comes from static/dropdesk/admin.css (.dd-state-*)."""
    return format_html('<span class="dd-badge dd-state-{}">{}</span>', obj.state,
                       obj.get_state_display())


def pretty_json(value: Any) -> str:
    return format_html(
        '<details><summary>show</summary><pre style="white-space:pre-wrap">{}</pre></details>',
        json.dumps(value, indent=2, sort_keys=True, default=str),
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_safe(value: Any) -> Any:
    """Keep spreadsheets from running cell text as formulas."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


CSV_COLUMNS = [
    ("reference", "reference"), ("state", "state"), ("raw_status", "raw_status"),
    ("provider", "merchant__account__provider"), ("merchant", "merchant__name"),
    ("external_id", "external_id"), ("contact_name", "contact_name"),
    ("contact_email", "contact_email"), ("country", "country"), ("currency", "currency"),
    ("total", "total"), ("created_at", "created_at"), ("placed_at", "placed_at"),
    ("failure_reason", "failure_reason"),
]


class RunTransitionsPermissionMixin:
    """The one admin permission name (``run_transitions``) for every action, button and page
    that moves orders or items: ``orders.run_order_transitions``."""

    def has_run_transitions_permission(self, request: HttpRequest) -> bool:
        from ..models import TRANSITION_PERMISSION

        return bool(request.user.has_perm(TRANSITION_PERMISSION))


class TransitionAfterCommitMixin:
    """Run the change form's provider calls after the admin's form transaction committed.

    Django's change form saves inside ``transaction.atomic``; django-fsm's ``response_change``
    ran the transition inside it too (and the item inline of a provider-side draft added and
    removed items there), so the provider call happened with the write lock held and the
    `placing` claim uncommitted — on SQLite the demo sandboxes (served by this same process)
    could not write and the call failed. The form is still saved atomically; the provider
    work is queued with ``run_after_form_commit`` and runs once that block is closed.
    """

    def run_after_form_commit(self, request: HttpRequest, work: Any) -> None:
        queue = getattr(request, "_dd_after_commit", None)
        if queue is None:
            work()  # not inside the change form: nothing to wait for
        else:
            queue.append(work)

    def response_change(self, request: HttpRequest, obj: Any) -> Any:
        if (request.POST.get(self.fsm_post_param)  # type: ignore[attr-defined]
                and getattr(request, "_dd_after_commit", None) is not None):
            return None  # changeform_view runs the transition after the commit
        return super().response_change(request, obj)  # type: ignore[misc]

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        queue: list[Any] = []
        request._dd_after_commit = queue  # type: ignore[attr-defined]
        try:
            response = super().changeform_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context)
        finally:
            request._dd_after_commit = None  # type: ignore[attr-defined]
        for work in queue:
            work()
        if response is None:  # a transition button: the form saved, now the transition
            obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
            return self.response_change(request, obj)
        return response


# --- panels other apps add to the order page (e.g. the pipeline's supplier orders) ------------
ORDER_PAGE_PANELS: list[Callable[[Any], Any]] = []


def order_page_panel_register(panel: Callable[[Any], Any]) -> None:
    """``panel(order)`` returns HTML for the order page (or None); it is shown under the
    header, in the order of registration. Keeps orders free of imports of the apps built on it."""
    if panel not in ORDER_PAGE_PANELS:
        ORDER_PAGE_PANELS.append(panel)


# --- provider form extensions (e.g. the Brandsdistribution carrier choice) ------------------
# provider key -> object with ``title``, ``field_names`` and ``extend(form_class, order)``
# returning a form class that adds those (non-model) fields and folds them into the order
# (e.g. into ``provider_options``). Used on editable (draft) orders only.
ORDER_FORM_EXTENSIONS: dict[str, Any] = {}


def order_form_extension_register(provider: str, extension: Any) -> None:
    ORDER_FORM_EXTENSIONS[provider] = extension


def _order_form_extension(obj: Any) -> Any:
    if obj is None or not getattr(obj, "is_editable", False):
        return None
    return ORDER_FORM_EXTENSIONS.get(obj.merchant.account.provider)


class OperatorWordsMixin:
    """django-fsm-2's admin messages name the method ("FSM transition 'cancel' is not
    allowed"); these say it in the operator's words (the button's label)."""

    fsm_transition_success_msg = gettext_lazy("Done.")
    fsm_transition_error_msg = gettext_lazy("That did not work: {error}.")
    fsm_transition_not_allowed_msg = gettext_lazy("This action is not possible for this order now.")
