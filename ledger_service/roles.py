"""Participant roles: the bit values of the ParticipantRegistry contract's role constants."""

from enum import StrEnum


class Role(StrEnum):
    REGULATOR = "REGULATOR"
    PARK_OPERATOR = "PARK_OPERATOR"
    SHIPPER = "SHIPPER"
    RECEIVER = "RECEIVER"
    TRANSPORTER = "TRANSPORTER"
    LAB = "LAB"

    @property
    def bit(self) -> int:
        return 1 << list(Role).index(self)


def roles_mask(roles: list[Role]) -> int:
    mask = 0
    for role in roles:
        mask |= role.bit
    return mask


def role_names(mask: int) -> list[str]:
    return [role.value for role in Role if mask & role.bit]
