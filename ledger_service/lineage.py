"""A lot's lineage as a graph: where its material came from and where it went.

Nodes are lots, processings and final uses; edges are transfers (the lot a transfer took from → the lot
its receipt opened, or no lot while it is not received or was wholly rejected), a processing's inputs
(lot → processing) and outputs (processing → lot), and final uses (lot → use). A return carries the refused
part of a rejected transfer from the lot that transfer took from to the lot the return's receipt opens,
and names the rejected transfer (`return_of`).

From the start lot the graph is followed in two directions, each away from it only: upstream to the
generated lots (and the external inputs their processings name), downstream to the final uses. Siblings
are left out: another receiver of an upstream lot is not this lot's lineage. `depth` bounds the links
followed in each direction and `max_nodes` the nodes; `truncated` tells when either left links out.

Redaction. Whoever may see the start lot sees the graph's whole shape: every node's id and kind, every
edge's id, kind and ends. The details of a node or an edge are told only to a caller who may see its
record under ledger_service.access: a lot under `lots_visible_to`, a transfer under
`transfers_visible_to`, a processing (and its input and output edges) under `processings_visible_to`,
and a final use as its lot. Parties, quantities, codes and transactions of the others come back as
`redacted: true`. The shape is told because a regulator's or a firm's question "where did this go" is
answered by it, while who holds what stays with those the access rules name.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, literal_column, or_, select
from sqlalchemy.orm import Bundle, InstrumentedAttribute, Session

from ledger_service.access import lots_visible_to, processings_visible_to, transfers_visible_to
from ledger_service.api.deps import Party
from ledger_service.api.schemas import ExternalInputOut, LineageEdge, LineageGraph, LineageNode, Waste
from ledger_service.api.views import waste
from ledger_service.db.models import Lot, LotLineage, LotUse, Processing, Rejection, Transfer

LOT, PROCESSING, USE = "lot", "processing", "use"
CHUNK = 5_000  # ids in one IN list: well under SQLite's 32,766 bound parameters
Node = tuple[str, str]  # (kind, id)


@dataclass(frozen=True)
class Edge:
    kind: str  # transfer | input | output | use
    id: str  # the transfer, processing or use
    source: str
    target: str | None
    quantity: int
    next: Node | None  # the node this edge leads to, away from the start


EdgeKey = tuple[str, str, str, str | None]


def _key(edge: Edge) -> EdgeKey:
    return edge.kind, edge.id, edge.source, edge.target


@dataclass
class Lineage:
    """What a traversal reached: each node with its row, and the edges between them."""

    nodes: dict[Node, Any]
    edges: dict[EdgeKey, Edge] = field(default_factory=dict)
    truncated: bool = False
    transfers: dict[str, Transfer] = field(default_factory=dict)  # the transfer edges' rows, as read

    def ids(self, kind: str) -> list[str]:
        return [ident for k, ident in self.nodes if k == kind]

    def transfer_ids(self) -> list[str]:
        return [e.id for e in self.edges.values() if e.kind == "transfer"]


def traverse(session: Session, lot: Lot, depth: int, max_nodes: int, whole: bool = True) -> Lineage:
    """The lineage of `lot`, `depth` links up and down, at most `max_nodes` nodes. Rows are read in bulk a
    level at a time, and chains of transfers ahead of the frontier in one query: a lineage costs a few
    queries per level of processing it passes, whatever its width and however many transfers it has.

    `whole`: each transfer and each lot a receipt opened is read whole, as the graph tells them. Without,
    only what the walk itself needs is read of them (ids, quantities, order, origin), for a caller that
    reads the records itself (a case file): with 10,000 transfers, reading them whole is most of the walk."""
    statements = _WHOLE if whole else _IDS_ONLY
    lineage = Lineage({(LOT, lot.id): lot})
    for walk in (
        _Walk(session, lineage, max_nodes, False, statements),
        _Walk(session, lineage, max_nodes, True, statements),
    ):
        frontier: list[Node] = [(LOT, lot.id)]
        for level in range(depth):
            if not frontier:
                break
            frontier = walk.add(*walk.step(frontier, depth - level))
        # Links past the depth limit (to nodes not in the graph already) were left out.
        if frontier and any(_key(e) not in lineage.edges for e in walk.step(frontier, 1)[0]):
            lineage.truncated = True
    return lineage


def lineage_graph(session: Session, party: Party, lot: Lot, depth: int, max_nodes: int) -> LineageGraph:
    return _render(session, party, lot.id, depth, traverse(session, lot, depth, max_nodes))


# The traversal's queries, built once and given the frontier's ids.
_IDS, _PROCESSINGS = bindparam("ids", expanding=True), bindparam("processings", expanding=True)


class _Some(Bundle[Any]):
    """Some columns of an entity, read as a row with those attributes; None where an outer join found no
    row, as the entity itself would be."""

    def create_row_processor(self, query: Any, procs: Any, labels: Any) -> Any:
        bundle = super().create_row_processor(query, procs, labels)

        def proc(row: Any) -> Any:
            values = bundle(row)
            return None if values[0] is None else values

        return proc


class _Statements:
    """The walk's queries reading transfers (`transfer`: the entity, or some of its columns) and the lots
    their receipts opened (`lot`, likewise)."""

    def __init__(self, transfer: Any, lot: Any) -> None:
        # The transfers whose receipts opened the lots `ids`.
        self.opened_by = (
            select(transfer).where(Transfer.id.in_(_IDS)).order_by(Transfer.dispatch_block, Transfer.id)
        )
        # The transfers from the lots `ids`, each with the lot its receipt opened (none while it is not
        # received or was wholly rejected).
        self.taken_from = (
            select(transfer, lot)
            .outerjoin(Lot, Lot.id == Transfer.id)
            .where(Transfer.lot_id.in_(_IDS))
            .order_by(Transfer.dispatch_block, Transfer.id)
        )
        self.reach = {downstream: _reach(transfer, lot, downstream) for downstream in (True, False)}


def _reach(transfer: Any, lot: Any, downstream: bool) -> Select[Any]:
    """The transfers up to `levels` links from (downstream) or to the lots `ids`, each with its level and
    the lot it opened. Transfers alone make a tree (a received lot has the one transfer that opened it),
    so each is listed once."""
    one = literal_column("1", Integer)
    seed = select(Transfer.id, Transfer.lot_id, one.label("level"))
    seed = seed.where(Transfer.lot_id.in_(_IDS) if downstream else Transfer.id.in_(_IDS))
    reach = seed.cte("reach", recursive=True)
    follow = select(Transfer.id, Transfer.lot_id, reach.c.level + one).join(
        reach, Transfer.lot_id == reach.c.id if downstream else Transfer.id == reach.c.lot_id
    )
    reach = reach.union(follow.where(reach.c.level < bindparam("levels")))
    return (
        select(transfer, lot, reach.c.level)
        .join(reach, Transfer.id == reach.c.id)
        .outerjoin(Lot, Lot.id == Transfer.id)
        .order_by(reach.c.level, Transfer.dispatch_block, Transfer.id)
    )


_WHOLE = _Statements(Transfer, Lot)
_IDS_ONLY = _Statements(
    _Some("transfer", Transfer.id, Transfer.lot_id, Transfer.quantity, Transfer.dispatch_block),
    _Some("lot", Lot.id, Lot.origin),
)
_USES = select(LotUse).where(LotUse.lot_id.in_(_IDS)).order_by(LotUse.declared_at, LotUse.id)
_LINKS = (
    select(LotLineage)
    .where(
        or_(
            LotLineage.lot_id.in_(_IDS) & (LotLineage.role == bindparam("lot_role")),
            LotLineage.processing_id.in_(_PROCESSINGS) & (LotLineage.role == bindparam("processing_role")),
        )
    )
    .order_by(LotLineage.id)
)
_BY_ID = {
    LOT: select(Lot).where(Lot.id.in_(_IDS)),
    PROCESSING: select(Processing).where(Processing.id.in_(_IDS)),
}


class _Walk:
    """One direction of a traversal. It reads chains of transfers ahead of its frontier: `transfers` holds,
    for each lot read ahead, the transfers that took from it (downstream, with the lots they opened) or the
    one that opened it (upstream), and `inputs` the processings a lot went into (downstream)."""

    def __init__(
        self, session: Session, lineage: Lineage, max_nodes: int, downstream: bool, statements: _Statements
    ) -> None:
        self.session, self.lineage, self.max_nodes, self.downstream = session, lineage, max_nodes, downstream
        self.opened_by, self.taken_from = statements.opened_by, statements.taken_from
        self.reach = statements.reach[downstream]
        self.transfers: dict[str, list[tuple[Transfer, Lot | None]]] = {}
        self.inputs: dict[str, list[LotLineage]] = {}

    def step(self, frontier: list[Node], levels: int) -> tuple[list[Edge], dict[Node, Any]]:
        """The edges away from the frontier, and the rows read of the nodes they lead to."""
        return self._down(frontier, levels) if self.downstream else self._up(frontier, levels)

    def add(self, edges: list[Edge], read: dict[Node, Any]) -> list[Node]:
        """Adds the edges and the nodes they lead to (within the node cap); returns the new nodes."""
        lineage = self.lineage
        new: dict[Node, None] = {}  # in the order found
        for edge in edges:
            if edge.next is not None and edge.next not in lineage.nodes and edge.next not in new:
                if len(lineage.nodes) + len(new) >= self.max_nodes:
                    lineage.truncated = True
                    continue
                new[edge.next] = None
            lineage.edges.setdefault(_key(edge), edge)
        missing = [node for node in new if node not in read]
        for kind, query in _BY_ID.items():
            if ids := [i for k, i in missing if k == kind]:
                read.update({(kind, row.id): row for row in self.session.scalars(query, {"ids": ids})})
        lineage.nodes.update({node: read[node] for node in new})
        return list(new)

    def _up(self, frontier: list[Node], levels: int) -> tuple[list[Edge], dict[Node, Any]]:
        lots, processings = _split(frontier)
        received, produced = (self._of_origin(lots, origin) for origin in ("received", "produced"))
        # A received lot's id is that of the transfer whose receipt opened it.
        known, rest = self._read_ahead(received, levels)
        opened_by = [t for lot in known for t, _ in self.transfers[lot]]
        opened_by += self.session.scalars(self.opened_by, {"ids": rest}).all() if rest else []
        self.lineage.transfers.update((t.id, t) for t in opened_by)
        edges = [
            Edge("transfer", t.id, t.lot_id, t.id, t.quantity, (LOT, t.lot_id))
            for t in sorted(opened_by, key=lambda t: (t.dispatch_block, t.id))
        ]
        for link in _links(self.session, produced, "output", processings, "input"):
            p = link.processing_id
            if link.role == "output":
                edges.append(Edge("output", p, p, link.lot_id, int(link.quantity), (PROCESSING, p)))
            else:
                edges.append(Edge("input", p, link.lot_id, p, int(link.quantity), (LOT, link.lot_id)))
        return edges, {}

    def _down(self, frontier: list[Node], levels: int) -> tuple[list[Edge], dict[Node, Any]]:
        lots, processings = _split(frontier)
        # Only a processing's product or by-product lot is put to a final use (Processing.declareUse).
        usable = self._of_origin(lots, "produced")
        known, rest = self._read_ahead(lots, levels)
        taken = [pair for lot in known for pair in self.transfers[lot]]
        taken += self.session.execute(self.taken_from, {"ids": rest}).tuples().all() if rest else []
        self.lineage.transfers.update((t.id, t) for t, _ in taken)
        edges, read = [], {}
        for t, opened in sorted(taken, key=lambda pair: (pair[0].dispatch_block, pair[0].id)):
            target = opened and opened.id
            if opened is not None:
                read[(LOT, opened.id)] = opened
            edges.append(Edge("transfer", t.id, t.lot_id, target, t.quantity, target and (LOT, target)))
        links = [link for lot in known for link in self.inputs[lot]]
        links += _links(self.session, rest, "input", processings, "output")
        for link in sorted(links, key=lambda link: link.id):
            p = link.processing_id
            if link.role == "input":
                edges.append(Edge("input", p, link.lot_id, p, int(link.quantity), (PROCESSING, p)))
            else:
                edges.append(Edge("output", p, p, link.lot_id, int(link.quantity), (LOT, link.lot_id)))
        for use in self.session.scalars(_USES, {"ids": usable}) if usable else []:
            read[(USE, use.id)] = use
            edges.append(Edge("use", use.id, use.lot_id, use.id, int(use.quantity), (USE, use.id)))
        return edges, read

    def _read_ahead(self, lots: list[str], levels: int) -> tuple[list[str], list[str]]:
        """Reads the chains of transfers from (or to) those of `lots` not read yet, `levels` links deep,
        unless there are more than the traversal may take (it then reads them a level at a time); returns
        the lots read ahead and the others."""
        if missing := [lot for lot in lots if lot not in self.transfers]:
            rows = self.session.execute(
                self.reach.limit(self.max_nodes + 1), {"ids": missing, "levels": levels}
            ).all()
            if len(rows) <= self.max_nodes:
                self._keep(missing, rows, levels)
        return [lot for lot in lots if lot in self.transfers], [
            lot for lot in lots if lot not in self.transfers
        ]

    def _keep(self, seeds: list[str], rows: list[Any], levels: int) -> None:
        # Every transfer of a lot is read when the lot is a seed or was reached before the last level.
        before_last = [t.id if self.downstream else t.lot_id for t, _, level in rows if level < levels]
        complete = [*seeds, *before_last]
        self.transfers.update((lot, []) for lot in complete)
        for t, opened, _ in rows:
            self.transfers[t.lot_id if self.downstream else t.id].append((t, opened))
        if self.downstream:
            self.inputs.update((lot, []) for lot in complete)
            for start in range(0, len(complete), CHUNK):
                for link in _links(self.session, complete[start : start + CHUNK], "input", [], "output"):
                    self.inputs[link.lot_id].append(link)

    def _of_origin(self, lots: list[str], origin: str) -> list[str]:
        return [i for i in lots if self.lineage.nodes[(LOT, i)].origin == origin]


def _split(frontier: list[Node]) -> tuple[list[str], list[str]]:
    return [i for k, i in frontier if k == LOT], [i for k, i in frontier if k == PROCESSING]


def _links(
    session: Session, lots: list[str], lot_role: str, processings: list[str], processing_role: str
) -> list[LotLineage]:
    """The lineage links of `lots` in `lot_role` and of `processings` in `processing_role`, in one query."""
    if not lots and not processings:
        return []
    params = {
        "ids": lots,
        "lot_role": lot_role,
        "processings": processings,
        "processing_role": processing_role,
    }
    return list(session.scalars(_LINKS, params))


# --- what the caller is told -----------------------------------------------------------------------------


def _render(session: Session, party: Party, lot_id: str, depth: int, graph: Lineage) -> LineageGraph:
    ids = {kind: [i for k, i in graph.nodes if k == kind] for kind in (LOT, PROCESSING)}
    transfer_ids = [e.id for e in graph.edges.values() if e.kind == "transfer"]
    seen_lots = _visible(session, Lot.id, ids[LOT], lots_visible_to(party))
    seen_processings = _visible(session, Processing.id, ids[PROCESSING], processings_visible_to(party))
    seen_transfers = _visible(session, Transfer.id, transfer_ids, transfers_visible_to(party))

    shown_transfers = {t: graph.transfers[t] for t in transfer_ids if t in seen_transfers}
    details = _Details(session, [i for i in ids[LOT] if i in seen_lots], shown_transfers)
    nodes = []
    for (kind, ident), row in graph.nodes.items():
        # A final use is told to whoever may see its lot.
        shown = (row.lot_id if kind == USE else ident) in (
            seen_processings if kind == PROCESSING else seen_lots
        )
        nodes.append(details.node(kind, row) if shown else LineageNode(id=ident, kind=kind, redacted=True))
    edges = []
    for e in graph.edges.values():
        shown = {
            "transfer": e.id in seen_transfers,
            "use": e.source in seen_lots,
        }.get(e.kind, e.id in seen_processings)
        if not shown:
            edges.append(LineageEdge(id=e.id, kind=e.kind, source=e.source, target=e.target, redacted=True))
        elif e.kind == "transfer":
            edges.append(details.transfer_edge(e))
        else:
            edges.append(
                LineageEdge(id=e.id, kind=e.kind, source=e.source, target=e.target, quantity=e.quantity)
            )
    return LineageGraph(lot_id=lot_id, depth=depth, truncated=graph.truncated, nodes=nodes, edges=edges)


def _visible(
    session: Session, key: InstrumentedAttribute[str], ids: list[str], rule: ColumnElement[bool]
) -> set[str]:
    return set(session.scalars(select(key).where(key.in_(ids), rule))) if ids else set()


class _Details:
    """What the shown nodes and edges tell beyond the traversal's rows, read in a few queries for the whole
    graph rather than one or two per node and edge."""

    def __init__(self, session: Session, lot_ids: list[str], transfers: dict[str, Transfer]) -> None:
        self.session, self.transfers = session, transfers
        self.output_kinds: dict[str, str] = {}
        self.returns_of: dict[str, str] = {}
        for start in range(0, len(lot_ids), CHUNK):
            chunk = lot_ids[start : start + CHUNK]
            self.output_kinds.update(session.execute(_OUTPUT_KINDS, {"ids": chunk}).tuples().all())
        transfer_ids = list(transfers)
        for start in range(0, len(transfer_ids), CHUNK):
            chunk = transfer_ids[start : start + CHUNK]
            self.returns_of.update(session.execute(_RETURNS_OF, {"ids": chunk}).tuples().all())
        self.wastes: dict[str, Waste] = {}

    def waste(self, code_key: str) -> Waste:
        if code_key not in self.wastes:
            self.wastes[code_key] = waste(self.session, code_key)
        return self.wastes[code_key]

    def node(self, kind: str, row: Any) -> LineageNode:
        if kind == LOT:
            return LineageNode(
                id=row.id,
                kind=LOT,
                holder=row.holder,
                waste=self.waste(row.code_key),
                origin=row.origin,
                output_kind=self.output_kinds.get(row.id),
                quantity=row.quantity,
                balance=row.balance,
                document_hash=row.document_hash,
                tx_hash=row.created_tx,
                block_number=row.created_block,
                recorded_at=row.created_at,
            )
        if kind == PROCESSING:
            return LineageNode(
                id=row.id,
                kind=PROCESSING,
                processor=row.processor,
                input_grams=int(row.input_grams),
                output_grams=int(row.output_grams),
                loss_grams=int(row.loss_grams),
                external_inputs=[ExternalInputOut(**e) for e in row.external_inputs],
                document_hash=row.document_hash,
                tx_hash=row.recorded_tx,
                block_number=row.recorded_block,
                recorded_at=row.recorded_at,
            )
        return LineageNode(
            id=row.id,
            kind=USE,
            holder=row.holder,
            quantity=int(row.quantity),
            use=row.use,
            document_hash=row.document_hash,
            tx_hash=row.declared_tx,
            recorded_at=row.declared_at,
        )

    def transfer_edge(self, e: Edge) -> LineageEdge:
        t = self.transfers[e.id]
        return LineageEdge(
            id=t.id,
            kind="transfer",
            source=e.source,
            target=e.target,
            quantity=t.quantity,
            status=t.status,
            shipper=t.shipper,
            receiver=t.receiver,
            transporters=t.transporters,
            operation=t.operation or None,
            received_quantity=t.received_quantity,
            return_of=self.returns_of.get(t.id),
            tx_hash=t.dispatch_tx,
            block_number=t.dispatch_block,
            recorded_at=t.dispatched_at,
            receipt_tx=t.receipt_tx,
        )


_OUTPUT_KINDS = select(LotLineage.lot_id, LotLineage.kind).where(
    LotLineage.lot_id.in_(_IDS), LotLineage.role == "output"
)
_RETURNS_OF = select(Rejection.return_id, Rejection.transfer_id).where(Rejection.return_id.in_(_IDS))
