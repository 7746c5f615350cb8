"""CSV of the filtered order list, streamed: one row per order, or one row per item; both
with the tracking numbers (carrier and number of each shipment carrying it)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from django.db.models import QuerySet

from core.redaction import load_account_secrets, redact_text

from ..models import Order, OrderItem, Shipment, ShipmentLine
from .common import CSV_COLUMNS, _csv_safe, _Echo

CHUNK = 2000
ITEM_COLUMNS = [
    ("reference", "order__reference"), ("order_state", "order__state"),
    ("provider", "order__merchant__account__provider"), ("merchant", "order__merchant__name"),
    ("external_id", "order__external_id"), ("contact_name", "order__contact_name"),
    ("country", "order__country"), ("currency", "order__currency"), ("item_id", "id"),
    ("sku", "sku"), ("product_id", "product_id"), ("name", "name"), ("quantity", "quantity"),
    ("confirmed_quantity", "confirmed_quantity"), ("unit_price", "unit_price"),
    ("item_state", "state"), ("item_raw_status", "raw_status"),
]


def _chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    it = iter(rows)
    while chunk := list(islice(it, CHUNK)):
        yield chunk


def _tracking_by_order(order_ids: list[int]) -> dict[int, str]:
    found: dict[int, list[str]] = {}
    for order_id, carrier, number in (Shipment.objects.filter(order_id__in=order_ids)
                                      .order_by("order_id", "id")
                                      .values_list("order_id", "carrier", "tracking_number")):
        found.setdefault(order_id, []).append(f"{carrier} {number}".strip())
    return {k: "; ".join(v) for k, v in found.items()}


def _tracking_by_item(item_ids: list[int]) -> dict[int, str]:
    found: dict[int, list[str]] = {}
    for item_id, carrier, number in (ShipmentLine.objects.filter(item_id__in=item_ids)
                                     .order_by("item_id", "shipment_id")
                                     .values_list("item_id", "shipment__carrier",
                                                  "shipment__tracking_number")):
        found.setdefault(item_id, []).append(f"{carrier} {number}".strip())
    return {k: "; ".join(v) for k, v in found.items()}


def csv_rows(queryset: QuerySet[Order], *, per_item: bool) -> Iterator[str]:
    """The CSV lines (header first), a query per 2,000 rows plus one for their tracking."""
    writer = csv_writer()
    if per_item:
        columns = ITEM_COLUMNS
        items = (OrderItem.objects.filter(order__in=queryset.values("pk")).order_by("order_id", "id")
                 .values_list(*[f for _n, f in columns]).iterator(chunk_size=CHUNK))
        yield writer.writerow([n for n, _f in columns] + ["tracking_numbers"])
        id_at = [f for _n, f in columns].index("id")
        for chunk in _chunks(items):
            tracking = _tracking_by_item([row[id_at] for row in chunk])
            for row in chunk:
                yield writer.writerow([_csv_safe(v) for v in row] + [_csv_safe(tracking.get(row[id_at], ""))])
        return
    fields = ["pk", *[f for _n, f in CSV_COLUMNS]]
    orders = queryset.values_list(*fields).iterator(chunk_size=CHUNK)
    load_account_secrets()  # the free-text column is masked (text an older version stored)
    free_text = fields.index("failure_reason")
    yield writer.writerow([n for n, _f in CSV_COLUMNS] + ["tracking_numbers"])
    for chunk in _chunks(orders):
        tracking = _tracking_by_order([row[0] for row in chunk])
        for row in chunk:
            cells = list(row)
            cells[free_text] = redact_text(cells[free_text] or "")
            yield writer.writerow([_csv_safe(v) for v in cells[1:]] + [_csv_safe(tracking.get(row[0], ""))])


def csv_writer() -> Any:
    import csv

    return csv.writer(_Echo())
