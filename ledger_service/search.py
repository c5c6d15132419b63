"""Search: the filters of the transfer and lot lists, as SQL conditions on the listed table.

The routes AND these with the caller's visibility rule (ledger_service.access), so a filter narrows what
the caller may see and never widens it, and `total` counts what matched. Lists are in a stable order:
transfers by dispatch block then id, lots by creation block then id.

Times are the block timestamps the indexer records (a transfer's dispatch, a lot's opening). A bound given
as a bare date covers that whole day (UTC): `..._from=2025-03-01&..._until=2025-03-31` is all of March. A
date-time without an offset is UTC; both bounds are inclusive.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, String, cast, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import CodeFilter, LotQuery, Moment, Paging, TransferQuery
from ledger_service.db.models import Lot, LotLineage, Participant, Transfer, WasteCode
from ledger_service.statements import code_key

_Row = TypeVar("_Row")


def page(
    session: Session,
    model: type[_Row],
    where: list[ColumnElement[bool]],
    order: Sequence[Any],
    paging: Paging,
) -> tuple[Sequence[_Row], int]:
    """One page of the rows of `model` that meet every condition, in `order`, and how many meet them."""
    total = session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    rows = session.scalars(
        select(model).where(*where).order_by(*order).offset(paging.offset).limit(paging.limit)
    ).all()
    return rows, total


def transfer_filters(session: Session, q: TransferQuery) -> list[ColumnElement[bool]]:
    where = _code_filters(session, q, Transfer.code_key)
    if q.participant:
        where.append(_party_to_transfer(q.participant))
    if q.shipper:
        where.append(Transfer.shipper == q.shipper)
    if q.receiver:
        where.append(Transfer.receiver == q.receiver)
    if q.park:
        members = _park(q.park)
        where.append(or_(Transfer.shipper.in_(members), Transfer.receiver.in_(members)))
    if q.status:
        where.append(Transfer.status.in_(q.status))
    where += _period(Transfer.dispatched_at, q.dispatched_from, q.dispatched_until, "dispatched")
    return where


def lot_filters(session: Session, q: LotQuery) -> list[ColumnElement[bool]]:
    where = _code_filters(session, q, Lot.code_key)
    if q.holder:
        where.append(Lot.holder == q.holder)
    if q.generator:
        where += [Lot.holder == q.generator, Lot.origin == "generated"]
    if q.participant:
        # A received lot's id is the transfer that opened it; a transfer's lot_id is the lot it took from.
        transfers = _party_to_transfer(q.participant)
        where.append(
            or_(
                Lot.holder == q.participant,
                Lot.id.in_(select(Transfer.id).where(transfers)),
                Lot.id.in_(select(Transfer.lot_id).where(transfers)),
            )
        )
    if q.park:
        where.append(Lot.holder.in_(_park(q.park)))
    if q.origin:
        where.append(Lot.origin == q.origin)
    if q.kind:
        produced_as = select(LotLineage.lot_id).where(LotLineage.role == "output", LotLineage.kind == q.kind)
        where.append(Lot.id.in_(produced_as))
    if q.open is not None:
        where.append(Lot.balance > 0 if q.open else Lot.balance <= 0)
    where += _period(Lot.created_at, q.created_from, q.created_until, "created")
    return where


def _code_filters(
    session: Session, q: CodeFilter, column: InstrumentedAttribute[str]
) -> list[ColumnElement[bool]]:
    where = []
    if (q.waste_scheme is None) != (q.waste_code is None):
        missing = "waste_code" if q.waste_code is None else "waste_scheme"
        raise ApiError(
            422,
            "incomplete_waste_code",
            f"give {missing} too: a code is named by scheme and code",
            ["query", missing],
        )
    if q.waste_scheme and q.waste_code:
        key = code_key(q.waste_scheme, q.waste_code)
        if session.get(WasteCode, key) is None:
            raise ApiError(
                422,
                "unknown_waste_code",
                f"waste code {q.waste_scheme} {q.waste_code} is not in the catalogue",
                ["query", "waste_code"],
            )
        where.append(column == key)
    if q.hazardous is not None:
        where.append(column.in_(select(WasteCode.code_key).where(WasteCode.hazardous == q.hazardous)))
    return where


def _party_to_transfer(address: str) -> ColumnElement[bool]:
    # Transporters are a JSON list of checksummed addresses, matched as text (as in ledger_service.access).
    return or_(
        Transfer.shipper == address,
        Transfer.receiver == address,
        cast(Transfer.transporters, String).contains(address),
    )


def _park(park: str) -> Select[tuple[str]]:
    return select(Participant.address).where(Participant.park == park)


@dataclass(frozen=True)
class Period:
    """A period's bounds, each optional: from `start` on, up to `end` (itself included unless it is the
    start of the day after a bare date, which ends the period just before it)."""

    start: datetime | None = None
    end: datetime | None = None
    end_included: bool = True

    def where(self, column: InstrumentedAttribute[datetime]) -> list[ColumnElement[bool]]:
        where = [] if self.start is None else [column >= self.start]
        if self.end is not None:
            where.append(column <= self.end if self.end_included else column < self.end)
        return where


def period(start: Moment | None, end: Moment | None, names: tuple[str, str]) -> Period:
    """The period from `start` to `end` (query parameters `names`); 422 naming the second for an empty one."""
    lower = None if start is None else _instant(start)
    if end is None:
        return Period(lower)
    # A bare date ends where the next day begins; a date-time is the last instant itself.
    whole_day = not isinstance(end, datetime)
    upper = _instant(end + timedelta(days=1)) if whole_day else _instant(end)
    if start is not None and lower is not None and (lower >= upper if whole_day else lower > upper):
        raise ApiError(
            422,
            "empty_period",
            f"{names[0]} {start.isoformat()} is after {names[1]} {end.isoformat()}",
            ["query", names[1]],
        )
    return Period(lower, upper, not whole_day)


def _period(
    column: InstrumentedAttribute[datetime], start: Moment | None, end: Moment | None, name: str
) -> list[ColumnElement[bool]]:
    return period(start, end, (f"{name}_from", f"{name}_until")).where(column)


def _instant(moment: date | datetime) -> datetime:
    if not isinstance(moment, datetime):
        return datetime.combine(moment, time(), UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
