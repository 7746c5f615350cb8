"""Every operator verb of the admin, and the API route that does the same (issue 14).

README: "everything an operator does in the admin is also available under /api/v1/". The
verbs are not listed by hand: ``tests/api/test_parity.py`` derives them from the admin at
runtime — each ModelAdmin's actions, its extra URLs (object tools, per-object POST views) and
the state-machine transitions its change page offers — and checks each against this table:
the route exists, changes state (POST/PUT/PATCH/DELETE), and asks for the same Django
permission as the admin (a user lacking it gets 403 from both, a user with it does not).

A verb is named ``"<app_label.Model> <kind> <name>"`` with kind ``action``, ``url`` (the URL
name) or ``transition``. A new admin verb is either given a route here or listed in
``ADMIN_ONLY`` with the reason; otherwise the test fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRANSITIONS = "orders.run_order_transitions"


@dataclass(frozen=True)
class Route:
    method: str  # POST, PUT, PATCH or DELETE
    path: str  # as DRF's EndpointEnumerator writes it: /api/v1/orders/{pk}/sync/
    permission: str  # the Django permission the admin verb and the route both require
    body: dict[str, Any] = field(default_factory=dict)
    staff: bool = False  # the route (like the admin) is for staff only


def _order(path: str, method: str = "POST", **body: Any) -> Route:
    return Route(method, f"/api/v1/orders/{{pk}}/{path}", TRANSITIONS, body)


def _items_status(transition: str) -> Route:
    return _order("items/status/", transition=transition)


ACCOUNT = "merchants.change_provideraccount"
MERCHANT = "merchants.change_merchant"

API_ROUTES: dict[str, Route] = {
    # --- orders: the change page's buttons (FSM transitions) --------------------------------
    **{f"orders.Order transition {name}": _order(f"transitions/{name}/")
       for name in ("place", "reconcile", "reopen", "hold", "release", "ship", "complete",
                    "cancel", "accept_shortfall")},
    # --- orders: bulk actions of the list (the API: the same verb per order) ---------------
    "orders.Order action place_selected": _order("transitions/place/"),
    "orders.Order action sync_selected": _order("sync/"),
    "orders.Order action cancel_selected": _order("transitions/cancel/"),
    "orders.Order action acknowledge_selected": _order("items/acknowledge/"),
    "orders.Order action mark_shipped_selected": _order("shipments/"),
    # --- orders: the page's other buttons and provider pages -----------------------------
    "orders.Order url orders_order_note": _order("notes/"),
    "orders.Order url orders_order_sync": _order("sync/"),
    "orders.Order url orders_order_lookup": _order("lookup/"),
    "orders.Order url orders_order_acknowledge_items": _order("items/acknowledge/"),
    "orders.Order url orders_order_provider_draft": _order("provider-draft/"),
    "orders.Order url orders_order_execution_poll": _order("execution-poll/"),
    "orders.Order url orders_order_custom_fields": _order("custom-fields/", "PUT"),
    "orders.Order url orders_order_item_characteristics": _order(
        "items/{item_pk}/characteristics/", "PUT"),
    # --- order items: transitions and bulk actions (one provider request per order) --------
    **{f"orders.OrderItem transition {name}": _items_status(name)
       for name in ("acknowledge", "hold", "ship", "cancel", "mark_returned")},
    **{f"orders.OrderItem action items_{name}": _items_status(name)
       for name in ("acknowledge", "hold", "cancel", "mark_returned")},
    # --- provider accounts -----------------------------------------------------------------
    "merchants.ProviderAccount action check_accounts": Route(
        "POST", "/api/v1/accounts/{pk}/check/", ACCOUNT, staff=True),
    "merchants.ProviderAccount url merchants_provideraccount_check": Route(
        "POST", "/api/v1/accounts/{pk}/check/", ACCOUNT, staff=True),
    "merchants.ProviderAccount action sync_now": Route(
        "POST", "/api/v1/accounts/{pk}/sync/", ACCOUNT, staff=True),
    "brandsdistribution.AccountReservation action read_reservation": Route(
        "POST", "/api/v1/accounts/{pk}/reservation/read/",
        "brandsdistribution.change_accountreservation", staff=True),
    "brandsdistribution.AccountReservation action release_reservation": Route(
        "POST", "/api/v1/accounts/{pk}/reservation/release/",
        "brandsdistribution.change_accountreservation", staff=True),
    # --- merchants ---------------------------------------------------------------------------
    "merchants.Merchant action send_authorization_link": Route(
        "POST", "/api/v1/merchants/{pk}/authorize/", MERCHANT, {"mode": "link"}),
    "merchants.Merchant url merchants_merchant_authorization_link": Route(
        "POST", "/api/v1/merchants/{pk}/authorize/", MERCHANT, {"mode": "link"}),
    "merchants.Merchant action verify_merchant_id": Route(
        "POST", "/api/v1/merchants/{pk}/authorize/", MERCHANT, {"mode": "verify"}),
    "merchants.Merchant transition revoke": Route(
        "POST", "/api/v1/merchants/{pk}/revoke/", MERCHANT),
    # --- webhooks ------------------------------------------------------------------------------
    "webhooks.WebhookSubscription action send_test_event": Route(
        "POST", "/api/v1/webhooks/subscriptions/{pk}/test/",
        "webhooks.change_webhooksubscription"),
    "webhooks.WebhookSubscription action redeliver_failed": Route(
        "POST", "/api/v1/webhooks/subscriptions/{pk}/redeliver-failed/",
        "webhooks.change_webhooksubscription"),
    "webhooks.WebhookSubscription action rotate_secret": Route(
        "POST", "/api/v1/webhooks/subscriptions/{pk}/rotate-secret/",
        "webhooks.change_webhooksubscription"),
    "webhooks.WebhookSubscription action delete_selected": Route(
        "DELETE", "/api/v1/webhooks/subscriptions/{pk}/", "webhooks.delete_webhooksubscription"),
    "webhooks.WebhookEvent action redeliver": Route(
        "POST", "/api/v1/webhooks/events/{pk}/redeliver/", "webhooks.change_webhookevent"),
    # --- the order pipeline --------------------------------------------------------------------
    "pipeline.SupplierOffer action delete_selected": Route(
        "DELETE", "/api/v1/supplier-offers/{pk}/", "pipeline.delete_supplieroffer"),
    "pipeline.SalesRouting action route_now": Route(
        "POST", "/api/v1/pipeline/orders/{pk}/route/", TRANSITIONS),
}

# Whole apps whose admin is site administration, not operator work.
ADMIN_ONLY_APPS: dict[str, str] = {
    "auth": "users, groups and passwords are managed by a site administrator, not integrations",
    "django_celery_beat": "periodic task schedules are site administration (merchants' sync "
                          "schedules follow their account: PATCH /api/v1/accounts/{id}/)",
}

# Single verbs kept in the admin on purpose (a read the API has as a GET, or administration).
ADMIN_ONLY: dict[str, str] = {
    "orders.Order url orders_order_export_csv":
        "a read: GET /api/v1/orders/ lists the same rows with the same filters",
    "orders.Order url orders_order_status_graphs": "a read: the provider status diagrams",
    "orders.Order url orders_order_bulk_runs": "a read: the admin's bulk-run progress panel",
    "orders.Order url orders_order_live": "a read: the order page's polled live region",
    "merchants.ProviderAccount url merchants_provideraccount_check_status":
        "a read: the account page's polled check result (GET /api/v1/accounts/{id}/check/)",
    "merchants.Merchant url merchants_merchant_authorization_link_status":
        "a read: the merchant page's polled link (GET /api/v1/merchants/{id}/authorization-link/)",
    "merchants.Merchant url merchants_merchant_verify_status":
        "a read: the merchant page's polled verification (GET /api/v1/merchants/{id}/verification/)",
    "orders.Order action delete_selected":
        "orders are cancelled, never deleted, through the API (timeline and provider ids stay)",
    "orders.OrderItem action delete_selected":
        "a site administrator's repair (delete_orderitem); a draft's item is removed with "
        "DELETE /api/v1/orders/{id}/items/{item_pk}/ under the operator permission",
    "orders.Shipment action delete_selected": "a site administrator's repair (delete_shipment)",
    "merchants.ProviderAccount action delete_selected":
        "an account is deactivated (PATCH is_active=false); deleting one orphans its orders",
    "merchants.Merchant action delete_selected": "a site administrator's repair (delete_merchant)",
    "merchants.AuthorizationRequest action delete_selected": "authorization history is kept",
    "merchants.Integration action delete_selected": "tokens are managed by people in the admin",
    "merchants.Integration action rotate_token":
        "a token never mints tokens: issuing one is a person's act (create_api_token / admin)",
    "merchants.Integration action revoke_tokens": "tokens are managed by people in the admin",
    "webhooks.WebhookDelivery action redeliver":
        "the API redelivers per event (POST /api/v1/webhooks/events/{id}/redeliver/)",
    "pipeline.SupplierOffer action export_selected":
        "a read: GET /api/v1/supplier-offers/ lists the offers",
    "pipeline.SupplierOffer url pipeline_supplieroffer_export":
        "a read: GET /api/v1/supplier-offers/ lists the offers",
    "pipeline.SupplierOffer url pipeline_supplieroffer_import":
        "a CSV import of many offers: the API creates (POST, add) and changes (PATCH, change) "
        "one offer at a time",
    "pipeline.RoutingPolicy action delete_selected":
        "routing policies are set up by a site administrator (delete_routingpolicy)",
    **{f"brandsdistribution.Sandbox{name} action delete_selected":
       "the demo sandbox's own data (restocking the demo), not provider work"
       for name in ("Stock", "Order", "Lock")},
    "pipeline.TrackingPush action delete_selected":
        "a site administrator's repair of the tracking push log",
}
