"""Participant roles (the ParticipantRegistry's role bits) and permit kinds (the PermitRegistry's enum)."""

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


class PermitKind(StrEnum):
    """Kinds of authorisation, in the order of the permit registry's PermitKind enum (from 1)."""

    ENVIRONMENTAL_PERMIT = "ENVIRONMENTAL_PERMIT"
    HW_TRANSPORT_LICENCE = "HW_TRANSPORT_LICENCE"
    LAB_ACCREDITATION = "LAB_ACCREDITATION"

    @property
    def code(self) -> int:
        return list(PermitKind).index(self) + 1

    @classmethod
    def of(cls, code: int) -> "PermitKind":
        return list(cls)[code - 1]
