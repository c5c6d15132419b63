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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from ledger_service.access import lots_visible_to, processings_visible_to, transfers_visible_to
from ledger_service.api.deps import Party
from ledger_service.api.schemas import ExternalInputOut, LineageEdge, LineageGraph, LineageNode
from ledger_service.api.views import waste
from ledger_service.db.models import Lot, LotLineage, LotUse, Processing, Rejection, Transfer

LOT, PROCESSING, USE = "lot", "processing", "use"
Node = tuple[str, str]  # (kind, id)


@dataclass(frozen=True)
class _Edge:
    kind: str  # transfer | input | output | use
    id: str  # the transfer, processing or use
    source: str
    target: str | None
    quantity: int
    next: Node | None  # the node this edge leads to, away from the start


def _key(edge: _Edge) -> tuple[str, str, str, str | None]:
    return edge.kind, edge.id, edge.source, edge.target


@dataclass
class _Graph:
    max_nodes: int
    nodes: dict[Node, Any] = field(default_factory=dict)  # node -> its row
    edges: dict[tuple[str, str, str, str | None], _Edge] = field(default_factory=dict)
    truncated: bool = False

    def add(self, edges: Iterable[_Edge], session: Session) -> list[Node]:
        """Adds the edges and the nodes they lead to (within the node cap); returns the new nodes."""
        new: list[Node] = []
        for edge in edges:
            if edge.next is not None and edge.next not in self.nodes:
                if len(self.nodes) >= self.max_nodes:
                    self.truncated = True
                    continue
                self.nodes[edge.next] = _row(session, edge.next)
                new.append(edge.next)
            self.edges.setdefault(_key(edge), edge)
        return new


def lineage_graph(session: Session, party: Party, lot: Lot, depth: int, max_nodes: int) -> LineageGraph:
    graph = _Graph(max_nodes, {(LOT, lot.id): lot})
    for step in (_upstream, _downstream):
        frontier: list[Node] = [(LOT, lot.id)]
        for _ in range(depth):
            frontier = graph.add(step(session, frontier), session)
        # Links past the depth limit (to nodes not in the graph already) were left out.
        if frontier and any(_key(e) not in graph.edges for e in step(session, frontier)):
            graph.truncated = True
    return _render(session, party, lot.id, depth, graph)


def _upstream(session: Session, frontier: list[Node]) -> list[_Edge]:
    lots, processings = _split(frontier)
    edges = []
    received = [lot_id for lot_id in lots if session.get_one(Lot, lot_id).origin == "received"]
    for t in _rows(session, Transfer, Transfer.id.in_(received), Transfer.dispatch_block, Transfer.id):
        edges.append(_Edge("transfer", t.id, t.lot_id, t.id, t.quantity, (LOT, t.lot_id)))
    for link in _links(session, LotLineage.lot_id, lots, "output"):
        p = link.processing_id
        edges.append(_Edge("output", p, p, link.lot_id, int(link.quantity), (PROCESSING, p)))
    for link in _links(session, LotLineage.processing_id, processings, "input"):
        p = link.processing_id
        edges.append(_Edge("input", p, link.lot_id, p, int(link.quantity), (LOT, link.lot_id)))
    return edges


def _downstream(session: Session, frontier: list[Node]) -> list[_Edge]:
    lots, processings = _split(frontier)
    edges = []
    transfers = _rows(session, Transfer, Transfer.lot_id.in_(lots), Transfer.dispatch_block, Transfer.id)
    opened = set(session.scalars(select(Lot.id).where(Lot.id.in_([t.id for t in transfers]))))
    for t in transfers:
        target = t.id if t.id in opened else None
        edges.append(_Edge("transfer", t.id, t.lot_id, target, t.quantity, target and (LOT, target)))
    for link in _links(session, LotLineage.lot_id, lots, "input"):
        p = link.processing_id
        edges.append(_Edge("input", p, link.lot_id, p, int(link.quantity), (PROCESSING, p)))
    for use in _rows(session, LotUse, LotUse.lot_id.in_(lots), LotUse.declared_at, LotUse.id):
        edges.append(_Edge("use", use.id, use.lot_id, use.id, int(use.quantity), (USE, use.id)))
    for link in _links(session, LotLineage.processing_id, processings, "output"):
        p = link.processing_id
        edges.append(_Edge("output", p, p, link.lot_id, int(link.quantity), (LOT, link.lot_id)))
    return edges


def _split(frontier: list[Node]) -> tuple[list[str], list[str]]:
    return [i for k, i in frontier if k == LOT], [i for k, i in frontier if k == PROCESSING]


def _rows(session: Session, model: type, where: ColumnElement[bool], *order: Any) -> list[Any]:
    return list(session.scalars(select(model).where(where).order_by(*order)))


def _links(
    session: Session, column: InstrumentedAttribute[str], ids: list[str], role: str
) -> list[LotLineage]:
    return _rows(session, LotLineage, column.in_(ids) & (LotLineage.role == role), LotLineage.id)


def _row(session: Session, node: Node) -> Any:
    kind, ident = node
    return session.get_one({LOT: Lot, PROCESSING: Processing, USE: LotUse}[kind], ident)


# --- what the caller is told -----------------------------------------------------------------------------


def _render(session: Session, party: Party, lot_id: str, depth: int, graph: _Graph) -> LineageGraph:
    ids = {kind: [i for k, i in graph.nodes if k == kind] for kind in (LOT, PROCESSING)}
    transfer_ids = [e.id for e in graph.edges.values() if e.kind == "transfer"]
    seen_lots = _visible(session, Lot.id, ids[LOT], lots_visible_to(party))
    seen_processings = _visible(session, Processing.id, ids[PROCESSING], processings_visible_to(party))
    seen_transfers = _visible(session, Transfer.id, transfer_ids, transfers_visible_to(party))

    nodes = []
    for (kind, ident), row in graph.nodes.items():
        # A final use is told to whoever may see its lot.
        shown = (row.lot_id if kind == USE else ident) in (
            seen_processings if kind == PROCESSING else seen_lots
        )
        nodes.append(_node(session, kind, row) if shown else LineageNode(id=ident, kind=kind, redacted=True))
    edges = []
    for e in graph.edges.values():
        shown = {
            "transfer": e.id in seen_transfers,
            "use": e.source in seen_lots,
        }.get(e.kind, e.id in seen_processings)
        if not shown:
            edges.append(LineageEdge(id=e.id, kind=e.kind, source=e.source, target=e.target, redacted=True))
        elif e.kind == "transfer":
            edges.append(_transfer_edge(session, e))
        else:
            edges.append(
                LineageEdge(id=e.id, kind=e.kind, source=e.source, target=e.target, quantity=e.quantity)
            )
    return LineageGraph(lot_id=lot_id, depth=depth, truncated=graph.truncated, nodes=nodes, edges=edges)


def _visible(
    session: Session, key: InstrumentedAttribute[str], ids: list[str], rule: ColumnElement[bool]
) -> set[str]:
    return set(session.scalars(select(key).where(key.in_(ids), rule))) if ids else set()


def _node(session: Session, kind: str, row: Any) -> LineageNode:
    if kind == LOT:
        return LineageNode(
            id=row.id,
            kind=LOT,
            holder=row.holder,
            waste=waste(session, row.code_key),
            origin=row.origin,
            output_kind=session.scalar(
                select(LotLineage.kind).where(LotLineage.lot_id == row.id, LotLineage.role == "output")
            ),
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


def _transfer_edge(session: Session, e: _Edge) -> LineageEdge:
    t = session.get_one(Transfer, e.id)
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
        return_of=session.scalar(select(Rejection.transfer_id).where(Rejection.return_id == t.id)),
        tx_hash=t.dispatch_tx,
        block_number=t.dispatch_block,
        recorded_at=t.dispatched_at,
        receipt_tx=t.receipt_tx,
    )
