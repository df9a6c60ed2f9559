"""State diagrams as SVG, drawn from the django-fsm-2 transition declarations themselves,
so the picture in admin and in docs/state-diagrams/ cannot drift from the code.

Layout is a small layered drawing: states are ranked by their longest path from the
initial state (edges that lead back, such as retry, are drawn around the side), laid
out top to bottom, and ordered within a rank as their choices are declared. The output
is deterministic: the same FSM gives the same bytes (a test compares the committed
files with a fresh drawing).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

# Colour per state, shared with the admin's state badges; each app adds its machines'
# states when it registers their diagram (register below).
STATE_COLOURS: dict[str, str] = {}
DEFAULT_COLOUR = "#57606a"

NODE_W, NODE_H = 168, 40
H_GAP, V_GAP = 40, 96
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 130, 64, 64


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    name: str
    permission: str | None


@dataclass(frozen=True)
class Machine:
    title: str
    states: list[str]
    initial: str
    edges: list[Edge]


def machine_of(model, field_name: str = "state", title: str | None = None) -> Machine:
    """Read states and transitions from a model's FSMField."""
    field = model._meta.get_field(field_name)
    states = [value for value, _label in field.choices]
    edges = set()
    for transition in field.get_all_transitions(model):
        sources = states if transition.source in ("*", "+") else [transition.source]
        for source in sources:
            if transition.source == "+" and source == transition.target:
                continue
            if transition.target is None:
                continue
            permission = transition.permission if isinstance(transition.permission, str) else (
                "custom" if transition.permission else None)
            edges.add(Edge(str(source), str(transition.target), transition.name, permission))
    order = {state: index for index, state in enumerate(states)}
    return Machine(
        title=title or f"{model._meta.verbose_name} — {field_name}",
        states=states,
        initial=str(field.default),
        edges=sorted(edges, key=lambda e: (order[e.source], order[e.target], e.name)),
    )


def _back_edges(machine: Machine) -> set[Edge]:
    """Edges that close a cycle, found by depth-first search from the initial state."""
    outgoing: dict[str, list[Edge]] = {state: [] for state in machine.states}
    for edge in machine.edges:
        outgoing[edge.source].append(edge)
    back, done, on_path = set(), set(), set()

    def visit(state: str) -> None:
        on_path.add(state)
        for edge in outgoing[state]:
            if edge.target in on_path:
                back.add(edge)
            elif edge.target not in done:
                visit(edge.target)
        on_path.discard(state)
        done.add(state)

    visit(machine.initial)
    for state in machine.states:  # states not reachable from the initial one
        if state not in done:
            visit(state)
    return back


def _ranks(machine: Machine, back: set[Edge]) -> dict[str, int]:
    """Longest forward path from the initial state (so outcomes sit at the bottom)."""
    rank = {state: 0 for state in machine.states}
    forward = [edge for edge in machine.edges if edge not in back]
    for _ in machine.states:  # Bellman-Ford style relaxation on a DAG: |V| rounds suffice
        changed = False
        for edge in forward:
            if rank[edge.target] < rank[edge.source] + 1:
                rank[edge.target] = rank[edge.source] + 1
                changed = True
        if not changed:
            break
    return rank


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


DUMMY_W = 24  # the slot a long edge takes where it crosses a rank
LEGEND_W = 470  # narrowest drawing that fits the legend


def _layers(machine: Machine, back: set[Edge], rank: dict[str, int]):
    """Ranks as ordered rows of states and dummies (one per long edge per crossed rank),
    ordered by the barycentre of their neighbours to cut crossings (Sugiyama)."""
    order = {state: index for index, state in enumerate(machine.states)}
    layers: dict[int, list] = {}
    for state in machine.states:
        layers.setdefault(rank[state], []).append(state)
    chains: dict[Edge, list] = {}
    for edge in machine.edges:
        if edge in back:
            continue
        chain = [edge.source]
        for r in range(rank[edge.source] + 1, rank[edge.target]):
            dummy = ("dummy", edge, r)
            layers[r].append(dummy)
            chain.append(dummy)
        chain.append(edge.target)
        chains[edge] = chain
    up: dict = {}
    down: dict = {}
    for chain in chains.values():
        for a, b in zip(chain, chain[1:]):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)

    def sort_key(layer_index, neighbours):
        position = {item: i for r in layers for i, item in enumerate(layers[r])}

        def key(item):
            near = neighbours.get(item, [])
            centre = sum(position[n] for n in near) / len(near) if near else position[item]
            tie = order[item] if isinstance(item, str) else len(order) + position[item]
            return (centre, tie)
        return key

    for _sweep in range(4):
        for r in sorted(layers)[1:]:
            layers[r].sort(key=sort_key(r, up))
        for r in sorted(layers, reverse=True)[1:]:
            layers[r].sort(key=sort_key(r, down))
    return [layers[r] for r in sorted(layers)], chains


def render_svg(machine: Machine) -> str:
    back = _back_edges(machine)
    rank = _ranks(machine, back)
    rows, chains = _layers(machine, back, rank)

    def item_w(item):
        return NODE_W if isinstance(item, str) else DUMMY_W

    def row_w(row):
        return sum(item_w(item) for item in row) + H_GAP * (len(row) - 1)

    inner_w = max(max(row_w(row) for row in rows), LEGEND_W - 2 * MARGIN_X)
    width = inner_w + 2 * MARGIN_X
    height = MARGIN_TOP + len(rows) * NODE_H + (len(rows) - 1) * V_GAP + MARGIN_BOTTOM

    pos: dict = {}  # top-left corner of each box or dummy slot
    for r, row in enumerate(rows):
        x = MARGIN_X + (inner_w - row_w(row)) / 2
        for item in row:
            pos[item] = (x, MARGIN_TOP + r * (NODE_H + V_GAP))
            x += item_w(item) + H_GAP

    def centre_x(item):
        return pos[item][0] + item_w(item) / 2

    # Spread the ends of several edges along a box's bottom (exits) or top (entries).
    exit_at: dict = {}
    exit_index: dict = {}
    entry_at: dict = {}
    for state in machine.states:
        leaving = sorted((e for e in chains if e.source == state),
                         key=lambda e: (centre_x(chains[e][1]), e.name))
        arriving = sorted((e for e in chains if e.target == state),
                          key=lambda e: (centre_x(chains[e][-2]), e.name))
        for index, edge in enumerate(leaving):
            exit_at[edge] = (index + 1) / (len(leaving) + 1)
            exit_index[edge] = index
        for index, edge in enumerate(arriving):
            entry_at[edge] = (index + 1) / (len(arriving) + 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(width)}" height="{_f(height)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}" font-family="Helvetica, Arial, sans-serif" '
        f'role="img" aria-label="{escape(machine.title)}">',
        f"<title>{escape(machine.title)}</title>",
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
        "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
        "<path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#57606a\"/></marker></defs>",
        f'<rect x="0" y="0" width="{_f(width)}" height="{_f(height)}" fill="#ffffff"/>',
        f'<text x="{_f(width / 2)}" y="28" text-anchor="middle" font-size="16" '
        f'font-weight="bold" fill="#24292f">{escape(machine.title)}</text>',
    ]

    labels = []
    for edge in machine.edges:
        dash = ' stroke-dasharray="6 4"' if edge.permission else ""
        if edge in back:
            # Around the left of every box it would otherwise cross.
            sx, sy = pos[edge.source]
            tx, ty = pos[edge.target]
            low, high = sorted((rank[edge.source], rank[edge.target]))
            left = min(pos[item][0] for r in range(low, high + 1) for item in rows[r])
            bend = left - 70
            y1, y2 = sy + NODE_H / 2, ty + NODE_H / 2
            path = (f"M {_f(sx)} {_f(y1)} C {_f(bend)} {_f(y1)}, {_f(bend)} {_f(y2)}, "
                    f"{_f(tx)} {_f(y2)}")
            lx, ly, anchor = bend + 18, (y1 + y2) / 2, "start"
        else:
            chain = chains[edge]
            points = [(pos[edge.source][0] + NODE_W * exit_at[edge], pos[edge.source][1] + NODE_H)]
            for dummy in chain[1:-1]:
                points.append((centre_x(dummy), pos[dummy][1]))
                points.append((centre_x(dummy), pos[dummy][1] + NODE_H))
            points.append((pos[edge.target][0] + NODE_W * entry_at[edge], pos[edge.target][1]))
            path = f"M {_f(points[0][0])} {_f(points[0][1])}"
            for index in range(1, len(points)):
                (x1, y1), (x2, y2) = points[index - 1], points[index]
                if index % 2:  # between ranks: an S-curve leaving and arriving vertically
                    mid = (y1 + y2) / 2
                    path += f" C {_f(x1)} {_f(mid)}, {_f(x2)} {_f(mid)}, {_f(x2)} {_f(y2)}"
                else:  # through a dummy slot: straight down
                    path += f" L {_f(x2)} {_f(y2)}"
            # The label sits on the first curve, where edges leaving one box have spread
            # apart but not yet met the next rank's; neighbours alternate in height so
            # their labels do not overlap.
            (x1, y1), (x2, y2) = points[0], points[1]
            along = 0.3 if exit_index[edge] % 2 == 0 else 0.62
            lx, ly, anchor = x1 + (x2 - x1) * along, y1 + (y2 - y1) * along, "middle"
        parts.append(f'<path d="{path}" fill="none" stroke="#57606a" stroke-width="1.4"{dash} '
                     f'marker-end="url(#arrow)"><title>{escape(edge.name)}: {escape(edge.source)}'
                     f" → {escape(edge.target)}</title></path>")
        text = edge.name + (" *" if edge.permission else "")
        labels.append(
            f'<text x="{_f(lx)}" y="{_f(ly)}" text-anchor="{anchor}" font-size="11" '
            f'fill="#24292f" stroke="#ffffff" stroke-width="3" paint-order="stroke">'
            f"{escape(text)}</text>")

    terminal = {state for state in machine.states
                if not any(edge.source == state for edge in machine.edges)}
    for state in machine.states:
        x, y = pos[state]
        colour = STATE_COLOURS.get(state, DEFAULT_COLOUR)
        stroke_w = "3" if state == machine.initial else "1.5"
        parts.append(f'<g id="state-{escape(state)}">')
        parts.append(f'<rect x="{_f(x)}" y="{_f(y)}" width="{NODE_W}" height="{NODE_H}" rx="8" '
                     f'fill="{colour}" fill-opacity="0.12" stroke="{colour}" '
                     f'stroke-width="{stroke_w}"/>')
        if state in terminal:
            parts.append(f'<rect x="{_f(x + 3)}" y="{_f(y + 3)}" width="{NODE_W - 6}" '
                         f'height="{NODE_H - 6}" rx="6" fill="none" stroke="{colour}" '
                         f'stroke-width="1"/>')
        parts.append(f'<text x="{_f(x + NODE_W / 2)}" y="{_f(y + NODE_H / 2 + 5)}" '
                     f'text-anchor="middle" font-size="14" fill="#24292f">{escape(state)}</text>')
        parts.append("</g>")
    parts.extend(labels)  # on top of boxes and edges, so they stay readable

    parts.append(
        f'<text x="16" y="{_f(height - 34)}" font-size="11" fill="#57606a">thick border: '
        "initial state · double border: terminal · edges on the left lead back</text>")
    parts.append(
        f'<text x="16" y="{_f(height - 18)}" font-size="11" fill="#57606a">dashed edge and *: '
        "needs an admin permission (operations)</text>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# File name in docs/state-diagrams/ -> (model, title): filled by each app's ready().
_REGISTERED: dict[str, tuple[type, str]] = {}


def register(filename: str, model, *, title: str, colours: dict[str, str]) -> None:
    """Add a state machine to the drawings (admin overview, docs/state-diagrams/)."""
    _REGISTERED[filename] = (model, title)
    STATE_COLOURS.update(colours)


def diagrams() -> dict[str, str]:
    """File name -> SVG of every registered machine, in a stable order."""
    return {filename: render_svg(machine_of(model, title=title))
            for filename, (model, title) in sorted(_REGISTERED.items())}
