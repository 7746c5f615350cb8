"""OpenAPI: every operation documents the error shape for the statuses it can answer, and
every POST documents the ``Idempotency-Key`` header."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from api.errors import ErrorSerializer
from api.query import MAX_ID, spec_for
from api.strict import NO_NUL, NOT_BLANK

IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional, 1-255 printable ASCII characters. Sending the same key again with the same "
        "request replays the first response (header `Idempotent-Replayed: true`); the same key "
        "with a different request answers 409 `idempotency_key_reused`; while the first "
        "request still runs, 409 `idempotency_in_progress`. Keys are kept for "
        "API_IDEMPOTENCY_RETENTION_HOURS (default 24)."
    ),
    pattern=r"^[\x21-\x7e]{1,255}$",
)

ERROR_DESCRIPTIONS = {
    "400": "The request does not match this schema (`invalid` with `fields` naming each "
           "body field or query parameter, or `parse_error`).",
    "401": "Not authenticated.",
    "403": "Authenticated but not allowed (e.g. read-only user).",
    "404": "Not found (or outside the token's merchants); also an id in the body that names "
           "nothing (`not_found` with `fields`).",
    "409": "Well formed, but not possible now: not allowed in this state (`not_allowed` with "
           "`allowed`), the order's data is not ready (`order_invalid` with `fields`), a "
           "conflict with stored data (`conflict`), the provider refused (`provider_rejected` "
           "with `failure_reason`), or the Idempotency-Key is in use or was used for another "
           "request (`idempotency_in_progress`, `idempotency_key_reused`).",
    "415": "Unsupported media type (send application/json).",
    "429": "Throttled (`retry_after` seconds).",
    "500": "A bug on our side (`server_error`): logged with its details, none in the answer.",
    "502": "The provider failed or answered nonsense (`provider_error` with `failure_reason`).",
}


PATH_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}

# Vendor extension naming a model ("app.model"): on a request field that takes ids of it (a
# primary-key relation) and on the list operations of it, so a client (tests/api/fuzz_hooks.py)
# knows which list a field's valid ids come from.
X_MODEL = "x-model"


def _related_model(field: Any) -> str | None:
    if isinstance(field, serializers.ManyRelatedField):
        field = field.child_relation
    if not isinstance(field, serializers.PrimaryKeyRelatedField):
        return None
    queryset = getattr(field, "queryset", None)
    model = getattr(queryset, "model", None)
    return model._meta.label_lower if model is not None else None


def _string_pattern(schema: dict[str, Any]) -> None:
    """Request strings: no NUL (the database cannot store it), and not blank once trimmed
    when blank is refused (DRF trims before checking)."""
    if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
        schema["pattern"] = NOT_BLANK if schema.get("minLength", 0) >= 1 else NO_NUL
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            _string_pattern(sub)


def _takes_blank(schema: dict[str, Any]) -> bool:
    """Does this string schema accept ""?"""
    if schema.get("type") != "string" or schema.get("minLength", 0) > 0 or "enum" in schema:
        return False
    try:
        return re.search(schema.get("pattern", ""), "") is not None
    except re.error:
        return False


def _collapse_blank(schema: Any) -> None:
    """drf-spectacular writes a blank-allowed string as ``oneOf: [string, maxLength 0]``;
    when the string may itself be blank (its pattern takes "": no pattern but "no NUL", a
    credential's printable ASCII, a URL's ``…|^$``), "" matches both (and oneOf refuses it):
    one schema."""
    if isinstance(schema, list):
        for item in schema:
            _collapse_blank(item)
        return
    if not isinstance(schema, dict):
        return
    options = schema.get("oneOf", [])
    if (len(options) == 2 and options[1] == {"type": "string", "maxLength": 0}
            and _takes_blank(options[0])):
        schema.pop("oneOf")
        schema.update(options[0])
    for value in schema.values():
        _collapse_blank(value)


class ApiAutoSchema(AutoSchema):
    def _is_api(self) -> bool:
        return self.path.startswith("/api/v1/")

    # --- parameters: the same specification the server parses with -------------------------
    def _resolve_path_parameters(self, variables: Any) -> Any:
        from django.db import models
        from drf_spectacular.plumbing import get_view_model

        params = super()._resolve_path_parameters(variables)
        model = get_view_model(self.view, emit_warnings=False)
        pk = model._meta.pk if model is not None else None
        for param in params:
            if param["name"].endswith("_pk") or (
                    param["name"] == "id" and isinstance(pk, models.AutoField | models.IntegerField)):
                param["schema"] = dict(PATH_ID)  # SafeLookupMixin: anything else is a 404
            elif param["name"] == "id" and isinstance(pk, models.UUIDField):
                param["schema"] = {"type": "string", "format": "uuid"}
        return params

    def _get_filter_parameters(self) -> Any:
        if not self._is_api():
            return super()._get_filter_parameters()
        if not self._is_list_view() or getattr(self.view, "detail", False):
            return []
        return spec_for(self.view).filter_parameters()

    def _get_pagination_parameters(self) -> Any:
        if not self._is_api():
            return super()._get_pagination_parameters()
        if not self._is_list_view() or getattr(self.view, "detail", False):
            return []
        return spec_for(self.view).pagination_parameters()

    # --- request bodies: exactly what the serializers accept --------------------------------
    def _get_request_for_media_type(self, serializer: Any, direction: Any = "request") -> Any:
        schema, required = super()._get_request_for_media_type(serializer, direction)
        if getattr(serializer, "openapi_body_required", False):  # combinations require a field
            required = True
        return schema, required

    def _map_serializer_field(self, field: Any, direction: Any,
                              bypass_extensions: bool = False) -> Any:
        if direction == "request" and hasattr(field, "openapi_schema"):
            schema = field.openapi_schema()
            if field.help_text:
                schema["description"] = str(field.help_text)
            return schema
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(schema, dict):
            # A validator function states its rule for the schema with an ``openapi_schema``
            # attribute (e.g. ``{"enum": [...]}`` for a country code): one source of truth.
            for validator in getattr(field, "validators", []):
                extra = getattr(validator, "openapi_schema", None)
                if isinstance(extra, dict):
                    schema.update(extra)
            _string_pattern(schema)
            if isinstance(field, serializers.PrimaryKeyRelatedField) and (
                schema.get("type") == "integer"
            ):
                schema.update(minimum=1, maximum=MAX_ID)
            related = _related_model(field)
            if related is not None:
                schema[X_MODEL] = related  # which collection's ids it takes (fuzz_hooks)
        return schema

    def _map_serializer(self, serializer: Any, direction: Any,
                        bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction != "request" or "properties" not in schema:
            return schema
        from .serializers import StrictSerializerMixin

        kind = serializer if isinstance(serializer, type) else type(serializer)
        if issubclass(kind, StrictSerializerMixin):
            schema.setdefault("additionalProperties", False)  # unknown fields: 400
        _collapse_blank(schema)
        if hasattr(serializer, "openapi_refine"):  # combinations its validate() enforces
            schema = serializer.openapi_refine(schema)
        return schema

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if (operation and self._is_api() and self.method == "GET" and self._is_list_view()
                and not getattr(self.view, "detail", False)):
            from drf_spectacular.plumbing import get_view_model

            model = get_view_model(self.view, emit_warnings=False)
            if model is not None:  # the model of its rows: what an x-model field refers to
                operation[X_MODEL] = model._meta.label_lower
        return operation

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        if self._is_api() and self.method == "POST":
            params.append(IDEMPOTENCY_KEY)
        return params

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        if direction != "response" or not self._is_api():
            return responses
        codes = ["400", "401", "403", "404", "429", "500"]
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            codes += ["409", "415", "502"]
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses


# --- links: from the operations that create or list objects to those that use their ids -----
_LINKED_STATUSES = ("201", "200", "202")


def _variables(path: str) -> list[str]:
    import re

    return re.findall(r"{(\w+)}", path)


def _link_targets(paths: dict[str, Any], collection: str) -> list[tuple[str, str, str]]:
    """(path, method, new variable) of the operations one level of ids under ``collection``."""
    import re

    out = []
    for path, ops in paths.items():
        match = re.match(re.escape(collection) + r"{(\w+)}/", path)
        if match and path.count("{") == collection.count("{") + 1:
            out += [(path, method, match.group(1)) for method in ops if method != "parameters"]
    return out


def _nullable_to_31(schema: Any) -> None:
    """OpenAPI 3.1 has no ``nullable``: ``type: [X, "null"]`` (what pagination emits)."""
    if isinstance(schema, list):
        for item in schema:
            _nullable_to_31(item)
    elif isinstance(schema, dict):
        if schema.get("nullable") is True and isinstance(schema.get("type"), str):
            schema.pop("nullable")
            schema["type"] = [schema["type"], "null"]
        if {} in schema.get("oneOf", []):  # "anything, or null": anything (oneOf refuses null)
            schema.pop("oneOf")
        for value in schema.values():
            _nullable_to_31(value)


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> Any:
    """OpenAPI links, so a client (and stateful testing) follows real ids: each create links
    to the operations on what it created; each list to the operations on its first row; an
    order's new shipment to the shipment."""
    _nullable_to_31(result)
    paths = result.get("paths", {})
    for path, ops in paths.items():
        for method, op in ops.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            creates = method == "post" and "201" in op["responses"]
            lists = method == "get" and not path.endswith("}/") and "200" in op["responses"]
            if not (creates or lists):
                continue
            source = "$response.body#/id" if creates else "$response.body#/results/0/id"
            if lists and "Paginated" not in json_dumps(op["responses"]["200"]):
                source = "$response.body#/0/id"
            targets = _link_targets(paths, path)
            if creates and path.endswith("/shipments/"):
                targets += [(p, "get", "id") for p in paths if p == "/api/v1/shipments/{id}/"]
            links = {}
            for target, target_method, variable in targets:
                target_op = paths[target][target_method]
                parameters = {v: f"$request.path.{v}" for v in _variables(path)}
                if target.startswith(path):
                    parameters[variable] = source
                else:
                    parameters = {variable: source}
                links[target_op["operationId"]] = {
                    "operationId": target_op["operationId"], "parameters": parameters,
                    "description": f"{target_method.upper()} {target} with this id.",
                }
            if links:
                code = "201" if creates else "200"
                op["responses"][code].setdefault("links", {}).update(links)
    _add_transition_links(paths)
    _add_item_status_links(paths)
    return result


def _add_item_status_links(paths: dict[str, Any]) -> None:
    """The order's items (listed or just added) to a status change of those items."""
    target = paths.get("/api/v1/orders/{id}/items/status/", {}).get("post")
    items = paths.get("/api/v1/orders/{id}/items/", {})
    if not target:
        return
    for method, code, pointer in (("get", "200", "/0/id"), ("post", "201", "/id")):
        op = items.get(method)
        if op and code in op["responses"]:
            op["responses"][code].setdefault("links", {})[target["operationId"]] = {
                "operationId": target["operationId"],
                "parameters": {"id": "$request.path.id"},
                "requestBody": {"items": [f"$response.body#{pointer}"]},
                "description": "Change the status of this item.",
            }


def _add_transition_links(paths: dict[str, Any]) -> None:
    """After a transition (or sync), the order's other transitions: an order's life is a
    chain (place, hold, release, ship, complete; cancel, reopen, reconcile)."""
    prefix = "/api/v1/orders/{id}/"
    ops = [(path, op) for path, path_ops in paths.items() if path.startswith(prefix)
           for method, op in path_ops.items()
           if method == "post" and ("/transitions/" in path or path.endswith("/sync/"))]
    detail = paths.get(prefix, {}).get("get")
    for _path, op in ops:
        code = next((c for c in ("200", "202") if c in op["responses"]), None)
        if code is None:
            continue
        targets = [target for _p, target in ops if target is not op]
        if detail:
            targets.append(detail)
        op["responses"][code].setdefault("links", {}).update({
            target["operationId"]: {"operationId": target["operationId"],
                                    "parameters": {"id": "$request.path.id"}}
            for target in targets
        })


def json_dumps(value: Any) -> str:
    import json

    return json.dumps(value)
