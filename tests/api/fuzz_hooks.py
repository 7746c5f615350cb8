"""schemathesis hooks for the live fuzz run (``tests/api/live_fuzz.py`` loads them through
``SCHEMATHESIS_HOOKS``): generated ids that name objects the seeded server has.

A random id names nothing, so every operation on ``/<collection>/{id}/...`` (and every body
field that refers to another object, e.g. ``merchant``, ``account``, an order's ``items``)
would only ever be answered 404 - schemathesis' "missing test data". For every operation,
from its schema alone (no per-route code, so new routes get it too):

- **path ids**: a path parameter whose value is a valid id is replaced, for three cases out
  of four, by an id listed by the collection it indexes (``/api/v1/orders/{id}/items/{item_pk}/``:
  ``{id}`` from ``GET /api/v1/orders/``, ``{item_pk}`` from ``GET /api/v1/orders/<id>/items/``);
  the fourth keeps the random id, so "not found" is exercised as well;
- **body references**: an integer (or array of integers) body field whose name names a
  collection (``merchant`` -> ``/api/v1/merchants/``, ``items`` / ``item`` -> the order's
  ``items/``, ``sales_account`` -> ``accounts``) or whose schema says which model it refers to
  (``x-model``, written by ``api.schema`` for every primary-key relation, e.g.
  ``supplier`` -> a merchant) gets ids of that collection the same way;
- **state**: where the API lists what can be done to an object (a ``GET`` beside the operation
  whose rows carry ``url``, e.g. ``/orders/{id}/transitions/`` for ``.../transitions/place/``),
  ids whose listing offers this operation come first; and ids an operation answered 409 (not
  possible in its state) a few times are tried last for that operation;
- **reserved for placing** (``PLACE``): the seeded drafts whose reference starts with
  ``PLACE_REFERENCE`` (items, a full address) are the ids of the place transition, and no
  other operation's (a PATCH blanking their address, an item removed, another transition,
  a DELETE would leave place nothing but 409s), and their merchants are not revoked
  (``KEEP_AUTHORIZED``: a revoked merchant places nothing);
- **preconditions no listing shows** (``NEEDS``): the few operations on an order that only
  an order of one provider, or in one state, can take (custom fields, item characteristics and
  execution status at a reseller v3 provider; a lookup of a ``placement_unknown`` order) take
  their ids from the collection filtered by what they need (a list query, fields that must be
  set); with none such the whole collection.

The choice is a function of the generated value (a hash), so a run stays reproducible for
one seed and one database. Only values that already satisfy their schema are replaced: a
negative case stays negative. In the stateful phase only ids no list knows (a link that
could not be resolved) and reserved ids an operation other than place got are replaced;
other linked ids stay.

``filter_failure`` drops one finding that is not one: use_after_free (ST301) after a DELETE
that answered 202. Such a DELETE is queued (an item of a reseller draft is deleted at the
provider by the worker first; the fuzz server runs none), the resource stays until then and
reads 200, as documented; schemathesis counts any 2xx DELETE as done. A DELETE answered
200/204 is still checked.
Lists are read again after ``CACHE_SECONDS``, so objects created during the run are used.
"""

from __future__ import annotations

import os
import re
import threading
import time
import zlib
from typing import Any
from urllib.parse import urlencode

import requests
import schemathesis

BASE_URL = os.environ.get("DROPDESK_FUZZ_URL", "").rstrip("/")
TOKEN = os.environ.get("DROPDESK_FUZZ_TOKEN", "")
LOG = os.environ.get("DROPDESK_FUZZ_LOG", "")  # a file: every call and its status, to debug
KEEP_RANDOM_ONE_IN = 4  # one case in this many keeps its random id (the "not found" path)
CACHE_SECONDS = 20.0  # generation must stay fast (hypothesis checks it)
KEEP_FOR_OTHERS = 3  # a DELETE takes none of the first ids listed (of a top-level list)
MAX_LIST_PAGES = 5
SCAN = 12  # candidates looked at (readiness, past refusals) before taking any
REFUSALS_TO_AVOID = 2
IDEMPOTENCY_KEY = "Idempotency-Key"
ID_NAME = re.compile(r"^(?:id|pk|.+_(?:id|pk|ids|pks))$")

# Operation path (the part after the collection's id) -> for which path parameter: the list
# query and the row fields that must be non-empty for an id to fit. Only what no listing of the
# API says: the transitions listing already tells which transition an order can take.
# oldest first: the seeded orders at the provider, not the drafts the run itself creates
# (thousands of them, newest first, would fill the pages the hooks look at)
RESELLER_AT_PROVIDER = ({"provider": "reseller", "ordering": "id"}, ("external_id",))
NEEDS: dict[str, dict[str, tuple[dict[str, str], tuple[str, ...]]]] = {
    "/orders/{id}/custom-fields/": {"id": RESELLER_AT_PROVIDER},
    "/orders/{id}/execution-poll/": {"id": RESELLER_AT_PROVIDER},
    "/orders/{id}/items/{item_pk}/characteristics/": {
        "id": RESELLER_AT_PROVIDER, "item_pk": ({}, ("external_id",))},
    "/orders/{id}/lookup/": {"id": ({"provider": "reseller", "state": "placement_unknown"}, ())},
    # only a draft's items can be removed (most have one: a nested DELETE keeps none back)
    "/orders/{id}/items/{item_pk}/": {"id": ({"state": "draft"}, ())},
    # a transition takes orders in a state it starts from: the whole list, newest first, is
    # the run's own drafts (deleted by then, some of them: a run of 404s, no test data)
    **{f"/orders/{{id}}/transitions/{name}/": {"id": ({"state": state}, ())}
       for name, state in (("hold", "placed"), ("release", "on_hold"), ("ship", "placed"),
                           ("complete", "shipped"), ("reconcile", "placement_unknown"),
                           ("reopen", "failed"))},
}

# The place transition takes the seeded drafts kept for it (tests/api/live_fuzz.py), found in
# this listing by their reference; no other operation takes them.
PLACE = "/orders/{id}/transitions/place/"
PLACE_REFERENCE = "FUZZ-PLACE-"
PLACE_LISTING = {"state": "draft", "ordering": "id"}
KEEP_AUTHORIZED = ("/merchants/{id}/revoke/",)  # not for the merchants of those drafts

_lock = threading.RLock()
_session = requests.Session()
_lists: dict[str, tuple[float, list[Any]]] = {}
_offers: dict[str, tuple[float, set[str] | None]] = {}
_refusals: dict[tuple[str, str, str], int] = {}
_accepted_deletes: set[str] = set()  # ids of cases: a DELETE answered 202


# --- the server ------------------------------------------------------------------------------
def _get(path: str) -> Any:
    response = _session.get(BASE_URL + path, timeout=30,
                            headers={"Authorization": f"Token {TOKEN}"})
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def existing_ids(collection: str, query: dict[str, str] | None = None,
                 required: tuple[str, ...] = (), reference: str = "",
                 field: str = "id") -> list[Any]:
    """Ids (or another ``field``) of the rows the (concrete) list path answers (with
    ``query``; rows whose ``required`` fields are all set and whose ``reference`` starts with
    ``reference``), its first pages only; cached briefly."""
    key = repr((collection, sorted((query or {}).items()), required, reference, field))
    with _lock:
        cached = _lists.get(key)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        # a paginated list takes page_size; a plain list refuses unknown parameters (400)
        data = _get(f"{collection}?{urlencode({**(query or {}), 'page_size': '100'})}")
        if data is None:
            data = _get(f"{collection}?{urlencode(query)}" if query else collection)
        ids: list[Any] = []
        for _page in range(MAX_LIST_PAGES):
            rows = data.get("results") if isinstance(data, dict) else data
            if isinstance(rows, list):
                ids += [row[field] for row in rows if isinstance(row, dict) and field in row
                        and all(row.get(field) for field in required)
                        and str(row.get("reference", "")).startswith(reference)]
            following = data.get("next") if isinstance(data, dict) else None
            if not following:
                break
            data = _get(following[len(BASE_URL):] if following.startswith(BASE_URL)
                        else following)
        _lists[key] = (time.monotonic(), ids)
        return ids


def _offered(listing: str) -> set[str] | None:
    """The ``url`` values of a listing's rows (None: the listing has no such rows)."""
    with _lock:
        cached = _offers.get(listing)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        data = _get(listing)
        rows = data.get("results") if isinstance(data, dict) else data
        urls = None
        if isinstance(rows, list) and all(isinstance(r, dict) and "url" in r for r in rows):
            urls = {str(r["url"]) for r in rows}
        _offers[listing] = (time.monotonic(), urls)
        return urls


# --- the schema ------------------------------------------------------------------------------
def _paths(operation: Any) -> dict[str, Any]:
    return operation.schema.raw_schema.get("paths", {})


def _lists_at(operation: Any, template: str) -> bool:
    return "get" in _paths(operation).get(template, {})


def _resolve(operation: Any, schema: Any) -> Any:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        node: Any = operation.schema.raw_schema
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema, seen = node, seen + 1
    return schema


def _model_collections(operation: Any) -> dict[str, str]:
    """``x-model`` of the list operations -> their path (top-level collections only)."""
    out: dict[str, str] = {}
    for path, ops in _paths(operation).items():
        model = ops.get("get", {}).get("x-model")
        if model and "{" not in path:
            out.setdefault(model, path)
    return out


def _fill(template: str, values: dict[str, Any]) -> str | None:
    try:
        return re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), template)
    except KeyError:
        return None


def path_collection(operation: Any, name: str) -> str | None:
    """The list path (template) whose rows the path parameter ``name`` indexes."""
    path = operation.path
    marker = "{" + name + "}"
    if marker not in path:
        return None
    collection = path[: path.index(marker)]
    if _lists_at(operation, collection):
        return collection
    # e.g. /api/v1/pipeline/orders/{id}/ indexes /api/v1/orders/: same last segment
    last = collection.rstrip("/").rsplit("/", 1)[-1]
    for candidate in _paths(operation):
        if "{" not in candidate and candidate.rstrip("/").endswith("/" + last) and (
                _lists_at(operation, candidate)):
            return candidate
    return None


def body_collection(operation: Any, name: str, schema: dict[str, Any]) -> str | None:
    """The list path (template) a body field refers into, from its name or ``x-model``."""
    base = re.sub(r"_(?:id|pk|ids|pks)$", "", name)
    words = [base, base.rsplit("_", 1)[-1]]
    names = [f"{w}s".replace("_", "-") for w in words] + [w.replace("_", "-") for w in words]
    # nested under the object the operation is on (an order's items)
    match = re.match(r"^(.*?/{\w+}/)", operation.path)
    if match:
        for candidate in names:
            if _lists_at(operation, f"{match.group(1)}{candidate}/"):
                return f"{match.group(1)}{candidate}/"
    model = schema.get("x-model") or (_resolve(operation, schema.get("items")) or {}).get("x-model")
    if model and model in _model_collections(operation):
        return _model_collections(operation)[model]
    for candidate in names:
        for path in _paths(operation):
            if "{" not in path and path.rstrip("/").endswith("/" + candidate) and (
                    _lists_at(operation, path)):
                return path
    return None


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def _valid_id(value: Any, schema: dict[str, Any]) -> bool:
    if "integer" in _types(schema) and isinstance(value, str):  # coverage: path values as text
        return value.isdigit() and _valid_id(int(value), schema)
    if "integer" in _types(schema):
        integral = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())  # 3.0 is a JSON integer too
        return integral and schema.get("minimum", value) <= value <= schema.get("maximum", value)
    if schema.get("format") == "uuid":
        return isinstance(value, str) and bool(re.fullmatch(r"[0-9a-fA-F-]{32,36}", value))
    return False


def needs(operation: Any, param: str) -> tuple[dict[str, str], tuple[str, ...]] | None:
    """What an id for the path parameter ``param`` must fit (``NEEDS``), if anything."""
    for suffix, by_param in NEEDS.items():
        if operation.path.endswith(suffix):
            return by_param.get(param)
    return None


def reserved_ids(collection: str, operation: Any = None) -> list[Any]:
    """The ids of ``collection`` kept for the place transition: its drafts (of the orders),
    their merchants (for what would revoke them: ``KEEP_AUTHORIZED``)."""
    if collection.endswith("/orders/"):
        return existing_ids(collection, PLACE_LISTING, reference=PLACE_REFERENCE)
    if collection.endswith("/merchants/") and operation is not None and any(
            operation.path.endswith(suffix) for suffix in KEEP_AUTHORIZED):
        orders = collection[: -len("merchants/")] + "orders/"
        return sorted(set(existing_ids(orders, PLACE_LISTING, reference=PLACE_REFERENCE,
                                       field="merchant")))
    return []


def places(operation: Any, param: str | None) -> bool:
    """Whether ``param`` of ``operation`` is the order the place transition places."""
    return param == "id" and operation.path.endswith(PLACE)


def for_operation(operation: Any, param: str | None, collection: str,
                  ids: list[Any]) -> list[Any]:
    """``ids`` as ``operation`` may take them: the reserved drafts for place (while there are
    any), every other id for everything else."""
    reserved = reserved_ids(collection, operation)
    if places(operation, param):
        return reserved or ids
    kept = {str(i) for i in reserved}
    return [i for i in ids if str(i) not in kept]


def needed_ids(operation: Any, param: str, collection: str) -> list[Any]:
    """Ids of ``collection`` that fit the operation's ``NEEDS`` for ``param`` (none: no need,
    or nothing fits)."""
    need = needs(operation, param)
    return existing_ids(collection, need[0], need[1]) if need else []


# --- choosing --------------------------------------------------------------------------------
def _hash(*parts: Any) -> int:
    return zlib.crc32(repr(parts).encode())


def choose(operation: Any, collection: str, original: Any, key: str, salt: str,
           values: dict[str, Any] | None = None, param: str | None = None) -> Any:
    """An existing id of ``collection`` (a concrete list path) in place of ``original``, or
    ``original`` itself for one case in KEEP_RANDOM_ONE_IN (or when the list is empty).
    ``salt`` (the rest of the case) varies the choice between cases with the same value."""
    seed = _hash(operation.label, key, original, salt)
    if seed % KEEP_RANDOM_ONE_IN == 0:
        return original
    ids = (needed_ids(operation, param, collection) if param else []) or existing_ids(collection)
    ids = for_operation(operation, param, collection, ids)
    if operation.method.lower() == "delete" and param is not None and (
            operation.path.rstrip("/").endswith("{" + param + "}")) and (
            operation.path.index("{") == operation.path.index("{" + param + "}")):
        # what is deleted from a top-level list: the other operations need some left (an
        # order's items: the operations that need one take it from orders that have them)
        ids = ids[KEEP_FOR_OTHERS:]
    if not ids:
        return original
    start = seed // KEEP_RANDOM_ONE_IN
    order = [ids[(start + step) % len(ids)] for step in range(min(len(ids), SCAN))]
    if param is None:
        return order[0]
    offer_listing = None
    if operation.method.lower() != "get":
        parent = operation.path.rstrip("/").rsplit("/", 1)[0] + "/"
        if "{" + param + "}" in parent and _lists_at(operation, parent) and parent != collection:
            offer_listing = parent
    fallback = order[0]
    for candidate in order:
        filled = {**(values or {}), param: candidate}
        if _refusals.get((operation.label, param, str(candidate)), 0) >= REFUSALS_TO_AVOID:
            continue
        if offer_listing is not None:
            listing, target = _fill(offer_listing, filled), _fill(operation.path, filled)
            offered = _offered(listing) if listing else None
            if offered is None:
                offer_listing = None  # this listing does not say what it offers
            elif target not in offered:
                continue
        return candidate
    return fallback


def _substitute_body(operation: Any, schema: Any, value: Any, path_values: dict[str, Any],
                     where: str, salt: str) -> Any:
    schema = _resolve(operation, schema)
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        properties: dict[str, Any] = {}
        for branch in [schema, *(schema.get(k, []) for k in ("oneOf", "anyOf", "allOf"))]:
            for sub in branch if isinstance(branch, list) else [branch]:
                sub = _resolve(operation, sub)
                if isinstance(sub, dict):
                    for key, prop in sub.get("properties", {}).items():
                        properties.setdefault(key, prop)
        out = dict(value)
        for key, prop in properties.items():
            if key in out:
                out[key] = _substitute_field(operation, key, _resolve(operation, prop), out[key],
                                             path_values, f"{where}/{key}", salt)
        return out
    if isinstance(value, list) and "array" in _types(schema):
        return [_substitute_body(operation, schema.get("items"), v, path_values, f"{where}/*",
                                 salt) for v in value]
    return value


def _substitute_field(operation: Any, name: str, schema: dict[str, Any], value: Any,
                      path_values: dict[str, Any], where: str, salt: str) -> Any:
    items = _resolve(operation, schema.get("items")) if "array" in _types(schema) else None
    scalar = items if isinstance(items, dict) else schema
    refers = "integer" in _types(scalar) or scalar.get("format") == "uuid"
    template = body_collection(operation, name, schema) if refers else None
    collection = _fill(template, path_values) if template else None
    if collection is None:
        return _substitute_body(operation, schema, value, path_values, where, salt)
    if isinstance(value, list) and isinstance(items, dict):
        if not value or _hash(operation.label, where, value, salt) % KEEP_RANDOM_ONE_IN == 0:
            return value  # the whole list keeps its random ids (or none)
        ids = for_operation(operation, None, collection, existing_ids(collection))
        return [ids[_hash(where, v, salt) % len(ids)] if ids and _valid_id(v, items) else v
                for v in value]
    if _valid_id(value, schema):
        return choose(operation, collection, value, where, salt)
    return value


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """Existing ids in path parameters and body references (see the module docstring)."""
    meta = case.meta
    if not BASE_URL or meta is None:
        return case
    if str(meta.phase.name) == "stateful":
        return _stateful_ids(case)
    data = meta.phase.data
    probed = getattr(data, "parameter", None)  # a coverage case about one parameter: keep it
    operation = case.operation
    salt = repr((_stable(case.body), case.query))
    values = dict(case.path_parameters or {})
    for parameter in operation.path_parameters:
        name = parameter.name
        schema = parameter.definition.get("schema", {})
        if name == probed or name not in values or not _valid_id(values[name], schema):
            continue
        if not (ID_NAME.match(name) or schema.get("format") == "uuid"):
            continue
        template = path_collection(operation, name)
        collection = _fill(template, values) if template else None
        if collection:
            chosen = choose(operation, collection, values[name], f"path/{name}", salt,
                            values=values, param=name)
            values[name] = str(chosen) if isinstance(values[name], str) else chosen
    if values != (case.path_parameters or {}):
        case.path_parameters = values
    key = (case.headers or {}).get(IDEMPOTENCY_KEY)
    if isinstance(key, str) and re.fullmatch(r"[\x21-\x7e]{1,255}", key) and (
            probed != IDEMPOTENCY_KEY
            and _hash(key, operation.label, repr(values), salt) % KEEP_RANDOM_ONE_IN):
        # generated keys repeat ("0", "!"): a reused key with another request is a 409, so
        # most requests get a key of their own (a repeated request keeps its key: a replay)
        own = _hash(operation.label, repr(values), salt)
        case.headers = {**case.headers, IDEMPOTENCY_KEY: f"{key[:200]}.{own:08x}"}
    if isinstance(case.body, dict | list):
        definition = _paths(operation).get(operation.path, {}).get(operation.method.lower(), {})
        content = _resolve(operation, definition.get("requestBody", {})).get("content", {})
        schema = (content.get(case.media_type or "application/json") or {}).get("schema")
        if schema is not None:
            case.body = _substitute_body(operation, schema, case.body, values, "body", salt)
    return case


def _stable(body: Any) -> Any:
    """The body as the hashes see it: no body is None (its marker's repr names a memory
    address: the choices would change from one run to the next)."""
    return body if isinstance(body, dict | list | str | int | float | bool) else None


def _stateful_ids(case: Any) -> Any:
    """Stateful steps take their ids from links; where a link could not be resolved (an empty
    list answered the step before) schemathesis makes one up and the step is a 404. Such an
    id — one the collection does not list — becomes an existing one; linked ids stay."""
    operation = case.operation
    values = dict(case.path_parameters or {})
    for parameter in operation.path_parameters:
        name = parameter.name
        schema = parameter.definition.get("schema", {})
        if name not in values or not _valid_id(values[name], schema) or not ID_NAME.match(name):
            continue
        template = path_collection(operation, name)
        collection = _fill(template, values) if template else None
        if not collection:
            continue
        ids = existing_ids(collection)
        reserved = {str(i) for i in reserved_ids(collection, operation)}
        value = str(values[name])
        if ids and (value not in {str(i) for i in ids}
                    or (value in reserved and not places(operation, name))):
            ids = for_operation(operation, name, collection,
                                needed_ids(operation, name, collection) or ids)
            if not ids:
                continue
            chosen = ids[_hash(operation.label, name, values[name]) % len(ids)]
            values[name] = str(chosen) if isinstance(values[name], str) else chosen
    if values != (case.path_parameters or {}):
        case.path_parameters = values
    # A link may fill a query parameter with a value its schema refuses (an object's empty
    # external_id into a filter that takes minLength 1); schemathesis still counts that request
    # as valid. Such a value is dropped: the step keeps every value its parameter can take.
    definition = _paths(operation).get(operation.path, {}).get(operation.method.lower(), {})
    query = dict(case.query or {})
    for parameter in definition.get("parameters", []):
        parameter = _resolve(operation, parameter)
        name, schema = parameter.get("name"), _resolve(operation, parameter.get("schema", {}))
        if (parameter.get("in") == "query" and query.get(name) == ""
                and int(schema.get("minLength", 0)) > 0):
            del query[name]
    if query != (case.query or {}):
        case.query = query
    return case


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Remember the path ids an operation refused as not possible now (409)."""
    status = getattr(response, "status_code", None)
    if status == 202 and case.operation.method.lower() == "delete":
        with _lock:
            _accepted_deletes.add(str(case.id))
    if LOG:
        with open(LOG, "a") as log:
            said = getattr(response, "text", "")[:200] if status and status >= 400 else ""
            log.write(f"{status} {case.operation.label} {case.path_parameters} "
                      f"{str(case.body)[:200]} {said}\n")
    if status not in (409,) and not (status and 200 <= status < 300):
        return
    with _lock:
        for name, value in (case.path_parameters or {}).items():
            key = (case.operation.label, name, str(value))
            if status == 409:
                _refusals[key] = _refusals.get(key, 0) + 1
            else:
                _refusals.pop(key, None)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but use_after_free after a DELETE that answered 202 (accepted: the
    resource stays until the worker deleted it; see the module docstring)."""
    deleted = getattr(failure, "deleted_case_id", None)
    if getattr(failure, "code", "") != "ST301" or deleted is None:
        return True
    with _lock:
        return str(deleted) not in _accepted_deletes
