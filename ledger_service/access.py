"""Who may see which records: the read side of the access rules.

- A regulator sees everything.
- A park operator sees every record one of its park's participants is party to.
- Any other participant sees its own records and the transfers it is party to: a transfer it shipped,
  received or carried; a lot it holds or generated, that one of its transfers took or opened, or that it
  certified (a lab); a certificate it issued or that is of a lot it can see; a processing it recorded; a
  metered flow it supplies or takes.

The directory (participants, the waste-code catalogue, permits) is open to every signed-in participant:
a shipper must find its receiver and the receiver's permit. Writes need no rule here: every state change
is a statement its party signed, and the contracts check the party's standing.

Each rule is a SQL condition, so that lists are filtered in the database (with stable paging) and a single
record is checked with the same condition.
"""

from sqlalchemy import ColumnElement, Select, String, cast, or_, select, true
from sqlalchemy.orm import Session

from ledger_service.api.deps import Party
from ledger_service.db.models import Certificate, Lot, MeteredFlow, Participant, Processing, Transfer
from ledger_service.roles import Role


def _members(party: Party) -> Select[tuple[str]] | None:
    """The addresses whose records the party may see (a subquery), or None for all of them."""
    if party.has(Role.REGULATOR):
        return None
    if party.has(Role.PARK_OPERATOR) and party.park:
        return select(Participant.address).where(Participant.park == party.park)
    return select(Participant.address).where(Participant.address == party.address)


def _carried_by(members: Select[tuple[str]]) -> ColumnElement[bool]:
    # The transporters are a JSON list of checksummed addresses: matched as text, the same on SQLite and
    # PostgreSQL, for each member.
    return (
        select(Participant.address)
        .where(
            Participant.address.in_(members),
            cast(Transfer.transporters, String).contains(Participant.address),
        )
        .exists()
    )


def transfers_visible_to(party: Party) -> ColumnElement[bool]:
    members = _members(party)
    if members is None:
        return true()
    return or_(Transfer.shipper.in_(members), Transfer.receiver.in_(members), _carried_by(members))


def lots_visible_to(party: Party) -> ColumnElement[bool]:
    members = _members(party)
    if members is None:
        return true()
    touching = select(Transfer.id).where(transfers_visible_to(party))
    return or_(
        Lot.holder.in_(members),
        Lot.id.in_(touching),  # a lot a visible transfer opened (its id is the transfer's)
        Lot.id.in_(select(Transfer.lot_id).where(transfers_visible_to(party))),  # or took from
        Lot.id.in_(select(Certificate.lot_id).where(Certificate.lab.in_(members))),  # a lot its lab certified
    )


def certificates_visible_to(party: Party) -> ColumnElement[bool]:
    members = _members(party)
    if members is None:
        return true()
    return or_(
        Certificate.lab.in_(members), Certificate.lot_id.in_(select(Lot.id).where(lots_visible_to(party)))
    )


def visible(session: Session, key: ColumnElement[bool], rule: ColumnElement[bool]) -> bool:
    """Whether the record `key` selects passes `rule` (both conditions on the same table)."""
    return session.scalar(select(true()).where(key, rule).limit(1)) is not None


def processings_visible_to(party: Party) -> ColumnElement[bool]:
    members = _members(party)
    return true() if members is None else Processing.processor.in_(members)


def flows_visible_to(party: Party) -> ColumnElement[bool]:
    members = _members(party)
    return (
        true()
        if members is None
        else or_(MeteredFlow.supplier.in_(members), MeteredFlow.offtaker.in_(members))
    )
