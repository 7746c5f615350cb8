"""A tiny provider used only by tests: proves the wiring between the domain and the
provider layer (registry, status table conditions, HTTP helper, error classes)."""

from __future__ import annotations

from orders.lifecycle import ItemLifecycle as I
from orders.lifecycle import Lifecycle as L
from providers.base import CredentialField, ProviderService
from providers.errors import ProviderBadReply
from providers.http import HttpClient
from providers.statuses import RawStatus, StatusTable
from providers.types import ItemSnapshot, OrderSnapshot, PlacementResult, ShipmentSnapshot

BASE_URL = "https://fake.example.test"

_OPEN = frozenset({"cancel", "hold", "release", "ship", "sync"})

STATUSES = StatusTable(
    provider="fake",
    order_statuses={
        "NEW": RawStatus("NEW", "New", L.PLACED, next=("WORKING", "CANCELLED"), actions=_OPEN),
        "WORKING": RawStatus("WORKING", "Working", L.IN_PROGRESS, next=("SENT", "CANCELLED"),
                             actions=_OPEN),
        "SENT": RawStatus("SENT", "Sent", L.SHIPPED, next=("DONE",),
                          actions=frozenset({"complete", "ship", "sync"})),
        "DONE": RawStatus("DONE", "Done", L.COMPLETED, final=True, actions=frozenset({"sync"})),
        "CANCELLED": RawStatus("CANCELLED", "Cancelled", L.CANCELLED, final=True,
                               actions=frozenset({"sync"})),
    },
    order_actions=frozenset({"place", "cancel", "hold", "release", "ship", "complete", "sync"}),
    # orders made by the factories have no raw status: no rule (the generic lifecycle tests)
    initial_actions=None,
    unknown_state="in_progress",
    item_statuses={
        "0": RawStatus("0", "New", I.NEW, next=("1", "2", "3", "6")),
        "1": RawStatus("1", "Hold", I.ON_HOLD, next=("2", "3", "6")),
        "2": RawStatus("2", "Shipped", I.SHIPPED, next=("4",)),
        "3": RawStatus("3", "Cancelled", I.CANCELLED, next=()),
        "4": RawStatus("4", "Returned", I.RETURNED, next=()),
        "6": RawStatus("6", "Acknowledged", I.ACKNOWLEDGED, next=("1", "2", "3")),
    },
)


class FakeService(ProviderService):
    key = "fake"
    label = "Fake"
    statuses = STATUSES
    credential_fields = (CredentialField("api_key", "API key"),)

    @property
    def client(self) -> HttpClient:
        return HttpClient(
            base_url=self.account.base_url or BASE_URL,
            recorder=self.recorder,
            headers={"X-Api-Key": self.credential("api_key")},
            secrets=self.secrets,
            rate_scope=self.rate_scope,
        )

    def place_order(self, order):  # type: ignore[no-untyped-def]
        response = self.client.request(
            "POST", "/orders", operation="place_order", idempotent=False,
            json={"ref": order.reference, "items": [
                {"sku": i.sku, "qty": i.quantity} for i in order.items
            ]},
        )
        try:
            body = response.json()
            return PlacementResult(external_ids=[str(body["id"])], raw_status=body.get("status", "NEW"),
                                   raw=body)
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderBadReply("place_order: unreadable reply", operation="place_order") from exc

    def reconcile_placement(self, order):  # type: ignore[no-untyped-def]
        response = self.client.request("GET", f"/orders/by-ref/{order.reference}",
                                       operation="lookup", idempotent=True)
        body = response.json()
        if not body:
            return None
        return PlacementResult(external_ids=[str(body["id"])], raw_status=body["status"])

    def fetch_order(self, order):  # type: ignore[no-untyped-def]
        body = self.client.request("GET", f"/orders/{order.external_id}", operation="fetch_order",
                                   idempotent=True).json()
        return OrderSnapshot(
            external_id=str(body["id"]),
            raw_status=body["status"],
            items=[ItemSnapshot(external_id=i["id"], sku=i["sku"], quantity=i["qty"],
                                raw_status=str(i.get("status", "0")),
                                next_statuses=i.get("next")) for i in body.get("items", [])],
            shipments=[ShipmentSnapshot(external_id=s["tracking"], tracking_number=s["tracking"],
                                        carrier=s.get("carrier", "")) for s in body.get("shipping", [])],
            raw=body,
        )

    def iter_incoming(self, *, since, cursor):  # type: ignore[no-untyped-def]
        page = int(cursor.get("page", 0))
        while True:
            body = self.client.request("GET", "/incoming", operation="list_orders",
                                       idempotent=True, params={"page": page}).json()
            yield [
                OrderSnapshot(
                    external_id=o["id"], reference=o.get("number", ""), raw_status=o["status"],
                    items=[ItemSnapshot(external_id=i["id"], sku=i["sku"], quantity=i["qty"],
                                        raw_status=str(i.get("status", "0")),
                                        next_statuses=i.get("next"))
                           for i in o.get("items", [])],
                    raw=o,
                )
                for o in body["orders"]
            ]
            page += 1
            cursor["page"] = page
            if page >= body["pages"]:
                cursor["page"] = 0
                return

    def cancel_order(self, order):  # type: ignore[no-untyped-def]
        self.client.request("POST", f"/orders/{order.external_id}/cancel",
                            operation="cancel_order", idempotent=True)

    def push_shipment(self, shipment):  # type: ignore[no-untyped-def]
        self.client.request(
            "POST", f"/orders/{shipment.order.external_id}/shipping", operation="push_shipment",
            idempotent=False,
            json={"tracking": shipment.tracking_number, "carrier": shipment.carrier or None},
        )

    def set_item_status(self, order, items, target, *, comment=""):  # type: ignore[no-untyped-def]
        self.client.request(
            "PUT", f"/orders/{order.external_id}", operation="set_item_status", idempotent=True,
            json={"status": int(self.statuses.item_code_for(target) or 0),
                  "orderItemsIds": [i.external_id for i in items], "comment": comment},
        )
