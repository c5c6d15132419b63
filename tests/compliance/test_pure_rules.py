"""The pure helpers of compliance/: operation codes as the permit registry stores them, discrepancies."""

import pytest

from compliance.operations import OPERATIONS, operation_names, operations_mask
from compliance.quantities import discrepancy


def test_operation_bits_match_the_contract():
    # SymbiosisLedger's Permits: bit i-1 for Ri (R1..R13), bit 12+i for Di (D1..D15).
    assert operations_mask(["R1"]) == 1 and operations_mask(["R13"]) == 1 << 12
    assert operations_mask(["D1"]) == 1 << 13 and operations_mask(["D15"]) == 1 << 27
    assert operation_names(operations_mask(["D10", "R5", "R12"])) == ["R5", "R12", "D10"]
    assert len(OPERATIONS) == 28


@pytest.mark.parametrize("bad", ["R0", "R14", "D16", "X1", "r5", ""])
def test_unknown_operations_are_refused(bad):
    with pytest.raises(ValueError, match="not an operation code"):
        operations_mask([bad])


def test_discrepancy_is_received_minus_shipped():
    assert discrepancy(24_500, None) is None
    assert discrepancy(24_500, 24_380).delta == -120
    assert discrepancy(1_000, 1_010).delta == 10
