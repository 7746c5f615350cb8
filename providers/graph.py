"""Draw a provider's status table as SVG (pure Python, no graphviz needed).

The drawing reads the same ``StatusTable`` the model transitions enforce: one box per raw
status (label, code, canonical state), one arrow per allowed next status. Layout: statuses
are put in columns by the longest path from a start status, so the usual flow reads left to
right; the arrows that close a cycle (hold -> acknowledge -> hold, say) are dashed and run
through lanes below the boxes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping
from xml.sax.saxutils import escape

from .statuses import RawStatus, StatusTable

BOX_W, BOX_H = 190, 50
COL_GAP, ROW_GAP = 70, 26
MARGIN = 30

STATE_COLOURS = {
    # orders
    "draft": "#6c757d", "placing": "#0d6efd", "placed": "#0d6efd", "in_progress": "#0aa2c0",
    "partially_shipped": "#6f42c1", "shipped": "#198754", "completed": "#146c43",
    "placement_unknown": "#fd7e14", "failed": "#dc3545", "on_hold": "#c79100",
    "cancelled": "#495057", "expired": "#8f979e",
    # items
    "new": "#6c757d", "acknowledged": "#0d6efd", "returned": "#6f42c1",
}


def _layout(statuses: Mapping[str, RawStatus]) -> tuple[dict[str, int], dict[int, list[str]],
                                                       set[tuple[str, str]]]:
    """Columns by longest path over the graph with its cycles broken (the arrows that close
    a cycle are "back" arrows, drawn dashed below); rows ordered to limit crossings."""
    codes = list(statuses)
    succ = {c: [n for n in (statuses[c].next or ()) if n in statuses and n != c] for c in codes}
    has_incoming = {n for c in codes for n in succ[c]}
    roots = [c for c in codes if c not in has_incoming] + codes
    colour: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for root in roots:
        if root in colour:
            continue
        stack = [(root, iter(succ[root]))]
        colour[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
            elif colour.get(child) == 1:
                back.add((node, child))
            elif child not in colour:
                colour[child] = 1
                stack.append((child, iter(succ[child])))
    dag = {c: [n for n in succ[c] if (c, n) not in back] for c in codes}
    indegree = {c: 0 for c in codes}
    for c in codes:
        for n in dag[c]:
            indegree[n] += 1
    queue = deque(c for c in codes if indegree[c] == 0)
    layer = {c: 0 for c in codes}
    while queue:
        node = queue.popleft()
        for n in dag[node]:
            layer[n] = max(layer[n], layer[node] + 1)
            indegree[n] -= 1
            if indegree[n] == 0:
                queue.append(n)
    columns: dict[int, list[str]] = {}
    for code in codes:
        columns.setdefault(layer[code], []).append(code)
    row: dict[str, float] = {}
    preds = {c: [p for p in codes if c in dag[p]] for c in codes}
    for col in sorted(columns):
        if col:
            columns[col].sort(key=lambda c: (
                sum(row[p] for p in preds[c]) / len(preds[c]) if preds[c] else 0.0))
        for index, code in enumerate(columns[col]):
            row[code] = index
    return layer, columns, back


def _box_text(status: RawStatus, count: int | None = None) -> tuple[str, str]:
    title = status.label if len(status.label) <= 26 else status.label[:25] + "…"
    state = status.state.replace("_", " ")
    sub = f"{status.code} · {state}" if status.code != status.label else state
    if count is not None:
        sub = f"{sub} · {count}"
    if len(sub) > 30:
        sub = sub[:29] + "…"
    return title, sub


def status_table_svg(table: StatusTable, *, items: bool = False,
                     counts: Mapping[str, int] | None = None, current: Collection[str] = ()) -> str:
    """The table's order (or item) statuses and allowed moves as an inline SVG string.

    ``counts``: orders (items) now in each raw status, shown in its box; ``current``: the raw
    statuses of the order being looked at, framed thick ("you are here"). The drawing scales
    to its container (viewBox), never wider than its natural size."""
    statuses = table.item_statuses if items else table.order_statuses
    if not statuses:
        return '<p class="dd-graph-empty">No statuses declared.</p>'
    _layer, columns, back = _layout(statuses)
    pos: dict[str, tuple[int, int]] = {}
    for col, codes in columns.items():
        for row, code in enumerate(codes):
            pos[code] = (MARGIN + col * (BOX_W + COL_GAP), MARGIN + 20 + row * (BOX_H + ROW_GAP))
    n_cols = max(columns) + 1
    n_rows = max(len(c) for c in columns.values())
    boxes_bottom = MARGIN + 20 + n_rows * BOX_H + (n_rows - 1) * ROW_GAP
    n_back = sum(1 for code, nxt in table.edges(items=items) if (code, nxt) in back)
    width = MARGIN * 2 + n_cols * BOX_W + (n_cols - 1) * COL_GAP
    height = boxes_bottom + MARGIN + 12 * n_back + 10
    marker = f"dd-arrow-{table.provider}-{'i' if items else 'o'}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dd-graph" width="100%" '
        f'style="max-width:{width}px;height:auto" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(table.provider)} {"item" if items else "order"} status graph">',
        "<defs>"
        f'<marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
    ]
    if all(st.next is None for st in statuses.values()):
        parts.append(
            f'<text class="dd-not-published" x="{MARGIN}" y="{MARGIN + 6}" fill="#555" '
            'font-family="sans-serif" font-size="12">Next statuses: not published by the '
            "provider (no arrows); each box lists the actions allowed there.</text>")
    # arrows first, boxes on top
    lane = 0
    for code, nxt in table.edges(items=items):
        if nxt not in pos or code not in pos:
            continue
        (x1, y1), (x2, y2) = pos[code], pos[nxt]
        dashed = ""
        if code == nxt:
            cx, cy = x1 + BOX_W - 20, y1
            d = f"M{cx},{cy} C{cx},{cy - 22} {cx + 30},{cy - 22} {cx + 20},{cy}"
        elif (code, nxt) not in back:
            sx, sy, ex, ey = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
            mid = (sx + ex) / 2
            d = f"M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}"
        else:  # an arrow closing a cycle: dashed, through a lane below all boxes
            lane += 1
            dip = boxes_bottom + 8 + 12 * lane
            sx, sy = x1 + BOX_W // 2 + 10, y1 + BOX_H
            ex, ey = x2 + BOX_W // 2 - 10, y2 + BOX_H
            d = (f"M{sx},{sy} L{sx},{dip - 6} Q{sx},{dip} {sx - 6 if ex < sx else sx + 6},{dip} "
                 f"L{ex + 6 if ex < sx else ex - 6},{dip} Q{ex},{dip} {ex},{dip - 6} L{ex},{ey}")
            dashed = ' stroke-dasharray="5,3"'
        parts.append(
            f'<path class="dd-edge" data-from="{escape(code)}" data-to="{escape(nxt)}" d="{d}" '
            f'fill="none" stroke="#555" stroke-width="1.3"{dashed} '
            f'marker-end="url(#{marker})"><title>{escape(code)} → {escape(nxt)}</title></path>'
        )
    for code, status in statuses.items():
        x, y = pos[code]
        colour = STATE_COLOURS.get(status.state, "#6c757d")
        title, sub = _box_text(status, None if counts is None else counts.get(code, 0))
        extra = ""
        here = code in current
        if here:
            extra += (f'<rect x="{x - 6}" y="{y - 6}" width="{BOX_W + 12}" height="{BOX_H + 12}" '
                      'rx="12" fill="none" stroke="#f59e0b" stroke-width="4"/>'
                      f'<text x="{x + BOX_W / 2}" y="{y - 10}" text-anchor="middle" fill="#b45309" '
                      'font-family="sans-serif" font-size="11" font-weight="bold">this order</text>')
        if status.final:
            extra += (f'<rect x="{x - 3}" y="{y - 3}" width="{BOX_W + 6}" height="{BOX_H + 6}" '
                      f'rx="10" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        flag = " $" if status.awaiting_payment else ""
        actions = ("not published" if status.actions is None
                   else ", ".join(sorted(status.actions)) or "none")
        parts.append(
            f'<g class="dd-node{" dd-current" if here else ""}" data-code="{escape(code)}" '
            f'data-state="{escape(status.state)}" data-actions="{escape(actions)}" '
            f'data-next="{"not-published" if status.next is None else escape(" ".join(status.next))}"'
            f'{"" if counts is None else f" data-count={chr(34)}{counts.get(code, 0)}{chr(34)}"}>'
            f"<title>{escape(status.label)} ({escape(code)}): canonical state "
            f"{escape(status.state)}{' — final' if status.final else ''}"
            f"{' — awaiting payment' if status.awaiting_payment else ''}"
            f"{' — ' + escape(status.description) if status.description else ''}"
            f" — allowed: {escape(actions)}"
            f"{' — next statuses: not published' if status.next is None else ''}</title>{extra}"
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{colour}"/>'
            f'<text x="{x + BOX_W / 2}" y="{y + 19}" text-anchor="middle" fill="#fff" '
            f'font-family="sans-serif" font-size="13" font-weight="bold">'
            f"{escape(title)}{flag}</text>"
            f'<text x="{x + BOX_W / 2}" y="{y + 36}" text-anchor="middle" fill="#fff" '
            f'font-family="monospace" font-size="11">{escape(sub)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
