"""The compliance engine: pure functions over ledger records (no I/O), shared by the service and the
offline verifier. Numbers from law come from rule packs, never from this code."""
