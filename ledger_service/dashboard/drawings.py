"""The dashboard's graphs laid out on the server, as shapes its templates write as SVG: a page shows them
without JavaScript, and the script only adds panning, zooming and highlighting.

- A lot's lineage: a layered drawing of the lineage graph (ledger_service.lineage), material flowing left
  to right, each lot, processing and transfer coloured by its worst verdict.
- A park's material flows: a Sankey diagram, supplier → material → receiver, in tonnes.
- Bar charts: a value per label (tonnes per material, a month's tonnes or CO2 avoided).

Pure functions of their inputs: no I/O.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ledger_service.api.schemas import LineageEdge, LineageGraph, LineageNode

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 190, 58, 80, 22, 16
SWEEPS = 4  # barycentre passes ordering each layer: enough for the lineages a page shows
UNJUDGED = "none"


@dataclass(frozen=True)
class Box:
    id: str
    kind: str  # lot | processing | use | open (a transfer that opened no lot)
    x: float
    y: float
    title: str
    lines: tuple[str, ...]
    verdict: str  # a compliance verdict, or UNJUDGED
    href: str | None = None
    start: bool = False
    redacted: bool = False


@dataclass(frozen=True)
class Link:
    id: str
    kind: str  # transfer | input | output | use
    source: str
    target: str
    path: str  # SVG path data
    verdict: str
    label: str
    label_at: tuple[float, float]
    href: str | None = None


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    boxes: tuple[Box, ...]
    links: tuple[Link, ...]


def short(hex_id: str) -> str:
    return f"{hex_id[:8]}…{hex_id[-4:]}" if len(hex_id) > 14 else hex_id


def lineage(
    graph: LineageGraph,
    verdicts: Mapping[str, str],
    names: Mapping[str, str],
    units: Mapping[str, str],
) -> Drawing:
    """`verdicts` by finding subject ("lot 0x…", "transfer 0x…", "processing 0x…"); `names` a party's name
    by address; `units` a lot's unit by lot id (the graph's nodes carry their waste code's)."""
    nodes: dict[str, LineageNode | None] = {n.id: n for n in graph.nodes}
    edges: list[tuple[LineageEdge, str]] = []
    for edge in graph.edges:
        target = edge.target
        if target is None:  # not received, or wholly refused: the transfer ends in a box of its own
            target = f"open:{edge.id}"
            nodes[target] = None
        edges.append((edge, target))
    order = _layers(list(nodes), [(e.source, t) for e, t in edges])
    place = _places(order)
    boxes = tuple(
        _box(node_id, nodes[node_id], place[node_id], graph, verdicts, names, edges) for node_id in nodes
    )
    links = tuple(_link(e, t, place, verdicts, units) for e, t in edges)
    columns = max(len(order), 1)
    rows = max((len(layer) for layer in order), default=1)
    return Drawing(
        width=2 * MARGIN + columns * NODE_W + (columns - 1) * GAP_X,
        height=2 * MARGIN + rows * NODE_H + (rows - 1) * GAP_Y,
        boxes=boxes,
        links=links,
    )


def _layers(ids: list[str], arcs: list[tuple[str, str]]) -> list[list[str]]:
    """Each node's layer is its longest path from a source; each layer ordered by its neighbours'
    average place (barycentre), sweeping down and up."""
    successors: dict[str, list[str]] = defaultdict(list)
    predecessors: dict[str, list[str]] = defaultdict(list)
    for source, target in arcs:
        successors[source].append(target)
        predecessors[target].append(source)
    rank = {i: 0 for i in ids}
    # Material moves forward in time, so the graph has no cycle; the bound keeps a malformed one finite.
    for _ in range(len(ids)):
        changed = False
        for source, target in arcs:
            if rank[target] < rank[source] + 1:
                rank[target], changed = rank[source] + 1, True
        if not changed:
            break
    layers: list[list[str]] = [[] for _ in range(max(rank.values(), default=0) + 1)]
    for i in ids:
        layers[rank[i]].append(i)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        sequence = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for r in sequence:
            neighbours = predecessors if down else successors
            position = {n: p for p, n in enumerate(layers[r - 1 if down else r + 1])}
            layers[r].sort(key=lambda n: _barycentre(n, neighbours, position))
    return layers


def _barycentre(node: str, neighbours: Mapping[str, list[str]], position: Mapping[str, int]) -> float:
    places = [position[n] for n in neighbours.get(node, ()) if n in position]
    return sum(places) / len(places) if places else float("inf")


def _places(layers: list[list[str]]) -> dict[str, tuple[float, float]]:
    tallest = max((len(layer) for layer in layers), default=1)
    place = {}
    for r, layer in enumerate(layers):
        offset = (tallest - len(layer)) * (NODE_H + GAP_Y) / 2  # each column centred on the tallest
        for i, node in enumerate(layer):
            place[node] = (MARGIN + r * (NODE_W + GAP_X), MARGIN + offset + i * (NODE_H + GAP_Y))
    return place


def _box(
    node_id: str,
    node: LineageNode | None,
    at: tuple[float, float],
    graph: LineageGraph,
    verdicts: Mapping[str, str],
    names: Mapping[str, str],
    edges: list[tuple[LineageEdge, str]],
) -> Box:
    x, y = at
    if node is None:
        edge = next(e for e, t in edges if t == node_id)
        status = (edge.status or "not received").replace("_", " ")
        return Box(node_id, "open", x, y, "no lot opened", (status,), UNJUDGED)
    verdict = verdicts.get(f"{node.kind} {node.id}", UNJUDGED)
    start = node.id == graph.lot_id
    title = f"{node.kind} {short(node.id)}"
    if node.redacted:
        return Box(
            node.id, node.kind, x, y, title, ("not yours to see",), verdict, start=start, redacted=True
        )
    lines: list[str] = []
    if node.kind == "lot":
        code = f"{node.waste.scheme} {node.waste.code}" if node.waste else ""
        unit = node.waste.unit if node.waste else ""
        lines = [f"{code} · {node.origin or ''}", f"{node.balance:,}/{node.quantity:,} {unit} left"]
        lines.append(names.get(node.holder or "", short(node.holder or "")))
        href = f"/dashboard/lots/{node.id}"
    elif node.kind == "processing":
        lines = [f"in {node.input_grams or 0:,} g · out {node.output_grams or 0:,} g"]
        lines.append(names.get(node.processor or "", short(node.processor or "")))
        href = None
    else:
        lines = [node.use or "final use", names.get(node.holder or "", short(node.holder or ""))]
        href = None
    return Box(node.id, node.kind, x, y, title, tuple(lines), verdict, href, start)


def _link(
    edge: LineageEdge,
    target: str,
    place: Mapping[str, tuple[float, float]],
    verdicts: Mapping[str, str],
    units: Mapping[str, str],
) -> Link:
    (x1, y1), (x2, y2) = place[edge.source], place[target]
    sx, sy, tx, ty = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
    bend = max((tx - sx) / 2, 20)
    path = f"M{sx:.1f},{sy:.1f} C{sx + bend:.1f},{sy:.1f} {tx - bend:.1f},{ty:.1f} {tx:.1f},{ty:.1f}"
    subject = {"transfer": "transfer", "input": "processing", "output": "processing"}.get(edge.kind)
    verdict = verdicts.get(f"{subject} {edge.id}", UNJUDGED) if subject else UNJUDGED
    if edge.redacted or edge.quantity is None:
        label = edge.kind
    elif edge.kind == "transfer":
        label = f"{edge.quantity:,} {units.get(edge.source, '')}".strip()
    else:
        label = f"{edge.quantity:,}"
    href = f"/dashboard/transfers/{edge.id}" if edge.kind == "transfer" and not edge.redacted else None
    middle = ((sx + tx) / 2, (sy + ty) / 2 - 4)
    return Link(edge.id, edge.kind, edge.source, target, path, verdict, label, middle, href)


# --- Sankey ----------------------------------------------------------------------------------------------

SANKEY_W, SANKEY_LABELS, SANKEY_BAR, SANKEY_GAP, SANKEY_MIN = 1100, 210, 14, 10, 2.0


@dataclass(frozen=True)
class Flow:
    source: str  # the supplier's name
    material: str
    target: str  # the receiver's name
    tonnes: float


@dataclass(frozen=True)
class Band:
    x: float
    y: float
    height: float
    label: str
    tonnes: float
    column: int  # 0 suppliers, 1 materials, 2 receivers


@dataclass(frozen=True)
class Ribbon:
    path: str
    material: str
    tonnes: float
    title: str
    colour: int  # the material's index: its colour class


@dataclass
class Sankey:
    width: float
    height: float
    bands: list[Band] = field(default_factory=list)
    ribbons: list[Ribbon] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)


def sankey(flows: Sequence[Flow], height: float = 420) -> Sankey:
    """Supplier → material → receiver, band heights and ribbon widths in proportion to tonnes."""
    flows = [f for f in flows if f.tonnes > 0]
    drawing = Sankey(SANKEY_W, height)
    if not flows:
        return drawing
    columns: list[dict[str, float]] = [defaultdict(float), defaultdict(float), defaultdict(float)]
    for f in flows:
        columns[0][f.source] += f.tonnes
        columns[1][f.material] += f.tonnes
        columns[2][f.target] += f.tonnes
    total = sum(f.tonnes for f in flows)
    most = max(len(c) for c in columns)
    scale = (height - 2 * MARGIN - (most - 1) * SANKEY_GAP) / total
    drawing.materials = sorted(columns[1], key=lambda m: -columns[1][m])
    xs = (
        MARGIN + SANKEY_LABELS,
        SANKEY_W / 2 - SANKEY_BAR / 2,
        SANKEY_W - MARGIN - SANKEY_LABELS - SANKEY_BAR,
    )
    tops: list[dict[str, float]] = []
    for c, column in enumerate(columns):
        y, top = float(MARGIN), {}
        for label in sorted(column, key=lambda k: -column[k]):
            band = max(column[label] * scale, SANKEY_MIN)
            drawing.bands.append(Band(xs[c], y, band, label, round(column[label], 3), c))
            top[label] = y
            y += band + SANKEY_GAP
        tops.append(top)
    # Each ribbon takes the next slice of its bands, in the order of the bands at its other end.
    offsets: list[dict[str, float]] = [defaultdict(float) for _ in range(4)]
    stages = ((0, 1, lambda f: (f.source, f.material)), (1, 2, lambda f: (f.material, f.target)))
    for left, right, ends in stages:
        merged: dict[tuple[str, str, str], float] = defaultdict(float)
        for f in flows:
            merged[(*ends(f), f.material)] += f.tonnes
        for (a, b, material), tonnes in sorted(
            merged.items(), key=lambda i: (tops[left][i[0][0]], tops[right][i[0][1]])
        ):
            width = max(tonnes * scale, SANKEY_MIN / 2)
            y1 = tops[left][a] + offsets[2 * left][a]
            y2 = tops[right][b] + offsets[2 * left + 1][b]
            offsets[2 * left][a] += width
            offsets[2 * left + 1][b] += width
            x1, x2 = xs[left] + SANKEY_BAR, xs[right]
            mid = (x1 + x2) / 2
            path = (
                f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f} "
                f"L{x2:.1f},{y2 + width:.1f} C{mid:.1f},{y2 + width:.1f} {mid:.1f},{y1 + width:.1f} "
                f"{x1:.1f},{y1 + width:.1f} Z"
            )
            title = f"{a} → {b}: {tonnes:,.3f} t"
            drawing.ribbons.append(
                Ribbon(path, material, round(tonnes, 3), title, drawing.materials.index(material))
            )
    return drawing


# --- bar charts ------------------------------------------------------------------------------------------

BAR_W, BAR_LABEL, BAR_H = 560, 220, 22


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    y: float
    width: float


@dataclass(frozen=True)
class BarChart:
    title: str
    unit: str
    width: float
    height: float
    label_width: float
    bars: tuple[Bar, ...]


def bar_chart(title: str, unit: str, values: Sequence[tuple[str, float]]) -> BarChart:
    """Horizontal bars, longest for the largest value; a label and its value beside each. Nothing but
    zeros draws no bars: the page says there is nothing to chart."""
    if not any(v for _, v in values):
        values = []
    top = max((v for _, v in values), default=0) or 1
    bars = tuple(
        Bar(label, value, MARGIN + i * (BAR_H + 6), (BAR_W - BAR_LABEL - 90) * value / top)
        for i, (label, value) in enumerate(values)
    )
    return BarChart(title, unit, BAR_W, 2 * MARGIN + len(bars) * (BAR_H + 6), BAR_LABEL, bars)
