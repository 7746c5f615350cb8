from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import IsNull
from django.utils import timezone

from merchants.models import Merchant
from orders.lifecycle import ItemLifecycle, Lifecycle
from providers import registry

from .models import Order, OrderEvent, OrderItem, Shipment
from .provider_requests import order_request, order_service

NEEDS_ACTION = (Lifecycle.FAILED, Lifecycle.PLACEMENT_UNKNOWN)
# Orders still moving (every tab only ever matches orders in one of these states).
OPEN_STATES = tuple(s for s in Lifecycle.ALL if s not in Lifecycle.FINAL)


def order_list(*, merchant_id: int | None = None, provider: str | None = None) -> QuerySet[Order]:
    qs = Order.objects.select_related("merchant__account")
    if merchant_id:
        qs = qs.filter(merchant_id=merchant_id)
    if provider:
        qs = qs.filter(merchant__account__provider=provider)
    return qs


def _unknown_raw_status_q() -> Q:
    """Open orders whose raw status their provider's table does not know (data-driven: each
    table's ``known_codes``; tables that publish no order statuses flag nothing)."""
    q = Q(pk__isnull=True)
    for key, cls in sorted(registry.all_services().items()):
        table = cls.statuses
        if table.unknown_actions is None:
            continue
        # merchants by id: a join to every order's account made the planner walk all orders
        merchants = Merchant.objects.filter(account__provider=key).values("pk")
        q |= (Q(merchant__in=merchants) & ~Q(raw_status="")
              & ~Q(raw_status__in=table.known_codes()))
    return ~Q(state__in=Lifecycle.FINAL) & q


def _needs_action_q() -> Q:
    return Q(state__in=NEEDS_ACTION) | _unknown_raw_status_q()


def order_ids_matching_exactly(*, term: str) -> list[int]:
    """Orders whose reference, provider order id or a shipment's tracking number *is* ``term``
    (references and tracking numbers also in upper case) — one query, through their indexes.
    Nothing for an empty term or one with spaces (a name, not an id)."""
    term = term.strip()
    if not term or len(term) > 120 or any(c.isspace() for c in term):
        return []
    variants = sorted({term, term.upper()})
    ids = (
        Order.objects.filter(reference__in=variants).order_by().values_list("pk", flat=True)
        .union(Order.objects.filter(external_id=term).order_by().values_list("pk", flat=True),
               Shipment.objects.filter(tracking_number__in=variants).order_by()
               .values_list("order_id", flat=True))
    )
    return sorted(ids)


# --- admin quick filters (tabs), the dashboard's counts ------------------------------------------
# Each tab is a Q over Order, so the same definition filters the list, feeds the tab counts and
# the dashboard (one aggregate query with a conditional Count per tab): a count shown is the
# length of the list its link opens.
def _awaiting_payment_q() -> Q:
    q = Q(pk__isnull=True)  # matches nothing when no provider flags such a status
    every_code: set[str] = set()
    for key, cls in sorted(registry.all_services().items()):
        codes = cls.statuses.awaiting_payment_codes()
        if codes:  # merchants by id (no join of every order to its account)
            merchants = Merchant.objects.filter(account__provider=key).values("pk")
            q |= Q(merchant__in=merchants, raw_status__in=codes)
            every_code.update(codes)
    # state and raw status both as plain IN lists first: a seek in the (state, raw_status)
    # index, not a scan of every placed order (the OR per provider hid the raw status)
    return Q(state__in=(Lifecycle.PLACED, Lifecycle.IN_PROGRESS),
             raw_status__in=sorted(every_code)) & q


# A shortfall waits for a decision while the order may still go on (accept_shortfall's sources).
SHORTFALL_STATES = (Lifecycle.FAILED, Lifecycle.PLACED, Lifecycle.IN_PROGRESS, Lifecycle.ON_HOLD,
                    Lifecycle.PARTIALLY_SHIPPED, Lifecycle.SHIPPED)


# The item-side tabs are conditions on items (with their order's state and provider inside the
# subquery), so the order side is only "pk IN (…)": an index lookup per order, and "Needs
# action" ORs one such subquery with an indexed state test (2.4 s → ms at 100k orders, bench/).
def _short_quantity_q() -> Q:
    short = OrderItem.objects.filter(confirmed_quantity__isnull=False,
                                     confirmed_quantity__lt=F("quantity")).values("order_id")
    return Q(state__in=SHORTFALL_STATES, pk__in=short)


# Orders that come to us (the provider does not place them: Tipser) wait for the operator to
# acknowledge their new items, then to ship the acknowledged ones.
FULFIL_STATES = (Lifecycle.PLACED, Lifecycle.IN_PROGRESS, Lifecycle.PARTIALLY_SHIPPED)


def _items_waiting_providers(item_state: str) -> list[str]:
    return [key for key, cls in sorted(registry.all_services().items())
            if not cls.places_orders and cls.statuses.item_code_for(item_state)]


def tab_providers(tab: str) -> set[str] | None:
    """The providers whose orders a tab can list (``None``: any provider's)."""
    if tab in ("to_acknowledge", "to_ship"):
        return set(_items_waiting_providers(
            ItemLifecycle.NEW if tab == "to_acknowledge" else ItemLifecycle.ACKNOWLEDGED))
    if tab == "awaiting_payment":
        return {key for key, cls in registry.all_services().items()
                if cls.statuses.awaiting_payment_codes()}
    return None


def _items_waiting_q(item_state: str) -> Q:
    """Orders of providers that send us orders, still to fulfil, with an item in that state:
    the order-side tests (indexed state, merchant) first, then an EXISTS per remaining order."""
    keys = _items_waiting_providers(item_state)
    if not keys:
        return Q(pk__isnull=True)
    merchants = Merchant.objects.filter(account__provider__in=keys).values("pk")
    in_state = OrderItem.objects.filter(state=item_state)
    # Per order one seek in the (state, order) index, as a scalar subquery ("its first such
    # item is not null"): PostgreSQL turns an EXISTS inside an OR ("Needs action") into a hash
    # of *every* item in that state, built on each page view (items of placed orders stay
    # "new": it grows with history); a scalar subquery it probes per order, so a capped count
    # stops after as many orders as it takes to find that many. An empty tab (the usual state
    # of a work queue) would still read every order to fulfil: the uncorrelated EXISTS (is
    # any item in that state at all — the same index) is evaluated once and ends it at once.
    first = Subquery(in_state.filter(order=OuterRef("pk")).order_by().values("pk")[:1])
    return (Q(state__in=FULFIL_STATES, merchant__in=merchants) & Q(Exists(in_state))
            & Q(IsNull(first, False)))


def unshipped_after_days() -> int:
    return int(getattr(settings, "ORDERS_UNSHIPPED_AFTER_DAYS", 3))


def order_tabs(*, now: dt.datetime | None = None) -> dict[str, tuple[str, Q]]:
    """tab key -> (label, condition). "Needs action" is every order waiting for the operator:
    failed, placement unknown, items to acknowledge or to ship, a shortfall to decide."""
    now = now or timezone.now()
    days = unshipped_after_days()
    failed = Q(state=Lifecycle.FAILED)
    unknown = Q(state=Lifecycle.PLACEMENT_UNKNOWN)
    to_acknowledge = _items_waiting_q(ItemLifecycle.NEW)
    to_ship = _items_waiting_q(ItemLifecycle.ACKNOWLEDGED)
    short = _short_quantity_q()
    return {
        # the item-side parts behind one indexed state test (SQLite then reads only those
        # orders, not every order once per part)
        "needs_action": ("Needs action", _needs_action_q() | (
            Q(state__in=tuple({*FULFIL_STATES, *SHORTFALL_STATES}))
            & (to_acknowledge | to_ship | short))),
        "to_acknowledge": ("To acknowledge", to_acknowledge),
        "to_ship": ("To ship", to_ship),
        "awaiting_payment": ("Awaiting payment", _awaiting_payment_q()),
        "short_quantity": ("Short quantity", short),
        "failed": ("Failed", failed),
        "placement_unknown": ("Placement unknown", unknown),
        "expiring_drafts": (
            "Expiring drafts",
            Q(state=Lifecycle.DRAFT, expires_at__isnull=False,
              expires_at__lte=now + dt.timedelta(days=2)),
        ),
        "unshipped": (
            f"Unshipped > {days} days",
            Q(state__in=(Lifecycle.PLACED, Lifecycle.IN_PROGRESS),
              placed_at__lt=now - dt.timedelta(days=days)),
        ),
    }


# Counts shown in the admin list (tabs, the list's total) stop here: above it they say "1,000+".
# An exact count reads every matching row, so the list and the dashboard grew with the orders
# (bench/bench_admin_changelist.py: 100k vs 1k orders); a capped count reads at most
# TAB_COUNT_CAP + 1 rows per number, whatever the table holds.
TAB_COUNT_CAP = 1000
# The dashboard's work counts stop lower ("100+"): it shows ~40 numbers at once (eight tabs per
# provider and in total), each reading up to cap + 1 rows; at 1,000 they read 2-2.6× more rows
# at 100k orders than at 1k (bench/bench_dashboard.py). A work queue over 100 reads the same
# either way: open its list for the number (the list's tabs count to TAB_COUNT_CAP).
DASHBOARD_COUNT_CAP = 100


def counts_up_to(querysets: Mapping[str, QuerySet[Any]], *, cap: int) -> dict[str, int]:
    """``min(count, cap + 1)`` of each queryset, all in one query: each is a ``LIMIT cap + 1``
    subquery counted by the database (what ``qs[:cap + 1].count()`` runs, once per queryset).
    A value above ``cap`` means "more than ``cap``" (see ``count_label``)."""
    if not querysets:
        return {}
    parts: list[str] = []
    params: list[Any] = []
    using = next(iter(querysets.values())).db
    for n, queryset in enumerate(querysets.values()):
        limited = queryset.order_by().values("pk")[: cap + 1]
        sql, sub_params = limited.query.get_compiler(using=using).as_sql()
        # Django's compiled SQL, its parameters kept apart; the alias is our own counter
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) dd_count_{n})")  # noqa: S608
        params.extend(sub_params)
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {key: int(value) for key, value in zip(querysets, row, strict=True)}


def count_label(count: int, cap: int | None = None) -> int | str:
    """The number to show: the count, or "1,000+" when it is above the cap."""
    cap = TAB_COUNT_CAP if cap is None else cap
    return f"{cap:,}+" if count > cap else count


def order_tab_counts(
    queryset: QuerySet[Order], *, now: dt.datetime | None = None, cap: int | None = None
) -> dict[str, int]:
    """Counts of every tab (and "all") over ``queryset``.

    Exact (``cap=None``): two queries, a plain COUNT for "All" and one aggregate over the open
    states (index on state); their cost grows with the orders. Capped (``cap=n``, the admin
    list): one query reading at most ``n + 1`` rows per tab; a value above ``n`` means "more
    than n" (``count_label``). Below the cap both give the same numbers (tested)."""
    tabs = order_tabs(now=now)
    queryset = queryset.order_by()
    if cap is not None:
        return counts_up_to({"all": queryset, **{key: queryset.filter(cond)
                                                 for key, (_label, cond) in tabs.items()}}, cap=cap)
    aggregates = {key: Count("pk", filter=cond) for key, (_label, cond) in tabs.items()}
    counts: dict[str, int] = queryset.filter(state__in=OPEN_STATES).aggregate(**aggregates)
    counts["all"] = queryset.count()
    return counts


# Above this many merchants a provider's are named by a subquery, not a list of ids.
MERCHANT_ID_LIST_MAX = 500


def order_tab_counts_by_provider(
    queryset: QuerySet[Order] | None = None, *, now: dt.datetime | None = None,
    tabs: Iterable[str] | None = None, cap: int | None = None,
) -> dict[str, dict[str, int]]:
    """provider key -> tab key -> count (the dashboard), for ``tabs`` (default: all).

    Exact (``cap=None``): one aggregate per installed provider over its merchants' orders (the
    merchant/state index). Capped: one query in all, at most ``cap + 1`` rows per number."""
    queryset = (Order.objects.all() if queryset is None else queryset).order_by()
    conditions = order_tabs(now=now)
    wanted = list(conditions) if tabs is None else list(tabs)
    result: dict[str, dict[str, int]] = {}
    if cap is not None:
        querysets: dict[str, QuerySet[Any]] = {}
        # Each provider's merchants by id, as a list: SQLite then reads that provider's orders
        # through the (merchant, state) index; behind a subquery it walked every order for
        # "Needs action" of a provider with few orders (30-80 ms each at 100k orders). A
        # provider without merchants has no orders: not counted.
        ids: dict[str, list[int]] = {}
        for provider, pk in Merchant.objects.order_by().values_list("account__provider", "pk"):
            ids.setdefault(provider, []).append(pk)
        for key in sorted(registry.all_services()):
            many = len(ids.get(key, ())) > MERCHANT_ID_LIST_MAX
            merchants = (Merchant.objects.filter(account__provider=key).values("pk") if many
                         else ids.get(key, []))
            mine = queryset.filter(merchant__in=merchants)
            result[key] = {}
            for tab in wanted:
                providers = tab_providers(tab)
                if key in ids and (providers is None or key in providers):
                    querysets[f"{key}\t{tab}"] = mine.filter(conditions[tab][1])
                else:  # not counted: the planner walked the tab's own providers' orders
                    result[key][tab] = 0
        for name, n in counts_up_to(querysets, cap=cap).items():
            key, tab = name.split("\t")
            result[key][tab] = n
        return result
    aggregates = {tab: Count("pk", filter=conditions[tab][1]) for tab in wanted}
    for key in sorted(registry.all_services()):
        merchants = Merchant.objects.filter(account__provider=key).values("pk")
        result[key] = queryset.filter(merchant__in=merchants, state__in=OPEN_STATES).aggregate(
            **aggregates)
    return result


# Kept for callers of the former name.
TAB_STATES = OPEN_STATES


def raw_status_counts() -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """provider -> raw status -> number of orders (and of items) now there: two grouped
    queries, for the status graphs."""
    orders: dict[str, dict[str, int]] = {}
    for provider, raw, n in (Order.objects.order_by().values_list("merchant__account__provider", "raw_status")
                             .annotate(n=Count("id"))):
        orders.setdefault(provider, {})[raw] = n
    items: dict[str, dict[str, int]] = {}
    for provider, raw, n in (OrderItem.objects.order_by()
                             .values_list("order__merchant__account__provider", "raw_status")
                             .annotate(n=Count("id"))):
        items.setdefault(provider, {})[raw] = n
    return orders, items


# --- the order page's decision: what may be done now, and why not the rest ---------------------
@dataclass(frozen=True)
class OrderAction:
    name: str
    label: str
    allowed: bool
    reason: str = ""  # why not, in a few words (empty when allowed)
    has_form: bool = False


# The buttons of the order page, in this order. Situational ones (reconcile, back to draft,
# accept shortfall) are listed only when they apply.
PAGE_ACTIONS = ("place", "ship", "hold", "release", "complete", "cancel")
SITUATIONAL_ACTIONS = ("reconcile", "reopen", "accept_shortfall")


def _order_transitions() -> dict[str, list[Any]]:
    by_name: dict[str, list[Any]] = {}
    for transition in Order._meta.get_field("state").get_all_transitions(Order):  # type: ignore[attr-defined]
        if transition.custom.get("admin", True):
            by_name.setdefault(transition.name, []).append(transition)
    return by_name


def order_actions(*, order: Order, user: Any) -> list[OrderAction]:
    """Every operator action of the order page: allowed ones first (the buttons), then the
    others, each with the short reason it is not possible now (state, or the provider's table)."""
    from . import labels

    available = {t.name for t in order.get_available_user_state_transitions(user)}  # type: ignore[attr-defined]
    table = order.status_table
    cls = registry.get(order.provider)
    provider = cls.label if cls is not None else order.provider
    actions: list[OrderAction] = []
    for name, transitions in _order_transitions().items():
        if name not in PAGE_ACTIONS and name not in SITUATIONAL_ACTIONS:
            continue
        label = str(transitions[0].custom.get("label") or labels.action_label(name))
        has_form = bool(transitions[0].custom.get("form")) or name == "ship"
        if name in available:
            actions.append(OrderAction(name, label, True, has_form=has_form))
            continue
        if name in SITUATIONAL_ACTIONS:
            continue
        sources = {s for t in transitions for s in ([t.source] if isinstance(t.source, str) else t.source)}
        if name not in table.order_actions and not (name == "cancel" and not order.external_id):
            reason = f"{provider} has no such step"
        elif order.state not in sources and "*" not in sources:
            states = [labels.state_label(s) for s in Lifecycle.ALL if s in sources]
            reason = "Only when " + " or ".join(states)
        else:
            status = labels.order_provider_status(order)
            reason = f"{provider} does not allow it now (provider status {status})"
        actions.append(OrderAction(name, label, False, reason))
    order_key = {n: i for i, n in enumerate((*SITUATIONAL_ACTIONS, *PAGE_ACTIONS))}
    return sorted(actions, key=lambda a: (not a.allowed, order_key.get(a.name, 99)))


# Work the provider is doing for the order right now: the page refreshes itself meanwhile.
def order_work_running(*, order: Order) -> bool:
    if order.state == Lifecycle.PLACING:
        return True
    # a verb queued for the worker (orders.dispatch notes "… queued") and nothing since: the
    # page follows it until the worker records the outcome
    last = (OrderEvent.objects.filter(order_id=order.pk).order_by("-created_at", "-id")
            .values_list("message", "created_at").first())
    if last and last[0].endswith(" queued") and last[1] > timezone.now() - dt.timedelta(minutes=15):
        return True
    cls = registry.get(order.provider)
    # a provider that executes after placement is polled until the order is final (for at
    # most ~2 h: services.EXECUTION_POLL_*); the page follows it while it was recently touched
    return bool(cls is not None and cls.supports("poll_execution") and order.external_id
                and order.state in (Lifecycle.PLACED, Lifecycle.IN_PROGRESS)
                and order.updated_at > timezone.now() - dt.timedelta(hours=2))


# --- reads the API shares with the admin's forms --------------------------------------------
def order_carrier_choices(*, order: Order) -> list[tuple[str, str]] | None:
    """The provider's carriers for shipping ``order`` as (value, label), as the admin's ship
    form offers them; None when the provider keeps no list (any carrier name is taken).
    May call the provider (its own cache first); raises ``ProviderError`` when it fails.
    The worker's read (``tasks.provider_read_task``); a web request asks
    ``dispatch.order_carrier_choices_read``."""
    choices = order_service(order).carrier_choices(order_request(order))
    return list(choices) if choices else None


def order_items_acknowledgeable(*, order: Order) -> list[OrderItem]:
    """The order's items its provider lets us acknowledge now (the admin's "Acknowledge all
    items" button and the API's ``items/acknowledge``)."""
    from django_fsm import can_proceed

    items = list(order.items.all())
    for item in items:
        item.order = order  # the transition condition reads the provider's table
    return [i for i in items if can_proceed(i.acknowledge)]
