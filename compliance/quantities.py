"""Quantity reconciliation between what a shipper declared and what a receiver measured.

Quantities are integers in the transfer's unit; nothing here uses floating point, so a verdict is
reproducible bit for bit. Whether a discrepancy is lawful is for a rule pack's tolerance to say.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Discrepancy:
    shipped: int
    received: int

    @property
    def delta(self) -> int:
        """received - shipped: negative when material went missing, positive when more arrived."""
        return self.received - self.shipped


def discrepancy(shipped: int, received: int | None) -> Discrepancy | None:
    """The discrepancy of a transfer, or None while it has not been received."""
    return None if received is None else Discrepancy(shipped, received)
