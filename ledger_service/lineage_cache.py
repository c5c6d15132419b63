"""Lineage graphs kept as answered, while the read model stays as it was."""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.db.models import ChainEvent


class RenderedGraphs:
    """Lineage graphs as answered (JSON), by caller and query, for as long as the read model stays as it
    was: a graph changes only when the indexer applies an event (or rolls one back), and the same graph is
    asked for again and again while a lineage is being looked into. The read model's state is its last chain
    event, row id and block hash: every event applied moves it, and so does every rollback (the events of a
    replaced block go, and those of the block replacing it carry its hash). Blocks without events leave it
    alone: a QBFT chain adds one every few seconds, which would otherwise drop every graph as often."""

    def __init__(self, budget_bytes: int = 64 * 2**20) -> None:
        # Bounded by size, not count: a graph of 2,000 nodes (the most one answer holds) is a megabyte or two.
        self._budget = budget_bytes
        self._lock = threading.Lock()
        self._state: tuple[int, str] | None = None
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0

    def get(self, session: Session, key: Hashable, render: Callable[[], bytes]) -> bytes:
        state = session.execute(_LAST_INDEXED).tuples().first()
        with self._lock:
            if state != self._state:
                self._state, self._bodies, self._size = state, OrderedDict(), 0
            elif (body := self._bodies.get(key)) is not None:
                self._bodies.move_to_end(key)
                return body
        body = render()
        with self._lock:
            if state == self._state and key not in self._bodies and len(body) <= self._budget:
                self._bodies[key] = body
                self._size += len(body)
                while self._size > self._budget:
                    self._size -= len(self._bodies.popitem(last=False)[1])
        return body


_LAST_INDEXED = select(ChainEvent.id, ChainEvent.block_hash).order_by(ChainEvent.id.desc()).limit(1)
