"""Property tests (hypothesis through brownie's `given`, which reverts the chain between examples).

In a module of their own: brownie's `given` takes its own chain snapshot, which replaces the one
`fn_isolation` reverts to, so state set up for these tests could otherwise leak into the next test.
"""

from brownie.test import given, strategy
from hypothesis import HealthCheck, settings
from typed_statements import MAX_QUANTITY, TransferStatus, plain


# deadline=None: each example sends a transaction, whose latency is not the property under test.
# The function-scoped `transfer_id` is safe to share between examples: `given` reverts the chain to the
# state right after it was dispatched before each example, so every example receives a fresh transfer.
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(received=strategy("uint64", min_value=1, max_value=MAX_QUANTITY))
def test_any_valid_received_quantity_is_recorded_exactly(ledger, receiver, transfer_id, receive, received):
    receive(transfer_id, receiver, received)
    stored = plain(ledger.transfer(transfer_id))
    assert (stored[1], stored[4]) == (TransferStatus.RECEIVED, received)
