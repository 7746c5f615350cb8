"""Supplier offers as CSV: export every offer; import validated row by row (errors named by
line and column) and written all together or not at all."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from merchants.models import Merchant, ProviderAccount

from .models import PlaceMode, RouteMode, SupplierOffer

COLUMNS = ["sales_account", "sales_product_id", "sales_sku", "supplier", "supplier_product_id",
           "supplier_sku", "supplier_variant", "expected_cost", "cost_currency", "priority",
           "route_mode", "place_mode", "is_active"]
REQUIRED = {"supplier", "expected_cost"}
TRUE, FALSE = {"1", "true", "yes", "y"}, {"0", "false", "no", "n"}
MAX_ROWS = 20_000


class OfferImportError(Exception):
    """Nothing was imported; ``errors`` lists (line, column, message)."""

    def __init__(self, errors: list[tuple[int, str, str]]) -> None:
        super().__init__(f"{len(errors)} problem(s); nothing was imported.")
        self.errors = errors

    def lines(self) -> list[str]:
        return [f"line {line}, {column}: {message}" for line, column, message in self.errors]


@dataclass
class ImportResult:
    created: int
    updated: int


def offers_export(offers: Iterable[SupplierOffer]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for o in offers:
        writer.writerow([o.sales_account_id or "", o.sales_product_id, o.sales_sku, o.supplier_id,
                         o.supplier_product_id, o.supplier_sku,
                         json.dumps(o.supplier_variant) if o.supplier_variant else "",
                         o.expected_cost, o.cost_currency, o.priority, o.route_mode, o.place_mode,
                         "true" if o.is_active else "false"])
    return out.getvalue()


def _parse_row(line: int, row: dict[str, str], merchants: dict[str, Merchant],
               accounts: dict[str, ProviderAccount]) -> tuple[dict[str, Any], list[tuple[int, str, str]]]:
    errors: list[tuple[int, str, str]] = []
    get = {k: (row.get(k) or "").strip() for k in COLUMNS}
    values: dict[str, Any] = {}
    for column in sorted(REQUIRED):
        if not get[column]:
            errors.append((line, column, "required"))
    if not (get["sales_product_id"] or get["sales_sku"]):
        errors.append((line, "sales_product_id", "give the sales product id, the sales SKU, or both"))
    if get["supplier"]:
        values["supplier"] = merchants.get(get["supplier"])
        if values["supplier"] is None:
            errors.append((line, "supplier", f"no merchant with id {get['supplier']}"))
    if get["sales_account"]:
        values["sales_account"] = accounts.get(get["sales_account"])
        if values["sales_account"] is None:
            errors.append((line, "sales_account", f"no provider account with id {get['sales_account']}"))
    else:
        values["sales_account"] = None
    try:
        values["expected_cost"] = Decimal(get["expected_cost"]) if get["expected_cost"] else None
        if values["expected_cost"] is not None and values["expected_cost"] < 0:
            errors.append((line, "expected_cost", "must not be negative"))
    except InvalidOperation:
        errors.append((line, "expected_cost", f"not a number: {get['expected_cost']!r}"))
    try:
        values["priority"] = int(get["priority"] or 1)
        if values["priority"] < 1:
            raise ValueError
    except ValueError:
        errors.append((line, "priority", "a whole number from 1"))
    try:
        values["supplier_variant"] = json.loads(get["supplier_variant"]) if get["supplier_variant"] else {}
    except json.JSONDecodeError:
        errors.append((line, "supplier_variant", "not valid JSON"))
    for column, choices in (("route_mode", RouteMode.values), ("place_mode", PlaceMode.values)):
        if get[column] and get[column] not in choices:
            errors.append((line, column, f"one of {', '.join(choices)} (or empty)"))
        values[column] = get[column]
    active = get["is_active"].lower()
    if active and active not in TRUE | FALSE:
        errors.append((line, "is_active", "true or false"))
    values["is_active"] = active not in FALSE
    values["cost_currency"] = (get["cost_currency"] or "EUR").upper()
    for column in ("sales_product_id", "sales_sku", "supplier_product_id", "supplier_sku"):
        values[column] = get[column]
    return values, errors


def offers_import(*, text: str) -> ImportResult:
    """Create or update offers (key: sales product, SKU, supplier, priority)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    unknown = sorted(set(header) - set(COLUMNS))
    missing = sorted(REQUIRED - set(header)) + (
        [] if {"sales_product_id", "sales_sku"} & set(header) else ["sales_product_id"])
    if missing or unknown:
        problems = [(1, c, "missing column") for c in missing] + [(1, c, "unknown column") for c in unknown]
        raise OfferImportError(problems)
    rows = list(reader)
    if len(rows) > MAX_ROWS:
        raise OfferImportError([(MAX_ROWS + 2, "-", f"at most {MAX_ROWS} rows per file")])
    merchants = {str(m.pk): m for m in Merchant.objects.select_related("account")}
    accounts = {str(a.pk): a for a in ProviderAccount.objects.all()}
    errors: list[tuple[int, str, str]] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for index, row in enumerate(rows, start=2):
        values, row_errors = _parse_row(index, row, merchants, accounts)
        if not row_errors:
            instance = SupplierOffer(**values)
            try:
                instance.full_clean(validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                row_errors += [(index, column, " ".join(msgs)) for column, msgs in exc.message_dict.items()]
            key = (values["sales_product_id"], values["sales_sku"], values["supplier"].pk, values["priority"])
            if key in seen:
                row_errors.append((index, "priority", f"same offer as line {seen[key]}"))
            seen[key] = index
        errors += row_errors
        parsed.append((index, values))
    if errors:
        raise OfferImportError(errors)
    created = updated = 0
    with transaction.atomic():
        for _, values in parsed:
            lookup = {k: values.pop(k) for k in ("sales_product_id", "sales_sku", "supplier", "priority")}
            _, was_created = SupplierOffer.objects.update_or_create(**lookup, defaults=values)
            created += was_created
            updated += not was_created
    return ImportResult(created, updated)
