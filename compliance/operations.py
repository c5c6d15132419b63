"""Waste operations: recovery R1-R13 and disposal D1-D15 (WFD Annexes I and II, used in Vietnam's and
the US's permits alike), and the bit mask the permit registry stores them in: bit i-1 for Ri, bit 12+i
for Di."""

OPERATIONS: tuple[str, ...] = tuple(f"R{i}" for i in range(1, 14)) + tuple(f"D{i}" for i in range(1, 16))


def operations_mask(operations: list[str]) -> int:
    mask = 0
    for operation in operations:
        if operation not in OPERATIONS:
            raise ValueError(f"{operation!r} is not an operation code (R1-R13, D1-D15)")
        mask |= 1 << OPERATIONS.index(operation)
    return mask


def operation_names(mask: int) -> list[str]:
    return [op for i, op in enumerate(OPERATIONS) if mask & (1 << i)]
