"""Draw a provider's status table as SVG (pure Python, no graphviz needed).

The drawing reads the same ``StatusTable`` the model transitions enforce: one box per raw
status (label, code, canonical state), one arrow per allowed next status. Layout: statuses
are put in columns by their shortest distance from a start status (one without incoming
arrows), so the usual flow reads left to right; arrows that go back or stay in a column
bend around the boxes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from xml.sax.saxutils import escape

from .statuses import RawStatus, StatusTable

BOX_W, BOX_H = 170, 46
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


def _layers(statuses: Mapping[str, RawStatus]) -> dict[str, int]:
    codes = list(statuses)
    edges = {c: [n for n in (statuses[c].next or ()) if n in statuses] for c in codes}
    incoming = {c: 0 for c in codes}
    for c in codes:
        for n in edges[c]:
            if n != c:
                incoming[n] += 1
    layer: dict[str, int] = {}
    roots = [c for c in codes if incoming[c] == 0] or codes[:1]
    pending = list(codes)
    while pending:
        queue = deque((r, 0) for r in roots if r not in layer)
        for r in roots:
            layer.setdefault(r, 0)
        while queue:
            code, depth = queue.popleft()
            for nxt in edges[code]:
                if nxt not in layer:
                    layer[nxt] = depth + 1
                    queue.append((nxt, depth + 1))
        pending = [c for c in codes if c not in layer]
        roots = pending[:1]  # a status nothing leads to from the start: new column 0 root
    return layer


def _box_text(status: RawStatus) -> tuple[str, str]:
    title = status.label if len(status.label) <= 24 else status.label[:23] + "…"
    sub = f"{status.code} → {status.state}"
    if len(sub) > 28:
        sub = sub[:27] + "…"
    return title, sub


def status_table_svg(table: StatusTable, *, items: bool = False) -> str:
    """The table's order (or item) statuses and allowed moves as an inline SVG string."""
    statuses = table.item_statuses if items else table.order_statuses
    if not statuses:
        return '<p class="dd-graph-empty">No statuses declared.</p>'
    layer = _layers(statuses)
    columns: dict[int, list[str]] = {}
    for code in statuses:
        columns.setdefault(layer[code], []).append(code)
    pos: dict[str, tuple[int, int]] = {}
    for col, codes in columns.items():
        for row, code in enumerate(codes):
            pos[code] = (MARGIN + col * (BOX_W + COL_GAP), MARGIN + 20 + row * (BOX_H + ROW_GAP))
    n_cols = max(columns) + 1
    n_rows = max(len(c) for c in columns.values())
    width = MARGIN * 2 + n_cols * BOX_W + (n_cols - 1) * COL_GAP
    height = MARGIN * 2 + 40 + n_rows * BOX_H + (n_rows - 1) * ROW_GAP + 30
    marker = f"dd-arrow-{table.provider}-{'i' if items else 'o'}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dd-graph" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(table.provider)} {"item" if items else "order"} status graph">',
        "<defs>"
        f'<marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
    ]
    # arrows first, boxes on top
    for code, nxt in table.edges(items=items):
        if nxt not in pos or code not in pos:
            continue
        (x1, y1), (x2, y2) = pos[code], pos[nxt]
        if code == nxt:
            cx, cy = x1 + BOX_W - 20, y1
            d = f"M{cx},{cy} C{cx},{cy - 28} {cx + 30},{cy - 28} {cx + 20},{cy}"
        elif layer[nxt] > layer[code]:
            sx, sy, ex, ey = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
            mid = (sx + ex) / 2
            d = f"M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}"
        else:  # backwards or within a column: bend below the boxes
            sx, sy = x1 + BOX_W / 2 + 12, y1 + BOX_H
            ex, ey = x2 + BOX_W / 2 - 12, y2 + BOX_H
            dip = max(sy, ey) + 22 + abs(layer[code] - layer[nxt]) * 6
            d = f"M{sx},{sy} C{sx},{dip} {ex},{dip} {ex},{ey}"
        parts.append(
            f'<path class="dd-edge" data-from="{escape(code)}" data-to="{escape(nxt)}" d="{d}" '
            f'fill="none" stroke="#555" stroke-width="1.3" marker-end="url(#{marker})">'
            f"<title>{escape(code)} → {escape(nxt)}</title></path>"
        )
    for code, status in statuses.items():
        x, y = pos[code]
        colour = STATE_COLOURS.get(status.state, "#6c757d")
        title, sub = _box_text(status)
        extra = ""
        if status.final:
            extra += (f'<rect x="{x - 3}" y="{y - 3}" width="{BOX_W + 6}" height="{BOX_H + 6}" '
                      f'rx="10" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        flag = " $" if status.awaiting_payment else ""
        parts.append(
            f'<g class="dd-node" data-code="{escape(code)}" data-state="{escape(status.state)}">'
            f"<title>{escape(status.label)} ({escape(code)}): canonical state "
            f"{escape(status.state)}{' — final' if status.final else ''}"
            f"{' — awaiting payment' if status.awaiting_payment else ''}</title>{extra}"
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{colour}"/>'
            f'<text x="{x + BOX_W / 2}" y="{y + 19}" text-anchor="middle" fill="#fff" '
            f'font-family="sans-serif" font-size="13" font-weight="bold">'
            f"{escape(title)}{flag}</text>"
            f'<text x="{x + BOX_W / 2}" y="{y + 36}" text-anchor="middle" fill="#fff" '
            f'font-family="monospace" font-size="11">{escape(sub)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
