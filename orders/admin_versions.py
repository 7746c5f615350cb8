"""The order change form carries the version it was based on (issue 21, finding 9).

The form renders ``_base_version`` (``orders.versions``); on save the order is read under its
row lock and compared. When it moved meanwhile (the worker placed it, someone edited it or its
items), nothing is saved — neither the order nor its inlines — and the page answers 409 with a
plain message saying what changed and the operator's input shown back: field by field next to
the current value, the item rows they sent, and (while the order is still editable) a button
that submits the same input again on top of the current version.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from .models import Order
from .versions import object_version, object_version_conflict

ITEM_FIELDS = ("name", "product_id", "sku", "quantity", "unit_price")
_NOT_RESENT = ("csrfmiddlewaretoken", "_base_version")


class VersionConflict(Exception):
    def __init__(self, obj: Any, message: str) -> None:
        super().__init__(message)
        self.obj = obj
        self.message = message


class VersionedChangeFormMixin:
    """For the order, item and shipment admins: the base version on the form, the check on
    save."""

    version_conflict_template = "admin/orders/order/version_conflict.html"

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = dict(extra_context or {})
        if request.method == "POST" and "_base_version" in request.POST:
            context["base_version"] = request.POST["_base_version"]  # still the user's base
        elif str(object_id).isdigit():
            obj = self.model.objects.filter(pk=int(object_id)).first()  # type: ignore[attr-defined]
            context["base_version"] = object_version(obj) if obj is not None else ""
        return super().change_view(  # type: ignore[misc, no-any-return]
            request, object_id, form_url, extra_context=context)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        check = (request.method == "POST" and object_id is not None
                 and "_base_version" in request.POST)
        request._dd_version_check = check  # type: ignore[attr-defined]
        try:
            return super().changeform_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context)
        except VersionConflict as conflict:
            return self.version_conflict_response(request, conflict)
        finally:
            request._dd_version_check = False  # type: ignore[attr-defined]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None
                   ) -> Any:
        if getattr(request, "_dd_version_check", False) and str(object_id).isdigit():
            request._dd_version_check = False  # type: ignore[attr-defined]  # once per save
            # inside the change form's transaction: the row stays locked until it commits
            model = self.model  # type: ignore[attr-defined]
            locked = (model.objects.select_for_update(of=("self",))
                      .filter(pk=int(object_id)).first())
            if locked is not None and transaction.get_connection().in_atomic_block:
                message = object_version_conflict(obj=locked,
                                                  base=request.POST.get("_base_version") or "-")
                if message:
                    raise VersionConflict(locked, message)
        return super().get_object(request, object_id, from_field)  # type: ignore[misc]

    def version_conflict_response(self, request: HttpRequest,
                                  conflict: VersionConflict) -> HttpResponse:
        model = self.model  # type: ignore[attr-defined]
        current = model.objects.get(pk=conflict.obj.pk)
        order = current if isinstance(current, Order) else current.order
        opts = model._meta
        post = request.POST
        fields = []
        for name in post:
            if name.startswith(("_", "csrf")) or "-" in name:  # inline rows: below
                continue
            try:
                label = str(opts.get_field(name).verbose_name)
                now = getattr(current, name)
            except Exception:  # a form-only field (a provider extension)
                label, now = name.replace("_", " "), ""
            yours = post.get(name, "")
            fields.append({"name": name, "label": label[:1].upper() + label[1:], "yours": yours,
                           "now": "" if now is None else str(now),
                           "differs": str(yours) != ("" if now is None else str(now))})
        items = []
        try:
            total = int(post.get("items-TOTAL_FORMS", "0"))
        except ValueError:
            total = 0
        for index in range(min(total, 1000)):
            row: dict[str, Any] = {f: post.get(f"items-{index}-{f}", "") for f in ITEM_FIELDS}
            row["deleted"] = bool(post.get(f"items-{index}-DELETE"))
            row["new"] = not post.get(f"items-{index}-id")
            if any(row[f] for f in ITEM_FIELDS):
                items.append(row)
        editable = order.is_editable if isinstance(current, Order) else True
        resend = ([(k, v) for k in post for v in post.getlist(k)
                   if k not in _NOT_RESENT and not k.startswith("_fsmtransition")]
                  if editable else [])
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": opts,
            "original": current,
            "title": f"{current}: your changes were not saved",
            "message": conflict.message,
            "fields": fields,
            "items": items,
            "resend": resend,
            "base_version": object_version(current),
            "change_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_change",
                                  args=[current.pk]),
        }
        return TemplateResponse(request, self.version_conflict_template, context, status=409)
