"""Business verbs on orders: the admin, the REST API and the worker's tasks call these.

Rules of the house:
* keyword-only arguments, ``<entity>_<verb>`` names; reads live in ``orders.selectors``;
* a state changes only through a model transition, run by ``common.transition_apply`` which
  saves and appends the timeline event in one transaction;
* provider calls never run while a row lock is held: a verb claims the order under a lock
  (moving it to an in-flight state such as ``placing``), commits, then calls the provider,
  then records the outcome in a second short transaction;
* services never queue work: ``orders.dispatch`` (admin, API) and ``orders.tasks`` (the
  worker: retries, backoff, follow-ups) do, and they import services — never the reverse.

One module a seam:

=================  ==========================================================================
common             row locks, the transition runner, permission check, totals
editing            create and edit drafts, items, notes
placement          place (claim → call → apply), reconcile an unknown outcome, give-up notes
sync               read one order back; the incoming sync of an account
fulfilment         cancel, hold, release, complete, reopen, ship, item status moves
provider_drafts    provider-side drafts, execution polling, draft expiry, custom fields,
                   item characteristics (reseller v3)
shortfall          the operator's decision on a partial confirmation
transitions        the transition catalogue the admin and the API run by name
bulk               bulk runs: record, execute one item
rollups            the dashboard's orders per day, recounted by the worker
=================  ==========================================================================
"""

from .bulk import BULK_ACTIONS, BULK_MAX_ORDERS, BulkPlaceRetry, bulk_run_create, bulk_run_item_execute
from .common import (
    S,
    lock_order,
    order_transitions_available,
    require_permission,
    totals_recalculate,
    transition_apply,
)
from .editing import (
    ADDRESS_FIELDS,
    EDITABLE_FIELDS,
    order_create,
    order_item_add,
    order_item_remove,
    order_item_remove_check,
    order_note_add,
    order_update,
    validate_item,
)
from .fulfilment import (
    order_cancel,
    order_complete,
    order_hold,
    order_items_set_status,
    order_items_status_check,
    order_release,
    order_reopen,
    order_ship,
)
from .placement import (
    order_place,
    order_place_check,
    order_placement_gave_up,
    order_placement_retry_noted,
    order_reconcile,
    order_reconcile_from_provider,
    order_stale_placing_sweep,
    order_supports_lookup,
    orders_awaiting_reconcile,
)
from .provider_drafts import (
    EXECUTION_POLL_MAX_ATTEMPTS,
    execution_poll_delay,
    order_custom_fields_get,
    order_custom_fields_set,
    order_drafts_expire,
    order_execution_poll,
    order_execution_poll_due,
    order_item_change_calls_provider,
    order_item_characteristics_get,
    order_item_characteristics_set,
    order_provider_draft_create,
    order_provider_items_push,
    provider_values_clean,
)
from .rollups import ROLLUP_DAYS, DailyCounts, order_daily_counts_refresh
from .shortfall import order_shortfall_accept, order_shortfall_summary
from .sync import account_sync_incoming, order_apply_snapshot, order_sync
from .transitions import (
    order_run_transition,
    order_transition_calls_provider,
    order_transition_check,
)

__all__ = [
    "ADDRESS_FIELDS", "BULK_ACTIONS", "BULK_MAX_ORDERS", "EDITABLE_FIELDS",
    "EXECUTION_POLL_MAX_ATTEMPTS", "ROLLUP_DAYS", "BulkPlaceRetry", "DailyCounts", "S",
    "account_sync_incoming",
    "bulk_run_create", "bulk_run_item_execute", "execution_poll_delay", "lock_order",
    "order_apply_snapshot", "order_cancel", "order_complete", "order_create",
    "order_custom_fields_get", "order_custom_fields_set",
    "order_daily_counts_refresh", "order_drafts_expire",
    "order_execution_poll", "order_execution_poll_due", "order_hold", "order_item_add",
    "order_item_change_calls_provider", "order_item_characteristics_get",
    "order_item_characteristics_set", "order_item_remove", "order_item_remove_check",
    "order_items_set_status", "order_items_status_check", "order_note_add", "order_place",
    "order_place_check", "order_placement_gave_up", "order_placement_retry_noted",
    "order_provider_draft_create", "order_provider_items_push", "order_reconcile",
    "order_reconcile_from_provider",
    "order_release", "order_reopen", "order_run_transition", "order_ship",
    "order_shortfall_accept", "order_shortfall_summary", "order_stale_placing_sweep",
    "order_supports_lookup", "order_sync", "order_transition_calls_provider",
    "order_transition_check", "order_transitions_available", "order_update",
    "orders_awaiting_reconcile", "provider_values_clean", "require_permission",
    "totals_recalculate", "transition_apply", "validate_item",
]
